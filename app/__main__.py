"""``python -m emocam``: the same as the ``emocam`` command."""

from emocam.cli import main

raise SystemExit(main())
