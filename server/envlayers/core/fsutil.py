"""Small filesystem helpers: the one atomic write, the one swap, the one removal, folder sizes.

Everything in the core that replaces or removes a file or folder goes through `atomic_write_*`,
`swap_in`, `remove_tree` or `remove_file`, and the last three first ask `owned.check_removable`
(a folder) or `owned.check_inside` (a file): envlayers removes or replaces only what it created,
inside the folders it manages, never through a link. A test checks that nothing else in the
package removes or renames anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from envlayers.core.owned import Kind, check_inside, check_removable, mark

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "dir_size",
    "discard",
    "make_dir",
    "private_tempdir",
    "read_json",
    "remove_file",
    "remove_tree",
    "swap_in",
]


log = logging.getLogger(__name__)


def atomic_write_bytes(
    path: Path | str, data: bytes, *, mode: int | None = None, durable: bool = False
) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a mix.

    `mode` sets the file's permissions; `durable` flushes it to disk before the rename. Not by
    default: everything envlayers writes is state it can rebuild, and every reader validates
    what it reads (a file emptied by a power cut reads as absent: rebuilt, never trusted), so
    an `fsync` (1-10 ms each, several per command) would buy nothing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(
    path: Path | str, text: str, *, mode: int | None = None, durable: bool = False
) -> None:
    """`atomic_write_bytes` of `text` in UTF-8 (newlines as given)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, durable=durable)


def atomic_write_json(path: Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, object] | None:
    """The JSON object in `path`, or None when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def swap_in(new: Path, dest: Path, *, kind: Kind, roots: Sequence[Path]) -> None:
    """Replace `dest` by `new` (a sibling envlayers just made): `dest` is renamed aside, `new`
    renamed in, the old one removed. When moving `new` in fails, the old `dest` is put back
    before the error rises. `dest` must be envlayers' own `kind` inside `roots`."""
    check_removable(new, kind, roots=roots)
    check_removable(dest, kind, roots=roots)
    old: Path | None = None
    if os.path.lexists(dest):
        old = dest.with_name(f".old-{dest.name}-{os.urandom(4).hex()}")
        os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                os.replace(old, dest)
        raise
    if old is not None:
        remove_tree(old, kind=kind, roots=roots)


def remove_tree(path: Path, *, kind: Kind | Sequence[Kind], roots: Sequence[Path]) -> None:
    """Remove a folder envlayers made (its marker names one of `kind`) inside `roots`: renamed
    aside first (one atomic step), then deleted. A missing one is fine; anything else raises
    `OperationFailed` and is left as it was."""
    if not os.path.lexists(path):
        return
    kinds: tuple[Kind, ...] = (kind,) if isinstance(kind, str) else tuple(kind)
    problem: Exception | None = None
    for one in kinds:
        try:
            check_removable(path, one, roots=roots)
            break
        except Exception as exc:  # try the next kind; raise the first refusal
            problem = problem or exc
    else:
        assert problem is not None
        raise problem
    aside = path.with_name(f".trash-{path.name}-{os.urandom(4).hex()}")
    try:
        os.replace(path, aside)
    except OSError:
        aside = path
    shutil.rmtree(aside, ignore_errors=True)


def make_dir(path: Path, kind: Kind) -> Path:
    """Create `path` (it must not exist) and mark it as envlayers' own `kind` before anything
    else is written into it, so a build killed at any later point leaves a folder that the
    next run may remove."""
    path.mkdir(parents=True)
    try:
        mark(path, kind)
    except BaseException:
        # The folder we just made is empty but for a partial marker: undo it, or it stays
        # unprovable (a full disk, say).
        with contextlib.suppress(OSError):
            for entry in os.listdir(path):
                os.unlink(path / entry)
            os.rmdir(path)
        raise
    return path


def discard(path: Path, *, kind: Kind | Sequence[Kind], roots: Sequence[Path]) -> None:
    """`remove_tree` on a failure path: what cannot be proven ours is left (and logged), so the
    error that brought us here is the one the user sees."""
    try:
        remove_tree(path, kind=kind, roots=roots)
    except Exception as exc:  # OperationFailed (not provably ours) or an OSError
        log.debug("left %s in place: %s", path, exc)


@contextlib.contextmanager
def private_tempdir(prefix: str) -> Iterator[Path]:
    """A temporary folder only we can read (0700, from `mkdtemp`), marked as ours, removed with
    what it holds on the way out."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        mark(folder, "build")
        yield folder
    finally:
        discard(folder, kind="build", roots=[folder.parent])


def remove_file(path: Path, *, roots: Sequence[Path]) -> None:
    """Remove one file (or a link itself, never what it points to) inside `roots`."""
    if not os.path.lexists(path):
        return
    real = check_inside(path, roots)
    if real.is_dir() and not real.is_symlink():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(real)


def dir_size(path: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return total
