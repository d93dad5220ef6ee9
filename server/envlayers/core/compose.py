"""The composed environment: a small, persistent overlay venv over a base and its layers.

Its site-packages holds `_envlayers_overlay.pth` (and, for Python 3.15+, the PEP 829
`_envlayers_overlay.start`) which adds each layer's site-packages, top first, then the base's
site directories with `site.addsitedir`, so their own `.pth` files (editable installs) work.
Nothing goes before the standard library and no `PYTHONPATH` is needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envlayers.core import venv as _venv
from envlayers.core.errors import EnvlayersError, OperationFailed
from envlayers.core.fsutil import (
    atomic_write_json,
    atomic_write_text,
    discard,
    make_dir,
    read_json,
    swap_in,
)
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.layers import Layer, is_valid_key
from envlayers.core.owned import check_name
from envlayers.core.requests import strs
from envlayers.core.scripts import link_scripts

__all__ = [
    "COMPOSITION_RECORD",
    "OVERLAY_MODULE",
    "CarryHook",
    "ComposedEnv",
    "base_identity",
    "compose_digest",
    "ensure_composed",
    "load_composed",
    "overlay_files",
    "stale_reason",
    "static_sys_path",
]

log = logging.getLogger(__name__)

OVERLAY_MODULE = "_envlayers_overlay"
COMPOSITION_RECORD = "envlayers-composition.json"
_FORMAT = 1
_JUPYTER_DIRS = ("share/jupyter", "etc/jupyter")

# Called with (old env, new env) before a rebuild replaces the old one at the same path: what
# consumers wrote into the old env (kernelspecs) moves to the new one.
CarryHook = Callable[[Path, Path], object]


@dataclass(frozen=True)
class ComposedEnv:
    name: str
    path: Path
    python: Path
    scripts: Path
    site_packages: Path
    layer_keys: tuple[str, ...]
    overlay_dirs: tuple[str, ...]  # what the .pth adds: layers top first, then the base's
    digest: str
    reused: bool


def overlay_files(dirs: Sequence[str]) -> dict[str, str]:
    """The files placed in the composed env's site-packages (pure)."""
    module = (
        '"""Written by envlayers: adds the layers, then the base, to sys.path."""\n'
        "import site\n"
        "\n"
        f"DIRS = {json.dumps(list(dirs), indent=4)}\n"
        "_done = []\n"
        "\n"
        "\n"
        "def activate():\n"
        "    # Runs once, from the .pth import line (< 3.15) or the .start entry point.\n"
        "    if _done:\n"
        "        return\n"
        "    _done.append(True)\n"
        "    for d in DIRS:\n"
        "        site.addsitedir(d)\n"
        "\n"
        "\n"
        "activate()\n"
    )
    return {
        f"{OVERLAY_MODULE}.py": module,
        f"{OVERLAY_MODULE}.pth": f"import {OVERLAY_MODULE}\n",
        f"{OVERLAY_MODULE}.start": f"{OVERLAY_MODULE}:activate\n",
    }


