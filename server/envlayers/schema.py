"""The wire contract: one JSON Schema (draft 2020-12) of everything the CLI's `--format json`
and the server's commands answer, built from the Python types that produce it.

The report and its parts are derived from their dataclasses (`Report`, `SyncInfo`, `Layer`,
`Conflict`, `Shadow`, `Profile`): a field added there shows up here, in the checked-in
`vscode-extension/src/generated/schema.json` (a test compares) and so in the extension's
generated TypeScript types and decoders. Shapes built as plain dicts are `TypedDict`s below.
Objects are closed (`additionalProperties: false`), so a key added to a `to_json` without
the schema fails the tests that validate real answers.

`python -m envlayers.schema` prints the schema. `validate(schema, value, ref)` is a small
validator of the subset of JSON Schema emitted here (for tests and tools; no dependency).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from envlayers.core import errors as _errors
from envlayers.core.layers import Layer
from envlayers.core.project import Profile
from envlayers.core.report import SCHEMA_VERSION, Report, SyncInfo
from envlayers.core.satisfy import Conflict, Shadow

__all__ = [
    "COMMANDS",
    "ERROR_KINDS",
    "SCHEMA_ID",
    "Composition",
    "DebugConfiguration",
    "EnvironmentChanged",
    "ErrorData",
    "KernelResult",
    "LayerInfo",
    "PruneResult",
    "RemoveCompositionResult",
    "RemoveLayerResult",
    "SchemaError",
    "build_schema",
    "dumps",
    "main",
    "validate",
]

SCHEMA_ID = "https://envlayers.invalid/schema/wire-v1.json"
JsonSchema = dict[str, Any]

# Server kinds that no core error carries (see `envlayers.lsp.errors`; a test compares).
_SERVER_KINDS = ("not-available", "internal-error")


def _core_kinds() -> list[str]:
    found: list[str] = []
    todo: list[type[_errors.EnvlayersError]] = [_errors.EnvlayersError]
    while todo:
        cls = todo.pop(0)
        if cls.kind not in found:
            found.append(cls.kind)
        todo.extend(cls.__subclasses__())
    return found


ERROR_KINDS: tuple[str, ...] = (*_core_kinds(), *_SERVER_KINDS)


# -- shapes that are plain dicts on the Python side ---------------------------------------------
class LayerInfo(TypedDict):
    """A row of `layers list` / `envlayers.listLayers` (`LayerCache.describe`)."""

    key: str
    path: str
    requirements: list[str]
    sizeBytes: int
    lastUsed: str
    usedBy: list[str]
    valid: bool


class Composition(TypedDict):
    """A row of `compositions list` / `envlayers.listCompositions` (never a `.tmp-*` folder)."""

    name: str
    path: str
    interpreter: str
    layers: list[str]
    active: bool
    valid: bool


class KernelResult(TypedDict):
    """`kernel install` / `envlayers.installKernel`."""

    name: str
    displayName: str
    path: str
    userPath: str | None
    argv: list[str]
    interpreter: str
    composition: str | None
    addedIpykernel: bool


class PruneResult(TypedDict):
    """`layers prune` / `envlayers.pruneLayers`."""

    removed: list[str]
    freedBytes: int


class RemoveLayerResult(TypedDict):
    """`layers remove` / `envlayers.removeLayer`."""

    removed: list[str]


class RemoveCompositionResult(TypedDict):
    """`compositions remove`."""

    removed: list[str]
    kernelspecs: list[str]


class DebugConfiguration(TypedDict):
    """`debug-config` / `envlayers.debugConfiguration`: a debugpy launch configuration."""

    type: Literal["debugpy"]
    request: Literal["launch"]
    name: str
    python: str
    cwd: str
    env: dict[str, str]
    justMyCode: bool
    console: str
    program: NotRequired[str]
    module: NotRequired[str]


class ErrorData(TypedDict):
    """The `data` of every JSON-RPC error the server answers a command with."""

    kind: str  # one of ERROR_KINDS
    message: str


class EnvironmentChanged(TypedDict):
    """The params of the `envlayers/environmentChanged` notification."""

    workspace: str
    script: NotRequired[str]  # a single-file script's change (its workspace is in the cache)
    report: Report | None


# Each command's result, as a `$defs` name or an array of one (`[name]`).
COMMANDS: dict[str, str | list[str]] = {
    "envlayers.sync": "Report",
    "envlayers.compose": "Report",
    "envlayers.report": "Report",
    "envlayers.debugConfiguration": "DebugConfiguration",
    "envlayers.installKernel": "KernelResult",
    "envlayers.listLayers": ["LayerInfo"],
    "envlayers.pruneLayers": "PruneResult",
    "envlayers.removeLayer": "RemoveLayerResult",
    "envlayers.listCompositions": ["Composition"],
    "envlayers.listProfiles": ["Profile"],
}
NOTIFICATIONS: dict[str, str] = {"envlayers/environmentChanged": "EnvironmentChanged"}


# -- types -> JSON Schema ---------------------------------------------------------------------
def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclasses.dataclass(frozen=True)
class _Wire:
    """How a dataclass appears on the wire: renamed keys, replaced types, added keys."""

    cls: type
    only: tuple[str, ...] | None = None
    types: Mapping[str, object] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, tuple[int, JsonSchema]] = dataclasses.field(default_factory=dict)
    doc: str = ""


_STATE = {"enum": ["in-sync", "out-of-sync", "missing"]}

_DATACLASSES: dict[str, _Wire] = {
    "Report": _Wire(
        Report,
        types={"layers": list[Layer], "conflicts": list[Conflict]},
        extra={
            # (position in `to_json`, schema) of keys computed from the fields
            "schemaVersion": (0, {"const": SCHEMA_VERSION}),
            "pythonPath": (10, {"type": "string"}),
            "env": (12, {"type": "object", "additionalProperties": {"type": "string"}}),
        },
        doc="The report (SPEC 'The report'): `Report.to_json`.",
    ),
    "SyncInfo": _Wire(
        SyncInfo,
        only=("state", "installed", "removed", "extraneous"),
        types={"state": _STATE},
        doc="The report's `sync`.",
    ),
    "Layer": _Wire(
        Layer,
        only=("key", "path", "requirements", "packages", "reused"),
        doc="A layer of a report: `Layer.to_json`.",
    ),
    "Conflict": _Wire(Conflict, doc="A version conflict between layers and the base."),
    "Shadow": _Wire(Shadow, doc="A version a conflict's winner hides."),
    "Profile": _Wire(
        Profile,
        types={"with_": list[str]},
        doc="A row of `envlayers.listProfiles`: `[tool.envlayers.profiles.<name>]`.",
    ),
}
_TYPEDDICTS: dict[str, type] = {
    "LayerInfo": LayerInfo,
    "Composition": Composition,
    "KernelResult": KernelResult,
    "PruneResult": PruneResult,
    "RemoveLayerResult": RemoveLayerResult,
    "RemoveCompositionResult": RemoveCompositionResult,
    "DebugConfiguration": DebugConfiguration,
    "ErrorData": ErrorData,
    "EnvironmentChanged": EnvironmentChanged,
}
_ORDER_REPORT = (
    # `Report.to_json`'s key order (the dataclass's field order differs)
    "schemaVersion",
    "workspace",
    "script",
    "name",
    "interpreter",
    "baseInterpreter",
    "pythonVersion",
    "virtualEnv",
    "sysPath",
    "pythonPath",
    "pathPrefix",
    "env",
    "layers",
    "satisfiedByBase",
    "conflicts",
    "sync",
    "warnings",
)


class _Builder:
    def __init__(self) -> None:
        self.names: dict[type, str] = {w.cls: n for n, w in _DATACLASSES.items()}
        self.names.update({t: n for n, t in _TYPEDDICTS.items()})

    def of(self, tp: object) -> JsonSchema:
        if isinstance(tp, dict):
            return dict(tp)
        if tp is str or tp is Path:
            return {"type": "string"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if tp is type(None) or tp is None:
            return {"type": "null"}
        if isinstance(tp, type) and tp in self.names:
            return {"$ref": f"#/$defs/{self.names[tp]}"}
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is NotRequired:
            return self.of(args[0])
        if origin is Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            options = [self.of(a) for a in args]
            simple = [o.get("type") for o in options]
            if all(
                isinstance(t, str) and len(o) == 1 for t, o in zip(simple, options, strict=True)
            ):
                return {"type": simple}
            return {"anyOf": options}
        if origin in (list, tuple, Sequence):
            item = args[0] if args else object
            return {"type": "array", "items": self.of(item)}
        if origin in (dict, Mapping):
            return {"type": "object", "additionalProperties": self.of(args[1])}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def dataclass(self, wire: _Wire) -> JsonSchema:
        hints = typing.get_type_hints(wire.cls)
        props: dict[str, JsonSchema] = {}
        for f in dataclasses.fields(wire.cls):
            if wire.only is not None and f.name not in wire.only:
                continue
            tp = wire.types.get(f.name, hints[f.name])
            props[_camel(f.name)] = self.of(tp)
        for key, (_, schema) in wire.extra.items():
            props[key] = schema
        if wire.cls is Report:
            missing = set(props) ^ set(_ORDER_REPORT)
            if missing:
                raise TypeError(f"Report's wire keys changed ({sorted(missing)}): update schema.py")
            props = {k: props[k] for k in _ORDER_REPORT}
        return _object(props, list(props), wire.doc or (wire.cls.__doc__ or "").strip())

    def typeddict(self, td: type) -> JsonSchema:
        hints = typing.get_type_hints(td, include_extras=True)
        # `__required_keys__` misses NotRequired under postponed annotations: read the hints.
        required = [k for k, v in hints.items() if typing.get_origin(v) is not NotRequired]
        props = {k: self.of(v) for k, v in hints.items()}
        if td is ErrorData:
            props["kind"] = {"enum": list(ERROR_KINDS)}
        return _object(props, [k for k in props if k in required], (td.__doc__ or "").strip())


def _object(props: dict[str, JsonSchema], required: list[str], doc: str) -> JsonSchema:
    out: JsonSchema = {"type": "object"}
    if doc:
        out["description"] = " ".join(doc.split())
    out["properties"] = props
    out["required"] = required
    out["additionalProperties"] = False
    return out


def build_schema() -> JsonSchema:
    """The whole contract: `$defs` per shape, plus which command answers which."""
    b = _Builder()
    defs: dict[str, JsonSchema] = {}
    for name, wire in _DATACLASSES.items():
        defs[name] = b.dataclass(wire)
    for name, td in _TYPEDDICTS.items():
        defs[name] = b.typeddict(td)

    def result(spec: str | list[str]) -> JsonSchema:
        if isinstance(spec, list):
            return {"type": "array", "items": {"$ref": f"#/$defs/{spec[0]}"}}
        return {"$ref": f"#/$defs/{spec}"}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "envlayers wire protocol",
        "description": (
            "Generated by `python -m envlayers.schema` from the server's Python types; "
            "do not edit. x-commands: each server command's result; "
            "x-notifications: each notification's params."
        ),
        "x-schemaVersion": SCHEMA_VERSION,
        "x-commands": {name: result(spec) for name, spec in COMMANDS.items()},
        "x-notifications": {name: result(spec) for name, spec in NOTIFICATIONS.items()},
        "$defs": dict(sorted(defs.items())),
    }


def dumps(schema: JsonSchema | None = None) -> str:
    """The schema as checked in: 2-space JSON with a final newline."""
    return json.dumps(build_schema() if schema is None else schema, indent=2) + "\n"


# -- a validator of the subset emitted above ----------------------------------------------------
class SchemaError(ValueError):
    """`value` does not match the schema; the message names the path (`$.layers[0].key`)."""


_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_REF = re.compile(r"^#/\$defs/([A-Za-z0-9_]+)$")


def validate(schema: JsonSchema, value: object, ref: str | None = None) -> None:
    """Raise `SchemaError` unless `value` matches `schema` (or its `$defs[ref]`)."""
    node: JsonSchema = schema if ref is None else {"$ref": f"#/$defs/{ref}"}
    _check(schema, node, value, "$")


def _check(root: JsonSchema, node: JsonSchema, value: object, where: str) -> None:
    if "$ref" in node:
        m = _REF.match(str(node["$ref"]))
        if m is None or m.group(1) not in root.get("$defs", {}):
            raise SchemaError(f"{where}: unknown $ref {node['$ref']!r}")
        _check(root, root["$defs"][m.group(1)], value, where)
        return
    if "anyOf" in node:
        problems: list[str] = []
        for option in node["anyOf"]:
            try:
                _check(root, option, value, where)
            except SchemaError as exc:
                problems.append(str(exc))
            else:
                return
        raise SchemaError(f"{where}: matches none of anyOf ({'; '.join(problems)})")
    if "const" in node and value != node["const"]:
        raise SchemaError(f"{where}: expected {node['const']!r}, got {value!r}")
    if "enum" in node and value not in node["enum"]:
        raise SchemaError(f"{where}: {value!r} is not one of {node['enum']}")
    kind = node.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_JSON_TYPES[k](value) for k in kinds):
            raise SchemaError(f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            _check(root, node["items"], item, f"{where}[{i}]")
    if isinstance(value, dict) and (
        "properties" in node or "additionalProperties" in node or "required" in node
    ):
        props: Mapping[str, JsonSchema] = node.get("properties", {})
        for key in node.get("required", []):
            if key not in value:
                raise SchemaError(f"{where}: missing {key!r}")
        extra = node.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _check(root, props[key], item, f"{where}.{key}")
            elif extra is False:
                raise SchemaError(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                _check(root, extra, item, f"{where}.{key}")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m envlayers.schema`: print the schema (the checked-in copy is this output)."""
    del argv
    sys.stdout.write(dumps())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
