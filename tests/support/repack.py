"""Wheels of distributions installed in the test venv, so layers can hold them offline.

- `repack_closure(roots, dest)` turns distributions installed in *this* test venv (e.g.
  ipykernel and its dependency closure) back into wheels, so a layer with `ipykernel` can be
  built offline: the machine has no pip cache and tests must not touch the index. Each wheel
  keeps the original `WHEEL` tags (compiled ones are `cp311`), so fixture workspaces that use
  them run `workspaces.KERNEL_PYTHON`.
- `kernel_wheelhouse(dest)`: the closure of `ipykernel`.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name

from .wheels import escape_name, record_hash

__all__ = ["dist_closure", "kernel_wheelhouse", "repack_closure", "repack_installed"]

# dist-info files that an installer writes itself; a wheel must not carry them.
_INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def dist_closure(roots: Iterable[str]) -> list[md.Distribution]:
    """The installed distributions that `roots` need here, recursively (extras off)."""
    seen: dict[str, md.Distribution] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        dist = md.distribution(name)
        seen[name] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return [seen[k] for k in sorted(seen)]


def _wheel_tag(wheel_text: str) -> str:
    """The compressed tag set: `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`."""
    tags = [
        t
        for line in wheel_text.splitlines()
        if line.startswith("Tag:")
        for t in parse_tag(line[4:].strip())
    ]
    if not tags:
        return "py3-none-any"

    def uniq(values: Iterable[str]) -> str:
        return ".".join(dict.fromkeys(values))

    return "-".join(
        (
            uniq(t.interpreter for t in tags),
            uniq(t.abi for t in tags),
            uniq(t.platform for t in tags),
        )
    )


def _entry_point_scripts(dist: md.Distribution) -> set[str]:
    return {ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")}


def repack_installed(dist: md.Distribution, dest: Path) -> Path:
    """Write `dist` (installed here) back into a wheel in `dest`, from its RECORD."""
    name = canonicalize_name(dist.metadata["Name"])
    version = dist.version
    wheel_text = dist.read_text("WHEEL") or ""
    files = dist.files or []
    site = Path(str(dist.locate_file(""))).resolve()
    prefix = Path(sys.prefix).resolve()
    scripts = _entry_point_scripts(dist)
    data_dir = f"{escape_name(name)}-{version}.data"
    info_dir: str | None = None
    members: list[tuple[str, Path]] = []
    for rel in files:
        parts = rel.parts
        if "__pycache__" in parts or rel.suffix in (".pyc", ".pyo"):
            continue
        if parts[0] != "..":
            if parts[0].endswith(".dist-info"):
                info_dir = parts[0]
                if len(parts) == 2 and parts[1] in _INSTALLER_FILES:
                    continue
            members.append((rel.as_posix(), site / rel))
            continue
        # Files outside site-packages: console scripts are regenerated, data is carried.
        full = Path(os.path.normpath(site / rel))
        try:
            inside = full.relative_to(prefix).as_posix()
        except ValueError:
            continue
        if inside.startswith("bin/"):
            if full.name not in scripts:
                members.append((f"{data_dir}/scripts/{full.name}", full))
        elif inside.startswith(("share/", "etc/")):
            members.append((f"{data_dir}/data/{inside}", full))
    if info_dir is None:
        raise RuntimeError(f"{name} {version}: no dist-info in its RECORD")
    tag = _wheel_tag(wheel_text)
    out = dest / f"{escape_name(name)}-{version}-{tag}.whl"
    record: list[str] = []
    # Stored, not deflated: these wheels live for one session and debugpy alone is ~20 MB.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for arc, path in members:
            if not path.is_file():
                continue
            data = path.read_bytes()
            zf.writestr(arc, data)
            record.append(f"{arc},{record_hash(data)},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return out


def repack_closure(roots: Sequence[str], dest: Path) -> Path:
    """A find-links folder holding wheels of `roots` and everything they need, offline."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dist_closure(roots):
        repack_installed(dist, dest)
    return dest


def kernel_wheelhouse(dest: Path) -> Path:
    """Wheels of `ipykernel` and its closure (what an added kernel layer installs)."""
    return repack_closure(["ipykernel"], dest)