def compose_digest(
    *,
    layers: Sequence[Layer],
    base: InterpreterInfo,
    base_dirs: Sequence[str],
    system_site: bool,
) -> str:
    """A digest of every input of the composed env (pure): equal digests mean reuse."""
    scripts = Path(base.scripts)
    blob = json.dumps(
        {
            "format": _FORMAT,
            "layers": [[layer.key, str(layer.path)] for layer in layers],
            "base": [base.executable, base.base_executable, base.identity, base.prefix],
            "baseDirs": list(base_dirs),
            "systemSite": system_site,
            # A sync that adds or removes a console script changes the folder's mtime.
            "baseScripts": _mtime_ns(scripts),
            "baseJupyter": [_mtime_ns(Path(base.prefix) / d) for d in _JUPYTER_DIRS],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def base_identity(base: InterpreterInfo) -> dict[str, str]:
    """What a composition records of the interpreter it stands on (compared by `stale_reason`)."""
    return {
        "executable": base.executable,
        "baseExecutable": base.base_executable,
        "version": base.version,
        "implementation": base.implementation,
        "identity": base.identity,
    }


def stale_reason(
    record: Mapping[str, object], base: InterpreterInfo | None, layers: Sequence[Layer | None]
) -> str | None:
    """Why the composition of `record` no longer stands on `base` and the loaded `layers` (one
    per recorded key, None when gone), or None when everything it was built on is there."""
    built = record.get("base")
    if not isinstance(built, dict):
        return "its record does not say which interpreter it was built for"
    if base is None:
        return f"its base interpreter {built.get('executable')} is gone"
    if built.get("version") != base.version or built.get("baseExecutable") != (
        base.base_executable
    ):
        return (
            f"it was built for Python {built.get('version')}, the base is now Python {base.version}"
        )
    if built.get("identity") != base.identity:
        return "its base interpreter was re-created since"
    for key, layer in zip(strs(record.get("layers")), layers, strict=False):
        if layer is None:
            return f"its layer {key} is gone"
        if not layer.built_for(base):
            return f"its layer {key} was built for Python {layer.python[1]}"
    return None


def base_site_dirs(base: InterpreterInfo) -> list[str]:
    """The base's own site directories (not the system's, which the composed env mirrors)."""
    prefix = os.path.realpath(base.prefix)
    out: list[str] = []
    for d in base.site_packages:
        real = os.path.realpath(d)
        if (real == prefix or real.startswith(prefix + os.sep)) and d not in out:
            out.append(d)
    if not out:
        out.append(base.purelib)
    return out


def static_sys_path(dirs: Sequence[str]) -> list[str]:
    """What `site.addsitedir` appends for each dir, in order: the dir, then its `.pth` paths.

    Import lines cannot be followed statically; plain path lines (editable sources) are.
    """
    seen: set[str] = set()
    out: list[str] = []

    def add(d: str) -> None:
        key = os.path.normcase(os.path.realpath(d))
        if key in seen or not os.path.exists(d):
            return
        seen.add(key)
        out.append(d)

    for site_dir in dirs:
        add(site_dir)
        try:
            names = sorted(
                n for n in os.listdir(site_dir) if n.endswith(".pth") and not n.startswith(".")
            )
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(site_dir, name), encoding="utf-8-sig") as fh:
                    lines = fh.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                line = line.strip()
                if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                    continue
                add(os.path.join(site_dir, line))
    return out


def load_composed(path: Path) -> dict[str, object] | None:
    """The record of a composed env, when it is whole and its overlay was not edited."""
    record = read_json(path / COMPOSITION_RECORD)
    if record is None or record.get("format") != _FORMAT:
        return None
    site = record.get("sitePackages")
    hashes = record.get("overlayHashes")
    layers = record.get("layers", [])
    if not isinstance(site, str) or not isinstance(hashes, dict):
        return None
    top = os.path.realpath(path)
    if os.path.commonpath([top, os.path.realpath(site)]) != top:
        log.warning(
            "ignoring %s: its site dir is outside the composition", path / COMPOSITION_RECORD
        )
        return None
    if not isinstance(layers, list) or not all(
        isinstance(k, str) and is_valid_key(k) for k in layers
    ):
        return None
    if set(hashes) - set(overlay_files(())):
        return None  # only our own overlay files are ever read
    for name, digest in hashes.items():
        try:
            data = (Path(site) / str(name)).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            log.warning("%s was edited by hand; the composition will be rebuilt", Path(site) / name)
            return None
    if not _venv.venv_python(path).exists():
        return None
    return record


def ensure_composed(
    workspace: Path,
    name: str,
    *,
    base: InterpreterInfo,
    layers: Sequence[Layer],
    force: bool = False,
    carry: CarryHook | None = None,
) -> ComposedEnv:
    """The composed env `<workspace>/.envlayers/<name>`, rebuilt only when its inputs changed.

    A layer built for another interpreter than the base's is refused (OperationFailed)."""
    foreign = [layer for layer in layers if not layer.built_for(base)]
    if foreign:
        layer = foreign[0]
        raise OperationFailed(
            f"layer {layer.key} was built for Python {layer.python[1] or '?'} "
            f"({layer.python[0] or 'unknown interpreter'}), not for the base's Python "
            f"{base.version} ({base.base_executable}): it cannot be composed"
        )
    root = workspace / ".envlayers"
    final = root / check_name(name)
    base_dirs = base_site_dirs(base)
    system_site = base.include_system_site_packages
    digest = compose_digest(layers=layers, base=base, base_dirs=base_dirs, system_site=system_site)
    dirs = [str(layer.site_packages) for layer in layers] + base_dirs
    if not force:
        record = load_composed(final)
        if record is not None and record.get("digest") == digest:
            return _from_record(name, final, record, reused=True)
    _ensure_root(root)
    log.info("composing %s from %d layer(s)", final, len(layers))
    tmp = root / f".tmp-{name}-{os.urandom(4).hex()}"
    try:
        record = _build_overlay(tmp, final, workspace, base, layers, digest, dirs)
        if final.is_dir() and carry is not None:
            carry(final, tmp)
        swap_in(tmp, final, kind="composition", roots=[workspace])
    except EnvlayersError:
        discard(tmp, kind="composition", roots=[workspace])
        raise
    except OSError as exc:
        discard(tmp, kind="composition", roots=[workspace])
        raise OperationFailed(f"could not write the composed environment {final}: {exc}") from exc
    except BaseException:
        discard(tmp, kind="composition", roots=[workspace])
        raise
    return _from_record(name, final, record, reused=False)


def _build_overlay(
    tmp: Path,
    final: Path,
    workspace: Path,
    base: InterpreterInfo,
    layers: Sequence[Layer],
    digest: str,
    dirs: list[str],
) -> dict[str, object]:
    """Create the overlay venv in `tmp` (its paths already those of `final`); its record."""
    cfg = {
        "extends-environment": base.prefix,
        "envlayers-layers": ",".join(la.key for la in layers),
    }
    make_dir(tmp, "composition")
    _venv.create_venv(
        tmp,
        base.base_executable,
        system_site_packages=base.include_system_site_packages,
        base=base,
        extra_cfg=cfg,
    )
    site = _venv.site_packages(tmp, base.version_info)
    site.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    for fname, text in overlay_files(dirs).items():
        (site / fname).write_text(text, encoding="utf-8")
        hashes[fname] = hashlib.sha256(text.encode()).hexdigest()
    scripts = _venv.venv_scripts(tmp)
    link_scripts(
        [layer.scripts for layer in layers] + [Path(base.scripts)],
        scripts,
        str(_venv.venv_python(final)),
    )
    for sub in _JUPYTER_DIRS:
        _merge_tree([layer.path / sub for layer in layers] + [Path(base.prefix) / sub], tmp / sub)
    record: dict[str, object] = {
        "format": _FORMAT,
        "name": final.name,
        "workspace": str(workspace),
        "digest": digest,
        "layers": [layer.key for layer in layers],
        "overlayDirs": dirs,
        "sitePackages": str(final / site.relative_to(tmp)),
        "scripts": str(final / scripts.relative_to(tmp)),
        "basePrefix": base.prefix,
        "base": base_identity(base),
        "overlayHashes": hashes,
    }
    atomic_write_json(tmp / COMPOSITION_RECORD, record)
    return record


def _ensure_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        atomic_write_text(ignore, "*\n")


def _from_record(name: str, path: Path, record: dict[str, object], *, reused: bool) -> ComposedEnv:
    layers = record.get("layers")
    dirs = record.get("overlayDirs")
    return ComposedEnv(
        name=name,
        path=path,
        python=_venv.venv_python(path),
        scripts=Path(str(record.get("scripts"))),
        site_packages=Path(str(record.get("sitePackages"))),
        layer_keys=tuple(str(k) for k in layers) if isinstance(layers, list) else (),
        overlay_dirs=tuple(str(d) for d in dirs) if isinstance(dirs, list) else (),
        digest=str(record.get("digest")),
        reused=reused,
    )


def _merge_tree(sources: Sequence[Path], dest: Path) -> None:
    """Make `dest/<entry>/<child>` symlinks to the sources' children, first source wins."""
    for src in sources:
        try:
            entries = sorted(src.iterdir(), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            target = dest / entry.name
            if entry.is_dir():
                if target.is_symlink():
                    continue
                target.mkdir(parents=True, exist_ok=True)
                for child in sorted(entry.iterdir(), key=lambda e: e.name):
                    link = target / child.name
                    if not os.path.lexists(link):
                        os.symlink(child, link)
            elif not os.path.lexists(target):
                dest.mkdir(parents=True, exist_ok=True)
                os.symlink(entry, target)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
