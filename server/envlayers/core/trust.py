"""What envlayers trusts in its cache: folders only its user owns and only it can write, and
layer files that still match the hashes their installer recorded.

A layer's code runs as whoever composes it. Layer keys are predictable, so a cache that
another user can write would let them plant `<cache>/layers/v1/<key>/` and have it adopted.
Like pip and uv with their caches, envlayers refuses a cache root or a layer that belongs to
someone else or that group or others may write.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from envlayers.core.errors import OperationFailed
from envlayers.core.fsutil import atomic_write_text

__all__ = ["check_private", "ensure_private_dir", "record_problem", "rerecord"]

_PRIVATE_MODE = 0o700
_CHUNK = 1 << 20


def ensure_private_dir(path: Path, *, what: str = "the envlayers cache") -> Path:
    """Create `path` (and missing parents) as `0700`, or check an existing one is private."""
    try:
        path.mkdir(mode=_PRIVATE_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationFailed(f"cannot create {what} {path}: {exc.strerror or exc}") from exc
    check_private(path, what=what)
    return path


def check_private(path: Path, *, what: str = "the envlayers cache") -> None:
    """Refuse a folder owned by another user or writable by group or others.

    The folder itself is checked, following a link: a link is fine when it leads to a folder
    of ours (a cache moved to another disk), not when it leads to someone else's.
    """
    if sys.platform == "win32":  # pragma: no cover - ACLs, not mode bits
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        raise OperationFailed(f"cannot use {what} {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise OperationFailed(f"{what} {path} is not a folder")
    me = os.geteuid()
    if st.st_uid != me:
        raise OperationFailed(
            f"{what} {path} belongs to another user (uid {st.st_uid}, you are {me}): "
            "refusing to run code from it; set ENVLAYERS_CACHE_DIR to a folder of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(st.st_mode)
        raise OperationFailed(
            f"{what} {path} is writable by other users (mode {mode:o}): refusing to run code "
            f"from it; run `chmod go-w {path}` or set ENVLAYERS_CACHE_DIR"
        )


def record_problem(prefix: Path, site: Path, *, hashes: bool) -> str | None:
    """The first way the files under `site` differ from their `RECORD`s, or None.

    Every distribution's RECORD is read; each file it lists must exist inside `prefix` with
    the recorded size and, with `hashes`, the recorded sha256. Byte code is skipped (installers
    may or may not compile it). A RECORD row that leads outside `prefix` is a problem too.
    """
    # With hashes (adopting a layer) every path is resolved, links included; the quick check
    # of every report compares the written paths (a `..` out of the prefix) and stats them.
    top = os.path.realpath(prefix) if hashes else os.path.normpath(os.path.abspath(prefix))
    try:
        infos = sorted(e.path for e in os.scandir(site) if e.name.endswith(".dist-info"))
    except OSError as exc:
        return f"cannot read {site}: {exc.strerror or exc}"
    for info in infos:
        problem = _dist_problem(Path(info), top, hashes=hashes)
        if problem is not None:
            return problem
    return None


def rerecord(site: Path, files: Sequence[Path]) -> None:
    """Update the RECORD rows of `files` (rewritten after their installer wrote them: a layer's
    scripts get their final shebang) with their hash and size as they are now."""
    if not files:
        return
    wanted = {os.path.normpath(os.path.abspath(f)) for f in files}
    wanted |= {os.path.realpath(f) for f in files}
    names = {os.path.basename(f) for f in wanted}
    for info in sorted(site.glob("*.dist-info")):
        record = info / "RECORD"
        try:
            text = record.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not any(n in text for n in names):
            continue  # a RECORD that cannot list them (most of them): not parsed
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error:
            continue
        changed = False
        for row in rows:
            if not row or os.path.basename(row[0]) not in names:
                continue
            path = os.path.join(site, row[0])
            if os.path.normpath(path) in wanted or os.path.realpath(path) in wanted:
                data = Path(path).read_bytes()
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                row[1:] = [f"sha256={digest.decode('ascii')}", str(len(data))]
                changed = True
        if changed:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            atomic_write_text(record, out.getvalue(), durable=False)


def _rows(record: Path) -> Iterator[list[str]]:
    with open(record, encoding="utf-8", newline="") as fh:
        yield from csv.reader(fh)


def _dist_problem(info: Path, top: str, *, hashes: bool) -> str | None:
    site = info.parent
    try:
        rows = list(_rows(info / "RECORD"))
    except (OSError, UnicodeDecodeError, csv.Error):
        return f"{info.name}/RECORD is missing or unreadable"
    for row in rows:
        rel = row[0] if row else ""
        if not rel or rel.endswith(".pyc") or "__pycache__" in rel:
            continue
        joined = os.path.join(site, rel)
        target = os.path.realpath(joined) if hashes else os.path.normpath(joined)
        if os.path.commonpath([top, target]) != top:
            return f"{info.name}/RECORD lists {rel!r}, which is outside the environment"
        digest = row[1] if len(row) > 1 else ""
        size = row[2] if len(row) > 2 else ""
        problem = _file_problem(Path(target), rel, digest, size, hashes=hashes)
        if problem is not None:
            return problem
    return None


def _file_problem(path: Path, rel: str, digest: str, size: str, *, hashes: bool) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return f"{rel} is missing"
    if size.isdigit() and st.st_size != int(size):
        return f"{rel} was changed (size {st.st_size}, recorded {size})"
    if not hashes or not digest:
        return None
    algo, _, expected = digest.partition("=")
    if algo != "sha256":
        return None  # RECORD allows other algorithms; installers write sha256
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
    except OSError as exc:
        return f"{rel} cannot be read: {exc.strerror or exc}"
    actual = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")
    if actual != expected:
        return f"{rel} was changed after it was installed (its hash differs from RECORD)"
    return None
