"""``python -m emocam``: the same as the ``emocam`` command."""

from emocam.entry import main

raise SystemExit(main())
