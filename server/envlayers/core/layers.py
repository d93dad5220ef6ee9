"""The layer cache: immutable environments keyed by everything that decides their content.

A layer is built in a temporary folder under a per-key lock and published with one
`fsutil.swap_in`; after that nothing writes to it except the access time of its metadata file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from envlayers.core import venv as _venv
from envlayers.core.errors import EnvlayersError, InvalidInput, OperationFailed
from envlayers.core.flock import FileLock, Timeout
from envlayers.core.fsutil import (
    atomic_write_json,
    dir_size,
    discard,
    make_dir,
    read_json,
    remove_tree,
    swap_in,
)
from envlayers.core.installer import IndexSettings, Installer
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory
from envlayers.core.layercheck import adoption_problem, damage
from envlayers.core.layerdeps import install_against_base
from envlayers.core.leases import guarded
from envlayers.core.proc import CancelToken
from envlayers.core.scripts import relocate_scripts
from envlayers.core.trust import rerecord

__all__ = [
    "LAYER_META",
    "Layer",
    "LayerCache",
    "LayerInputs",
    "is_valid_key",
    "layer_key",
]

log = logging.getLogger(__name__)

# Seconds between two recorded uses of a layer (see `LayerCache.touch`).
_TOUCH_EVERY = 3600.0
LAYER_META = "envlayers-layer.json"
_KEY_RE = re.compile(r"^[0-9a-f]{24}$")
_LOCK_TIMEOUT = 3600.0


def is_valid_key(key: str) -> bool:
    """Keys are hex digests we made: anything else (``../``, absolute paths) is refused."""
    return bool(_KEY_RE.match(key))


@dataclass(frozen=True)
class LayerInputs:
    """Everything that decides a layer's content; the key is a digest of it."""

    requirements: tuple[str, ...]
    editables: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (path, content digest) of local files named
    interpreter: tuple[str, str, str, str] = ("", "", "", "")  # path, version, impl, identity
    index: str = ""  # IndexSettings.fingerprint()
    # The base's versions it is resolved against (layerdeps.base_pins): another base's
    # versions give another layer.
    base_versions: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "requirements": list(self.requirements),
            "editables": list(self.editables),
            "files": [list(f) for f in self.files],
            "interpreter": dict(
                zip(
                    ("path", "version", "implementation", "identity"), self.interpreter, strict=True
                )
            ),
            "index": self.index,
            "baseVersions": dict(self.base_versions),
        }


def layer_key(inputs: LayerInputs) -> str:
    """A content-addressed key: the same inputs always give the same key."""
    blob = json.dumps(
        {
            "v": 1,
            "requirements": sorted(inputs.requirements),
            "editables": sorted(inputs.editables),
            "files": sorted(list(f) for f in inputs.files),
            "interpreter": list(inputs.interpreter),
            "index": inputs.index,
            **(
                {"base": sorted(list(p) for p in inputs.base_versions)}
                if inputs.base_versions
                else {}
            ),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Layer:
    key: str
    path: Path
    requirements: tuple[str, ...]
    packages: Mapping[str, str]
    site_packages: Path
    scripts: Path
    reused: bool = False
    created: str = ""
    last_used: str = ""
    editables: tuple[str, ...] = field(default=())
    python: tuple[str, str] = ("", "")  # the base executable and version it was built for

    def built_for(self, base: InterpreterInfo) -> bool:
        """Whether this layer was built for the interpreter of `base` (its site dir is that
        Python's): a layer of another interpreter is never composed."""
        return self.python == (base.base_executable, base.version)

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "path": str(self.path),
            "requirements": list(self.requirements),
            "packages": dict(sorted(self.packages.items())),
            "reused": self.reused,
        }


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).isoformat(timespec="seconds")


