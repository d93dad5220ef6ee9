"""The base's sync as a transaction: what is checked before the first write, how a failed
install into an existing base is undone, and how a base built aside is made to work in place.

- `check_requires_python`: the chosen interpreter against `requires-python`, before anything
  is written (uv's order); the refusal names the interpreter, its version and the file:line.
- `rollback_on_failure(prefix)`: a hard-link copy of the venv is kept while an installer
  changes it; when the install fails (or is cancelled) the copy is put back, so the base is
  exactly what it was. Small files an installer may rewrite in place (scripts, `.pth` files,
  the venv's own files) are copied, not linked.
- `relocate_venv(built, prefix)`: a venv built at a temporary path names that path in its
  console scripts' shebangs and in `pyvenv.cfg`; point them at `prefix` before the swap.
- `recover_interrupted(prefix)`: a sync killed after its installer changed the venv could not
  put the copy back; the next sync does, first. The venv names its copy and that folder's
  identity (`.envlayers-rollback.json`, written once the copy is whole), so only the copy
  envlayers made is put back: a folder a repository commits beside the venv never is.
- `remove_leftovers(prefix)`: the temporary siblings a killed sync left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from envlayers.core import venv as _venv
from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.fsutil import (
    atomic_write_json,
    discard,
    read_json,
    remove_file,
    remove_tree,
    swap_in,
)
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.owned import check_removable
from envlayers.core.project import Project
from envlayers.core.pyrequest import accepts
from envlayers.core.scripts import relocate_scripts
from envlayers.core.toml_locate import TomlLocations
from envlayers.core.trust import rerecord
from envlayers.core.venvfiles import venv_sites

__all__ = [
    "check_requires_python",
    "recover_interrupted",
    "relocate_venv",
    "remove_leftovers",
    "rollback_on_failure",
    "temporary_sibling",
]

log = logging.getLogger(__name__)

ROLLBACK = ".envlayers-rollback.json"  # in the venv while an install may change it


def check_requires_python(project: Project, target: InterpreterInfo, request: str | None) -> None:
    """Refuse (exit 2, nothing written) an interpreter that `requires-python` excludes."""
    spec = project.requires_python
    if not spec or accepts(target.version_info, spec):
        return
    span = TomlLocations(project.text, str(project.pyproject)).find(("project", "requires-python"))
    asked = f"the requested interpreter {request!r}" if request else "the interpreter"
    raise InvalidInput(
        f"{asked} is Python {target.version} ({target.executable}), which the project's "
        f"requires-python {spec!r} excludes; nothing was changed. Choose another one with "
        "--python (or `python` in [tool.envlayers], or .python-version)",
        file=str(project.pyproject),
        line=span.line,
        column=span.column,
    )


def temporary_sibling(prefix: Path, kind: str) -> Path:
    return prefix.with_name(f".{prefix.name}.{kind}-{os.urandom(4).hex()}")


def remove_leftovers(prefix: Path) -> None:
    """Temporary siblings of `prefix` left by a sync that died (we hold the workspace lock)."""
    patterns = (f".{prefix.name}.tmp-*", f".{prefix.name}.bak-*", f".{prefix.name}.old-*")
    for pattern in (*patterns, f".old-{prefix.name}-*"):
        for stale in prefix.parent.glob(pattern):
            discard(stale, kind=("base", "build"), roots=[prefix.parent])  # ours only


@contextlib.contextmanager
def rollback_on_failure(prefix: Path, anchor: Path) -> Iterator[None]:
    """Keep a copy of the venv at `prefix` while the body changes it; put it back on failure.

    The copy is a venv too (its `pyvenv.cfg`, and our marker when the base is ours), so the
    one rule (`owned.check_removable`, kind `base`) lets it be swapped back or removed."""
    backup = temporary_sibling(prefix, "bak")
    check_removable(prefix, "base", roots=[anchor])
    remove_leftovers(prefix)  # copies kept by syncs that were killed
    record = prefix / ROLLBACK
    try:
        _clone(prefix, backup)
        st = os.lstat(backup)
        atomic_write_json(record, {"backup": backup.name, "dev": st.st_dev, "ino": st.st_ino})
    except OSError as exc:
        discard(backup, kind="base", roots=[anchor])
        raise OperationFailed(f"cannot keep a copy of {prefix} while it is synced: {exc}") from exc
    try:
        yield
    except BaseException:
        log.warning("the sync of %s failed; putting it back as it was", prefix)
        swap_in(backup, prefix, kind="base", roots=[anchor])
        raise
    remove_file(record, roots=[prefix])  # first: a copy no record names is only a leftover
    remove_tree(backup, kind="base", roots=[anchor])


def recover_interrupted(prefix: Path, anchor: Path) -> bool:
    """Put back the copy a killed sync kept of the venv at `prefix` (we hold the workspace
    lock, and with it every installer that sync started is gone); True when it did."""
    record = prefix / ROLLBACK
    if not os.path.lexists(record):
        return False
    backup = _named_copy(prefix, record)
    if backup is None:
        log.debug("ignoring %s: it names no copy of %s made by envlayers", record, prefix)
        with contextlib.suppress(OSError):  # a folder of that name: left, and still ignored
            remove_file(record, roots=[prefix])
        return False
    log.warning(
        "the last sync of %s was stopped before it finished; putting the environment back "
        "as it was before that sync",
        prefix,
    )
    swap_in(backup, prefix, kind="base", roots=[anchor])
    return True


def _named_copy(prefix: Path, record: Path) -> Path | None:
    """The sibling the record names, when it is the very folder `rollback_on_failure` made:
    a name `temporary_sibling` gives (checked before it becomes a path) of that inode."""
    data = read_json(record) or {}
    name = data.get("backup")
    if not isinstance(name, str) or not re.fullmatch(
        re.escape(f".{prefix.name}.bak-") + "[0-9a-f]{8}", name
    ):
        return None
    backup = prefix.with_name(name)
    try:
        st = os.lstat(backup)
    except OSError:
        return None
    return backup if (st.st_dev, st.st_ino) == (data.get("dev"), data.get("ino")) else None


def _copied(rel: str, name: str) -> bool:
    """Files an installer may rewrite in place: copy them, a link would share the change."""
    top = rel.split(os.sep, 1)[0]
    return rel == "." or top in ("bin", "Scripts") or name.endswith(".pth")


def _clone(src: Path, dst: Path) -> None:
    """A copy of the tree `src` at `dst`: files hard-linked (copied where `_copied`), symlinks
    and every timestamp kept, so the copy is the same tree when it is put back."""
    dirs: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out = os.path.join(dst, rel) if rel != "." else str(dst)
        os.mkdir(out)
        dirs.append((dirpath, out))
        for name in [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))] + filenames:
            _clone_entry(os.path.join(dirpath, name), os.path.join(out, name), _copied(rel, name))
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    for source, out in reversed(dirs):  # after their content: that changes a folder's times
        shutil.copystat(source, out)


def _clone_entry(source: str, dest: str, copy: bool) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), dest)
        st = os.lstat(source)
        with contextlib.suppress(NotImplementedError, OSError):
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        return
    if not copy:
        try:
            os.link(source, dest)
            return
        except OSError:
            pass  # a file system without hard links: copy
    shutil.copy2(source, dest)


def relocate_venv(built: Path, prefix: Path) -> None:
    """Point what the install wrote with `built`'s path (console scripts, pyvenv.cfg) at
    `prefix`, where the venv is about to be swapped in."""
    moved = relocate_scripts(_venv.venv_scripts(built), old_prefix=built, new_prefix=prefix)
    for site in venv_sites(built):  # RECORD keeps telling the truth about those scripts
        rerecord(site, moved)
    command = _venv.read_pyvenv_cfg(built).get("command")
    if command and str(built) in command:
        _venv.write_pyvenv_cfg(built, {"command": command.replace(str(built), str(prefix))})
