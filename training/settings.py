"""Training settings as files and presets give them: laid over the defaults, each value
checked against its setting's type, so a mistake in a YAML file is one sentence naming it."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from pathlib import Path
from typing import Any

from emocam.errors import UserError

log = logging.getLogger(__name__)


class ConfigError(UserError):
    """A setting given on the command line or in a config file is wrong."""


def merge(base: dict[str, Any], extra: dict[str, Any], where: str, *,
          drop_unknown: bool = False) -> dict[str, Any]:
    """``extra`` laid over ``base``; ``drop_unknown`` skips settings ``base`` lacks (with a
    warning) instead of refusing them: a checkpoint from another fer-train still evaluates."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if k not in out and drop_unknown:
            log.warning("%s: the setting %r is not one this fer-train knows; ignored.", where, k)
            continue
        if k not in out:
            raise ConfigError(f"{where}: unknown setting {k!r}; known: {', '.join(sorted(out))}.")
        if isinstance(out[k], dict) and not isinstance(v, dict):
            # "model: 3" in a config file was an AttributeError traceback.
            raise ConfigError(f"{where}: {k} holds settings ({', '.join(sorted(out[k]))}), "
                              f"not {v!r}.")
        out[k] = (merge(out[k], v, f"{where} ({k})", drop_unknown=drop_unknown)
                  if isinstance(out[k], dict)
                  else _of_settings_type(v, out[k], k, where))
    return out


def _of_settings_type(value: Any, default: Any, key: str, where: str) -> Any:
    """``value`` from a config file, checked against the type of the setting's default:
    "epochs: abc" got as far as a comparison in _validate and was a TypeError traceback."""
    def number(v: Any, kind: type) -> bool:
        return isinstance(v, kind) and not isinstance(v, bool)

    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, want = number(value, int), "a whole number"
    elif isinstance(default, float):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as text, not a number
            with contextlib.suppress(ValueError):
                parsed = float(value)
                value = parsed if math.isfinite(parsed) else value
        ok, want = number(value, (int, float)), "a number"
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        kind = (float, int) if default and isinstance(default[0], float) else int
        ok = isinstance(value, (list, tuple)) and all(number(v, kind) for v in value)
        want = "a list of numbers, e.g. [16, 32, 64]"
    elif isinstance(default, str):
        # An empty "teacher:" reads as None in YAML: the setting's "none" is "".
        value = "" if value is None else value
        ok, want = isinstance(value, (str, int, float)) and not isinstance(value, bool), "text"
        value = str(value) if ok else value
    else:
        return value
    if not ok:
        raise ConfigError(f"{where}: {key} is {value!r}; it must be {want}.")
    return value


def plain(obj: Any) -> Any:
    """Tuples as lists, for YAML."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def read_settings(path: Path) -> dict[str, Any]:
    """The settings a YAML file holds (a run's config.yaml, a --config file)."""
    import yaml

    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path} cannot be read ({e.strerror}).") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}); save it as UTF-8.") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML ({e}).") from e
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, e.g. 'epochs: 10'.")
    return d
