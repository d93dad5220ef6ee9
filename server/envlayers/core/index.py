"""Where packages come from: the index settings both installers take, and the local
find-links folders whose contents decide a layer's key.

Credentials are concealed when settings are made (`concealed()`) and revealed only in
`for_installer()`, which hands them over through the environment, never the command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from envlayers.core.errors import InvalidInput
from envlayers.core.redact import conceal, redact, reveal

__all__ = ["IndexSettings", "check_arg", "link_listing", "local_link_path"]

log = logging.getLogger(__name__)


def check_arg(value: str, what: str) -> str:
    # Defence in depth: callers validate, but an item must never be read as an option.
    if not value or value.startswith("-") or "\n" in value or "\r" in value or "\0" in value:
        raise InvalidInput(
            f"refusing {what} {redact(value)!r}: it is empty, starts with '-' or spans lines"
        )
    return value


# Where each installer reads an index setting from its environment, and how a list is joined
# there: (variable, separator); pip splits on whitespace, uv's find-links on commas.
_ENV_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "pip": {
        "--index-url": ("PIP_INDEX_URL", " "),
        "--extra-index-url": ("PIP_EXTRA_INDEX_URL", " "),
        "--find-links": ("PIP_FIND_LINKS", " "),
    },
    "uv": {
        "--index-url": ("UV_INDEX_URL", " "),
        "--extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
        "--find-links": ("UV_FIND_LINKS", ","),
    },
}


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from; passed to either installer."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = field(default=())
    no_index: bool = False

    def args(self, installer: str) -> list[str]:
        """The command-line flags for `installer` ("pip" or "uv"); both spell them alike."""
        if installer not in ("pip", "uv"):
            raise InvalidInput(f"unknown installer {installer!r}")
        out: list[str] = []
        if self.index_url:
            out += ["--index-url", check_arg(self.index_url, "index URL")]
        for url in self.extra_index_urls:
            out += ["--extra-index-url", check_arg(url, "extra index URL")]
        for link in self.find_links:
            out += ["--find-links", check_arg(link, "find-links location")]
        if self.no_index:
            out.append("--no-index")
        return out

    def concealed(self) -> IndexSettings:
        """The settings as the engine keeps them: credentials redacted (and remembered, in
        memory, for the installer's call; see `redact.conceal`)."""
        return replace(
            self,
            index_url=None if self.index_url is None else conceal(self.index_url),
            extra_index_urls=tuple(conceal(u) for u in self.extra_index_urls),
            find_links=tuple(conceal(u) for u in self.find_links),
        )

    def for_installer(self, installer: str) -> tuple[list[str], dict[str, str]]:
        """`(argv flags, environment)` for `installer`: a kind of setting that carries
        credentials goes, whole, through the environment (never the command line, which `ps`
        shows); the others stay flags, as `args()` spells them."""
        if installer not in _ENV_NAMES:
            raise InvalidInput(f"unknown installer {installer!r}")
        kinds = (
            ("--index-url", [self.index_url] if self.index_url else [], "index URL"),
            ("--extra-index-url", list(self.extra_index_urls), "extra index URL"),
            ("--find-links", list(self.find_links), "find-links location"),
        )
        args: list[str] = []
        env: dict[str, str] = {}
        for flag, values, what in kinds:
            shown = [check_arg(v, what) for v in values]
            secret = [reveal(v) for v in shown]
            if secret == shown:
                args += [arg for v in shown for arg in (flag, v)]
                continue
            name, sep = _ENV_NAMES[installer][flag]
            if any(sep in v or (sep == " " and any(c.isspace() for c in v)) for v in secret):
                raise InvalidInput(
                    f"cannot pass {what}s with credentials to {installer} beside one that "
                    f"contains {sep!r}: {', '.join(repr(v) for v in shown)}"
                )
            env[name] = sep.join(secret)
            log.debug("%s gets %s from its environment: %s", installer, flag, " ".join(shown))
        if self.no_index:
            args.append("--no-index")
        return args, env

    def redacted(self) -> IndexSettings:
        return replace(
            self,
            index_url=None if self.index_url is None else redact(self.index_url),
            extra_index_urls=tuple(redact(u) for u in self.extra_index_urls),
            find_links=tuple(redact(u) for u in self.find_links),
        )

    def fingerprint(self) -> str:
        """A digest for layer keys: the settings without credentials (a rotated token must not
        rebuild layers), plus a stat listing of each local find-links folder, so that a
        rebuilt wheel makes a new key."""
        shown = self.redacted()
        data: dict[str, object] = {
            "indexUrl": shown.index_url,
            "extraIndexUrls": list(shown.extra_index_urls),
            "findLinks": [[redact(link), link_listing(link)] for link in self.find_links],
            "noIndex": self.no_index,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def local_link_path(link: str) -> str | None:
    """The folder a find-links entry names on this machine (a path or a `file:` URL), whether
    or not it exists yet; None for a remote URL."""
    if "://" in link:
        parts = urlsplit(link)
        return unquote(parts.path) if parts.scheme == "file" else None
    return os.path.expanduser(link)


def _local_dir(link: str) -> str | None:
    path = local_link_path(link)
    return path if path is not None and os.path.isdir(path) else None


def link_listing(link: str) -> list[list[object]]:
    """(name, size, mtime_ns) of each file in a local find-links folder; [] otherwise."""
    folder = _local_dir(link)
    if folder is None:
        return []
    out: list[list[object]] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.is_file():
                        st = entry.stat()
                        out.append([entry.name, st.st_size, st.st_mtime_ns])
    except OSError as exc:
        log.debug("cannot list find-links folder %s: %s", folder, exc)
    out.sort()
    return out