class LayerCache:
    """`<cache>/layers/v1/<key>/`: build, reuse, list, prune, remove."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- lookup -------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        if not is_valid_key(key):
            raise InvalidInput(f"not a layer key: {key!r}")
        return self.root / key

    def _lock(self, key: str) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        waiting = partial(log.info, "waiting for another build of layer %s to finish", key)
        return FileLock(str(self.root / f".{key}.lock"), timeout=_LOCK_TIMEOUT, on_wait=waiting)

    def load(self, key: str, *, check_interpreter: bool = True) -> Layer | None:
        """The published layer of `key`, or None when absent or not whole (never used as is)."""
        path = self.path_for(key)
        meta = read_json(path / LAYER_META)
        if meta is None or meta.get("key") != key or meta.get("schemaVersion") != 1:
            return None
        rel_site = meta.get("sitePackages")
        rel_scripts = meta.get("scripts")
        packages = meta.get("packages")
        reqs = meta.get("requirements")
        if not (isinstance(rel_site, str) and isinstance(rel_scripts, str)):
            return None
        if not (isinstance(packages, dict) and isinstance(reqs, list)):
            return None
        site = path / rel_site
        if not site.is_dir():
            return None
        if check_interpreter and not _venv.venv_python(path).exists():
            # The interpreter it was built from vanished (symlink dangles): unusable.
            return None
        editables = meta.get("editables")
        python = meta.get("python")
        built = python if isinstance(python, dict) else {}
        return Layer(
            key=key,
            path=path,
            requirements=tuple(str(r) for r in reqs),
            packages={str(k): str(v) for k, v in packages.items()},
            site_packages=site,
            scripts=path / rel_scripts,
            reused=True,
            created=str(meta.get("created", "")),
            last_used=_iso(_mtime(path / LAYER_META)),
            editables=tuple(str(e) for e in editables) if isinstance(editables, list) else (),
            python=(str(built.get("executable", "")), str(built.get("version", ""))),
        )

    def verify(self, layer: Layer) -> str | None:
        """A reason the layer is damaged (a package or one of its files gone or resized)."""
        return damage(layer.key, layer.site_packages, layer.packages)

    def touch(self, layer: Layer) -> None:
        """Record a use: only the metadata file's times change, never the layer's content.

        At most once an hour (ages are counted in days): each touch changes a stat that the
        CLI's stored reports watch, so touching on every use would void them all.
        """
        meta = layer.path / LAYER_META
        with contextlib.suppress(OSError):
            if time.time() - os.stat(meta).st_mtime >= _TOUCH_EVERY:
                os.utime(meta)

    # -- build --------------------------------------------------------------------------
    def ensure(
        self,
        inputs: LayerInputs,
        *,
        base: InterpreterInfo,
        installer: Installer,
        index: IndexSettings,
        requirements: Sequence[str],
        editables: Sequence[str] = (),
        preferences: Mapping[str, str] | None = None,
        refresh: bool = False,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Layer:
        """Return the layer for `inputs`, building it once if needed (one build per key)."""
        key = layer_key(inputs)
        if not refresh:
            layer = self._usable(key)
            if layer is not None:
                self.touch(layer)
                return layer
        self.root.mkdir(parents=True, exist_ok=True)
        # The folder we were asked to replace; a use (touch) must not pass for a new publish.
        stale = _folder_id(self.root / key) if refresh else None
        lock = self._lock(key)
        try:
            lock.acquire()
        except Timeout as exc:
            raise OperationFailed(f"timed out waiting for another build of layer {key}") from exc
        except OSError as exc:  # a full or read-only cache: say so, no traceback
            raise OperationFailed(f"cannot lock layer {key} in {self.root}: {exc}") from exc
        try:
            layer = self._usable(key)
            if layer is not None and not (refresh and _folder_id(layer.path) == stale):
                # Someone else published it while we waited for the lock.
                self.touch(layer)
                return layer
            self._clean_partial(key)
            return self._build(
                key,
                inputs,
                base=base,
                installer=installer,
                index=index,
                requirements=requirements,
                editables=editables,
                preferences=preferences or {},
                on_line=on_line,
                cancel=cancel,
            )
        finally:
            lock.release()

    def _usable(self, key: str) -> Layer | None:
        """An existing layer, adopted only when it is ours (private) and its files match."""
        layer = self.load(key)
        if layer is None:
            if (self.root / key).exists():
                log.warning("layer %s is damaged or incomplete; it will be rebuilt", key)
            return None
        problem = adoption_problem(layer.key, layer.path, layer.site_packages, layer.packages)
        if problem is not None:
            log.warning("%s; it will be rebuilt", problem)
            return None
        return layer

    def _clean_partial(self, key: str) -> None:
        # We hold the key's lock: any temporary folder of this key is a dead build's.
        for entry in [*self.root.glob(f".tmp-{key}-*"), self.root / key]:
            discard(entry, kind=("layer", "build"), roots=[self.root])

    def _build(
        self,
        key: str,
        inputs: LayerInputs,
        *,
        base: InterpreterInfo,
        installer: Installer,
        index: IndexSettings,
        requirements: Sequence[str],
        editables: Sequence[str],
        preferences: Mapping[str, str],
        on_line: Callable[[str], None] | None,
        cancel: CancelToken | None,
    ) -> Layer:
        final = self.root / key
        tmp = self.root / f".tmp-{key}-{os.urandom(4).hex()}"
        log.info("building layer %s for %s", key, ", ".join([*requirements, *editables]))
        try:
            if cancel is not None:
                cancel.raise_if_cancelled()
            fresh = partial(_fresh_venv, tmp, base, self.root)
            fresh()
            install = partial(
                installer.install,
                str(_venv.venv_python(tmp)),
                list(requirements),
                editables=list(editables),
                index=index,
                on_line=on_line,
                cancel=cancel,
                base_python=base.base_executable,  # the venv is new: see Installer.install
            )
            site = _venv.site_packages(tmp, base.version_info)

            install_against_base(
                lambda pins: install(constraints=pins),
                partial(fresh, again=True),
                lambda: Inventory.scan([site]),
                {} if editables else preferences,  # an editable's name is not known here
                base.marker_env,
            )
            if cancel is not None:
                cancel.raise_if_cancelled()
            meta = _layer_meta(key, inputs, tmp, final, base, installer.name)
            atomic_write_json(tmp / LAYER_META, meta)
            swap_in(tmp, final, kind="layer", roots=[self.root])
        except (EnvlayersError, OSError, KeyboardInterrupt) as exc:
            discard(tmp, kind=("layer", "build"), roots=[self.root])
            if isinstance(exc, OSError):
                raise OperationFailed(f"could not build layer {key}: {exc}") from exc
            raise
        except BaseException:
            discard(tmp, kind=("layer", "build"), roots=[self.root])
            raise
        layer = self.load(key)
        if layer is None:  # pragma: no cover - we just published it
            raise OperationFailed(f"layer {key} vanished right after it was published")
        return Layer(**{**layer.__dict__, "reused": False})

    # -- management ---------------------------------------------------------------------
    def published_keys(self) -> list[str]:
        try:
            return sorted(
                e.name for e in self.root.iterdir() if is_valid_key(e.name) and e.is_dir()
            )
        except FileNotFoundError:
            return []

    def describe(self, key: str, used_by: Iterable[str] = ()) -> dict[str, object]:
        path = self.path_for(key)
        meta = read_json(path / LAYER_META) or {}
        reqs = meta.get("requirements")
        return {
            "key": key,
            "path": str(path),
            "requirements": list(reqs) if isinstance(reqs, list) else [],
            "sizeBytes": dir_size(path),
            "lastUsed": _iso(_mtime(path / LAYER_META) or _mtime(path)),
            "usedBy": sorted(set(used_by)),
            "valid": self.load(key, check_interpreter=True) is not None,
        }

    def last_used(self, key: str) -> float:
        path = self.root / key
        return _mtime(path / LAYER_META) or _mtime(path)

    def remove(self, key: str, keep: Callable[[], str | None] = lambda: None) -> str | None:
        """Delete the layer `key` unless it is leased, being built, or `keep()` (asked under
        its build lock) says why not: None when deleted, else the reason it was kept."""
        path = self.path_for(key)
        if not path.exists():
            return "there is no such layer"
        with guarded(self.root, key, keep) as reason:
            if reason is None:
                remove_tree(path, kind="layer", roots=[self.root])
        return reason

    def remove_leftovers(self, older_than: float) -> None:
        """Temporary folders of builds that died long ago."""
        try:
            entries = list(self.root.iterdir())
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith((".tmp-", ".trash-", ".old-")) and _mtime(entry) < older_than:
                discard(entry, kind=("layer", "build"), roots=[self.root])


def _layer_meta(
    key: str, inputs: LayerInputs, tmp: Path, final: Path, base: InterpreterInfo, installer: str
) -> dict[str, object]:
    """The metadata of a layer just installed in `tmp`; its scripts are made to name `final`."""
    site = _venv.site_packages(tmp, base.version_info)
    scripts = _venv.venv_scripts(tmp)
    packages = Inventory.scan([site]).versions()
    # RECORD keeps telling the truth: the rewritten scripts' hashes and sizes as they are now.
    rerecord(site, relocate_scripts(scripts, old_prefix=tmp, new_prefix=final))
    now = _now()
    return {
        "schemaVersion": 1,
        "key": key,
        "requirements": list(inputs.requirements),
        "editables": list(inputs.editables),
        "inputs": inputs.to_json(),
        "packages": dict(sorted(packages.items())),
        "installer": installer,
        "python": {"executable": base.base_executable, "version": base.version},
        "sitePackages": os.path.relpath(site, tmp),
        "scripts": os.path.relpath(scripts, tmp),
        "created": now,
        "lastUsed": now,
    }


def _fresh_venv(tmp: Path, base: InterpreterInfo, root: Path, *, again: bool = False) -> None:
    """The empty layer venv a build installs into (`again`: thrown away and made anew)."""
    if again:
        remove_tree(tmp, kind="layer", roots=[root])
    make_dir(tmp, "layer")
    _venv.create_venv(tmp, base.base_executable, base=base)


def _folder_id(path: Path) -> tuple[int, int] | None:
    """(device, inode): a published folder arrives by `os.replace`, so a new one has a new id."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
