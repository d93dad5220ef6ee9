"""The report: what an editor, debugger, terminal or kernel needs to use a composition."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from envlayers.core import render as _render
from envlayers.core.redact import redact
from envlayers.core.render import FORMATS, composed_env

__all__ = ["FORMATS", "SCHEMA_VERSION", "Report", "SyncInfo", "render"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SyncInfo:
    state: str  # "in-sync" | "out-of-sync" | "missing"
    installed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    extraneous: tuple[str, ...] = ()
    # Why the state is not in-sync (a stale lock); the report's `warnings` carry them.
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "installed": list(self.installed),
            "removed": list(self.removed),
            "extraneous": list(self.extraneous),
        }


@dataclass(frozen=True)
class Report:
    workspace: str
    interpreter: str
    base_interpreter: str
    python_version: str
    virtual_env: str
    sys_path: tuple[str, ...]
    path_prefix: tuple[str, ...]
    layers: tuple[Mapping[str, object], ...]
    satisfied_by_base: tuple[str, ...]
    conflicts: tuple[Mapping[str, object], ...]
    sync: SyncInfo
    name: str | None = None
    warnings: tuple[str, ...] = field(default=())
    script: str | None = None  # the single-file script (PEP 723) this composition is for

    @property
    def python_path(self) -> str:
        return os.pathsep.join(self.sys_path)

    def env(self, inherited_path: str | None = None) -> dict[str, str]:
        """VIRTUAL_ENV and PATH for a terminal, task or debugger; never PYTHONPATH."""
        return composed_env(self.virtual_env, self.path_prefix, inherited_path)

    def to_json(self) -> dict[str, object]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "workspace": self.workspace,
            "script": self.script,
            "name": self.name,
            "interpreter": self.interpreter,
            "baseInterpreter": self.base_interpreter,
            "pythonVersion": self.python_version,
            "virtualEnv": self.virtual_env,
            "sysPath": list(self.sys_path),
            "pythonPath": self.python_path,
            "pathPrefix": list(self.path_prefix),
            "env": self.env(),
            "layers": [dict(layer) for layer in self.layers],
            "satisfiedByBase": list(self.satisfied_by_base),
            "conflicts": [dict(c) for c in self.conflicts],
            "sync": self.sync.to_json(),
            "warnings": [redact(w) for w in self.warnings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Report:
        """The inverse of `to_json` (the environment is recomputed from the current PATH)."""
        sync = data.get("sync")
        sync = sync if isinstance(sync, dict) else {}

        def strs(value: object) -> tuple[str, ...]:
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        def dicts(value: object) -> tuple[Mapping[str, object], ...]:
            return tuple(v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()

        name = data.get("name")
        script = data.get("script")
        return cls(
            workspace=str(data.get("workspace", "")),
            interpreter=str(data.get("interpreter", "")),
            base_interpreter=str(data.get("baseInterpreter", "")),
            python_version=str(data.get("pythonVersion", "")),
            virtual_env=str(data.get("virtualEnv", "")),
            sys_path=strs(data.get("sysPath")),
            path_prefix=strs(data.get("pathPrefix")),
            layers=dicts(data.get("layers")),
            satisfied_by_base=strs(data.get("satisfiedByBase")),
            conflicts=dicts(data.get("conflicts")),
            sync=SyncInfo(
                state=str(sync.get("state", "out-of-sync")),
                installed=strs(sync.get("installed")),
                removed=strs(sync.get("removed")),
                extraneous=strs(sync.get("extraneous")),
            ),
            name=name if isinstance(name, str) else None,
            warnings=strs(data.get("warnings")),
            script=script if isinstance(script, str) else None,
        )

    def pyright_settings(self) -> dict[str, object]:
        """Settings for static tools that cannot switch interpreter."""
        return _render.pyright_settings(self.to_json())


def render(report: Report, fmt: str) -> str:
    """`report` in one of `FORMATS` (see `core.render`, shared with the CLI's fast path)."""
    return _render.render(report.to_json(), fmt)
