"""Where an installed distribution came from (PEP 610) against what a request asks for.

A registry request accepts any source; `name @ url` compares URLs the PEP 610 way (VCS,
revision, subdirectory, file paths through symlinks, credentials ignored); an editable
request wants an editable install of that very folder.
"""

from __future__ import annotations

import os
import sys
import urllib.parse

from packaging.requirements import Requirement

from envlayers.core.inventory import DirectUrl, Distribution

if sys.platform == "win32":  # pragma: no cover - Windows only
    from nturl2path import url2pathname as _url2pathname
else:
    # What urllib.request's POSIX url2pathname does, without its import (http.client, email, ssl).
    _url2pathname = urllib.parse.unquote

__all__ = ["file_path", "same_path", "same_url", "source_ok", "source_text"]


def file_path(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return os.path.normpath(_url2pathname(parts.path))


def same_path(a: str, b: str) -> bool:
    if a == b or a.rstrip(os.sep) == b.rstrip(os.sep):
        return True
    # Only on a mismatch: a symlinked tmp or home dir must not make a false "source" failure.
    return os.path.realpath(a) == os.path.realpath(b)


def _strip_credentials(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def same_url(requested: str, installed: DirectUrl) -> bool:
    """PEP 610 comparison of a `name @ url` request with what was installed."""
    parts = urllib.parse.urlsplit(requested)
    fragment = urllib.parse.parse_qs(parts.fragment)
    subdirectory = next(iter(fragment.get("subdirectory", ())), None)
    if subdirectory != installed.subdirectory:
        return False
    scheme = parts.scheme
    vcs: str | None = None
    if "+" in scheme:
        vcs, _, scheme = scheme.partition("+")
    path, revision = parts.path, None
    if vcs is not None and "@" in path.rpartition("/")[2]:
        path, _, revision = path.rpartition("@")
    if vcs is not None:
        if installed.kind != "vcs" or (installed.vcs and installed.vcs != vcs):
            return False
        if revision and revision not in (installed.requested_revision, installed.commit_id):
            return False
    elif installed.kind == "vcs":
        return False
    base = urllib.parse.urlunsplit((scheme, parts.netloc, path, parts.query, ""))
    mine, theirs = file_path(base), file_path(installed.url)
    if mine is not None or theirs is not None:
        return mine is not None and theirs is not None and same_path(mine, theirs)
    got = urllib.parse.urlsplit(installed.url)
    return (
        scheme.lower() == got.scheme.lower()
        and _strip_credentials(parts.netloc).lower() == _strip_credentials(got.netloc).lower()
        and path.rstrip("/") == got.path.rstrip("/")
        and parts.query == got.query
    )


def source_text(dist: Distribution) -> str:
    direct = dist.direct_url
    if direct is None:
        return "from an index"
    if direct.editable:
        path = file_path(direct.url)
        return f"editable from {path or direct.url}"
    return f"from {direct.url}"


def source_ok(dist: Distribution, requirement: Requirement, editable: str | None) -> bool:
    if editable is None and not requirement.url:
        return True  # a registry request: any source will do (and no file is read)
    direct = dist.direct_url
    if editable is not None:
        if direct is None or not direct.editable:
            return False
        path = file_path(direct.url)
        return path is not None and same_path(path, editable)
    assert requirement.url is not None
    return direct is not None and same_url(requirement.url, direct)
