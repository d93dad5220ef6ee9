"""Requirement text -> `Request`: strings, local wheels / sdists / project folders, editables,
requirements files; and the content digests of the local files that requests name (pure but
for reading those files)."""

from __future__ import annotations

import contextlib
import hashlib
import tomllib
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from envlayers.core.errors import InvalidInput
from envlayers.core.project import ReqItem
from envlayers.core.requirements import read_requirements, split_extras
from envlayers.core.satisfy import Request, editable_request, parse_request

__all__ = [
    "abs_link",
    "editable_arg",
    "files_and_editables",
    "fingerprints",
    "installable",
    "request_from_item",
    "request_from_text",
    "strs",
]


def strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def installable(request: Request) -> str:
    return str(request.requirement)


def abs_link(root: Path, link: str) -> str:
    if "://" in link:
        return link
    p = Path(link).expanduser()
    return str(p if p.is_absolute() else (root / p).resolve())


def request_from_item(item: ReqItem, root: Path) -> Request:
    span = item.span
    return request_from_text(
        item.text, root, file=span.file if span else None, line=span.line if span else None
    )


def request_from_text(
    text: str, root: Path, *, file: str | None = None, line: int | None = None
) -> Request:
    """A requirement string, or a path to a wheel / sdist / project folder (made `name @ file:`)."""
    stripped = text.strip()
    looks_like_path = stripped.startswith((".", "/", "~")) or stripped.endswith(
        (".whl", ".tar.gz", ".zip")
    )
    if looks_like_path and "@" not in stripped and ";" not in stripped:
        path = Path(stripped).expanduser()
        if not path.is_absolute():
            path = (Path.cwd() / path) if (Path.cwd() / path).exists() else (root / path)
        if not path.exists():
            where = f"{file}:{line}: " if file and line else ""
            raise InvalidInput(f"{where}no such file or folder: {stripped!r}")
        name = _name_of_path(path)
        req = parse_request(f"{name} @ {path.resolve().as_uri()}", file=file, line=line)
        return Request(text=text, requirement=req.requirement, editable=None)
    return parse_request(text, file=file, line=line)


def _name_of_path(path: Path) -> str:
    if path.name.endswith(".whl"):
        return str(parse_wheel_filename(path.name)[0])
    if path.name.endswith((".tar.gz", ".zip")):
        return str(parse_sdist_filename(path.name)[0])
    if path.is_dir():
        name = _project_name(path)
        if name:
            return name
    raise InvalidInput(f"cannot tell the distribution name of {str(path)!r}")


def _project_name(path: Path) -> str | None:
    try:
        with open(path / "pyproject.toml", "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None


def _editable(
    text: str, base: Path, *, file: str | None = None, line: int | None = None
) -> Request:
    """An editable project folder, with extras (`./lib[http2]`): relative to the cwd, else
    to `base`. Its requirement is `name[extras]`, so satisfaction honours the extras."""
    path_text, extras = split_extras(text)
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).is_dir() else base / path
    path = path.resolve()
    if not path.is_dir():
        raise InvalidInput(f"editable path is not a folder: {path_text!r}", file=file, line=line)
    name = _project_name(path) or path.name
    plain = editable_request(path, name)
    if not extras:
        return plain
    try:
        requirement = Requirement(f"{name}[{','.join(extras)}]")
    except InvalidRequirement as exc:
        raise InvalidInput(
            f"invalid extras in editable {text!r}: {exc}", file=file, line=line
        ) from exc
    folder = plain.editable or str(path)
    return Request(f"{folder}[{','.join(extras)}]", requirement, editable=folder)


def editable_arg(request: Request) -> str:
    """What an installer's `--editable` takes for `request`: the folder, with its extras."""
    folder = request.editable or ""
    extras = sorted(request.requirement.extras)
    return f"{folder}[{','.join(extras)}]" if extras else folder


def files_and_editables(
    root: Path, files: Sequence[str], editables: Sequence[str]
) -> list[Request]:
    """The requests of `-r` files (relative to the cwd, else to `root`) and of `-e` folders."""
    out: list[Request] = []
    for f in files:
        path = Path(f) if Path(f).is_absolute() else Path.cwd() / f
        if not path.is_file():
            path = root / f
        items, edits = read_requirements(path)
        out += [request_from_item(i, root) for i in items]
        for e in edits:
            span = e.span
            out.append(
                _editable(
                    e.text,
                    path.parent,
                    file=span.file if span else None,
                    line=span.line if span else None,
                )
            )
    out += [_editable(text, root) for text in editables]
    return out


def fingerprints(requests: Sequence[Request]) -> list[tuple[str, str]]:
    """Content digests of the local files and folders that requests name."""
    out: list[tuple[str, str]] = []
    for r in requests:
        target: Path | None = None
        if r.editable:
            target = Path(r.editable)
        elif r.requirement.url and r.requirement.url.startswith("file:"):
            target = Path(unquote(urlparse(r.requirement.url).path))
        if target is None:
            continue
        out.append((str(target), _digest_path(target)))
    return sorted(out)


def _digest_path(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    # A project folder: its metadata files decide what gets installed.
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        with contextlib.suppress(OSError):
            h.update(name.encode() + b"\0" + (path / name).read_bytes())
    return h.hexdigest()
