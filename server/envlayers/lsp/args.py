"""Decode `workspace/executeCommand` arguments: one camelCase object per command (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from envlayers.config import Options
from envlayers.core.errors import InvalidInput

__all__ = [
    "ONLY",
    "one_object",
    "opt_bool",
    "opt_number",
    "opt_str",
    "options_of",
    "reject_unknown",
]

# Keys that each layer-cache command accepts (the others take Options too).
ONLY: dict[str, frozenset[str]] = {
    "envlayers.report": frozenset({"workspace", "script"}),
    "envlayers.listLayers": frozenset({"workspace"}),
    "envlayers.pruneLayers": frozenset({"workspace", "olderThanDays", "all"}),
    "envlayers.removeLayer": frozenset({"workspace", "key", "force"}),
    "envlayers.listCompositions": frozenset({"workspace"}),
    "envlayers.listProfiles": frozenset({"workspace"}),
}


def one_object(command: str, args: Sequence[object]) -> Mapping[str, object]:
    """The single object argument (none means `{}`)."""
    if len(args) == 0 or (len(args) == 1 and args[0] is None):
        return {}
    if len(args) != 1:
        raise InvalidInput(f"{command} takes one object argument, got {len(args)} arguments")
    arg = args[0]
    if not isinstance(arg, Mapping):
        raise InvalidInput(f"{command} takes one object argument, not {type(arg).__name__}")
    if not all(isinstance(k, str) for k in arg):
        raise InvalidInput(f"{command}: argument keys must be strings")
    return arg


def reject_unknown(command: str, arg: Mapping[str, object]) -> None:
    allowed = ONLY.get(command)
    if allowed is None:
        return
    unknown = sorted(k for k in arg if k not in allowed)
    if unknown:
        raise InvalidInput(f"{command}: unknown option {unknown[0]!r}")


def options_of(arg: Mapping[str, object]) -> Options:
    return Options.from_json(arg)


def opt_str(arg: Mapping[str, object], key: str) -> str | None:
    value = arg.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidInput(f"option {key!r} must be a non-empty string")
    return value


def opt_bool(arg: Mapping[str, object], key: str) -> bool:
    value = arg.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"option {key!r} must be a boolean")
    return value


def opt_number(arg: Mapping[str, object], key: str) -> float | None:
    value = arg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"option {key!r} must be a number")
    if value < 0:
        raise InvalidInput(f"option {key!r} must not be negative")
    return float(value)
