"""`InterpreterInfo`: what a probe learned of an interpreter (a value, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InterpreterInfo"]


@dataclass(frozen=True)
class InterpreterInfo:
    executable: str
    base_executable: str
    version: str
    version_info: tuple[int, int, int]
    implementation: str
    prefix: str
    base_prefix: str
    is_venv: bool
    purelib: str
    platlib: str
    scripts: str
    site_packages: tuple[str, ...]
    stdlib: tuple[str, ...]
    marker_env: Mapping[str, str] = field(hash=False)
    identity: str
    include_system_site_packages: bool

    @property
    def major_minor(self) -> str:
        return f"{self.version_info[0]}.{self.version_info[1]}"

    def to_json(self) -> dict[str, object]:
        return {
            "executable": self.executable,
            "baseExecutable": self.base_executable,
            "version": self.version,
            "versionInfo": list(self.version_info),
            "implementation": self.implementation,
            "prefix": self.prefix,
            "basePrefix": self.base_prefix,
            "isVenv": self.is_venv,
            "purelib": self.purelib,
            "platlib": self.platlib,
            "scripts": self.scripts,
            "sitePackages": list(self.site_packages),
            "stdlib": list(self.stdlib),
            "markerEnv": dict(self.marker_env),
            "identity": self.identity,
            "includeSystemSitePackages": self.include_system_site_packages,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> InterpreterInfo:
        """Inverse of `to_json`; raises `ValueError` on a malformed mapping."""
        try:
            vi = [int(x) for x in d["versionInfo"]]
            if len(vi) != 3:
                raise ValueError(f"versionInfo must have 3 parts, not {vi!r}")
            return cls(
                executable=_str(d["executable"]),
                base_executable=_str(d["baseExecutable"]),
                version=_str(d["version"]),
                version_info=(vi[0], vi[1], vi[2]),
                implementation=_str(d["implementation"]),
                prefix=_str(d["prefix"]),
                base_prefix=_str(d["basePrefix"]),
                is_venv=bool(d["isVenv"]),
                purelib=_str(d["purelib"]),
                platlib=_str(d["platlib"]),
                scripts=_str(d["scripts"]),
                site_packages=tuple(_str(x) for x in d["sitePackages"]),
                stdlib=tuple(_str(x) for x in d["stdlib"]),
                marker_env={_str(k): _str(v) for k, v in dict(d["markerEnv"]).items()},
                identity=_str(d["identity"]),
                include_system_site_packages=bool(d["includeSystemSitePackages"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed interpreter info: {exc!r}") from exc


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
