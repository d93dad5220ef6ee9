"""Jupyter kernelspec files: what `kernel.json` holds, where kernelspecs live, writing,
carrying and removing the ones envlayers wrote (pure file operations; no engine, no process).

A kernelspec names the composed interpreter by its absolute path and sets only `VIRTUAL_ENV`
and `PATH` (with `${PATH}`, which jupyter_client substitutes at launch); imports come from the
interpreter itself, so a kernel started by another environment's Jupyter sees only its own
composition. Every kernelspec we write carries `metadata.envlayers`, which is how we recognise
(and never overwrite or delete) kernelspecs that others wrote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.fsutil import atomic_write_text, read_json, remove_tree, swap_in
from envlayers.core.owned import mark
from envlayers.core.report import Report

__all__ = [
    "IPYKERNEL",
    "carry_kernelspecs",
    "env_kernels_dir",
    "kernel_logos",
    "kernel_name",
    "kernelspec",
    "remove_kernelspecs",
    "user_kernels_dir",
    "write_kernel_dir",
]

IPYKERNEL = "ipykernel"
_LOGOS = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")
_FALSY = ("no", "n", "false", "off", "0", "0.0")


# -- kernelspecs (pure) ------------------------------------------------------------------------
def kernel_name(report: Report) -> str:
    """The default kernel name: `envlayers-<workspace folder>-<composition>` (Jupyter's charset)."""
    folder = os.path.basename(report.workspace.rstrip("/\\")) or "workspace"
    if report.script:  # a script's folder is a hash in the cache: name it after the script
        folder = os.path.splitext(os.path.basename(report.script))[0] or "script"
    raw = f"envlayers-{folder}-{report.name or 'base'}".lower()
    return re.sub(r"[^a-z0-9._-]+", "-", raw).strip("-.")[:128]


def _stack_label(report: Report) -> str:
    if not report.layers:
        return "base"
    reqs: list[str] = []
    for layer in reversed(report.layers):  # bottom first reads like the command line
        value = layer.get("requirements")
        if isinstance(value, list):
            reqs += [str(r) for r in value]
    text = ", ".join(dict.fromkeys(reqs)) or (report.name or "layers")
    return text if len(text) <= 60 else text[:57] + "..."


def kernelspec(report: Report, *, display_name: str | None = None) -> dict[str, object]:
    """The `kernel.json` for the composition of `report` (pure)."""
    folder = os.path.basename(report.workspace.rstrip("/\\")) or report.workspace
    version = report.python_version or "3"
    shown = display_name or f"Python {version} ({folder}: {_stack_label(report)})"
    env = {"VIRTUAL_ENV": report.virtual_env}
    if report.path_prefix:
        # The composed scripts dir links every layer's and the base's scripts.
        env["PATH"] = f"{report.path_prefix[0]}{os.pathsep}${{PATH}}"
    return {
        "argv": [report.interpreter, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": shown,
        "language": "python",
        "env": env,
        "metadata": {
            "debugger": True,
            "interpreter": {"path": report.interpreter},
            "envlayers": {
                "workspace": report.workspace,
                "composition": report.name,
                "virtualEnv": report.virtual_env,
                "layers": [str(layer.get("key")) for layer in report.layers],
            },
        },
    }


# -- where kernelspecs live -----------------------------------------------------------------------
def user_kernels_dir() -> Path:
    """The user's Jupyter kernels dir, as `jupyter_core.paths.jupyter_data_dir()` computes it."""
    data = os.environ.get("JUPYTER_DATA_DIR")
    if data:
        return Path(data) / "kernels"
    if os.environ.get("JUPYTER_PLATFORM_DIRS", "").lower() not in ("", *_FALSY):
        import platformdirs

        return Path(platformdirs.user_data_dir("jupyter", appauthor=False)) / "kernels"
    home = Path(os.path.expanduser("~"))
    if sys.platform == "darwin":
        return home / "Library" / "Jupyter" / "kernels"
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        base = Path(appdata).resolve() / "jupyter" if appdata else home / ".jupyter" / "data"
        return base / "kernels"
    xdg = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(xdg) / "jupyter" / "kernels"


def env_kernels_dir(virtual_env: Path) -> Path:
    return virtual_env / "share" / "jupyter" / "kernels"


def _ours(kernel_dir: Path) -> dict[str, object] | None:
    """Our metadata, when `kernel_dir` is a real folder holding a kernelspec that we wrote."""
    if kernel_dir.is_symlink():
        return None
    spec = read_json(kernel_dir / "kernel.json")
    meta = spec.get("metadata") if spec else None
    ours = meta.get("envlayers") if isinstance(meta, dict) else None
    return ours if isinstance(ours, dict) else None


def write_kernel_dir(kernels: Path, name: str, spec: dict[str, object], logos: list[Path]) -> Path:
    """Write `kernels/<name>` in one swap; refuse to replace a kernelspec that is not ours."""
    target = kernels / name
    if os.path.lexists(target) and _ours(target) is None:
        raise InvalidInput(
            f"a kernel named {name!r} already exists in {kernels} and was not written by "
            "envlayers; choose another name"
        )
    try:
        kernels.mkdir(parents=True, exist_ok=True)
        tmp = kernels / f".{name}.tmp-{os.urandom(4).hex()}"
        tmp.mkdir()
        mark(tmp, "kernel")
        try:
            text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
            atomic_write_text(tmp / "kernel.json", text, durable=False)
            for logo in logos:
                shutil.copyfile(logo, tmp / logo.name)
            swap_in(tmp, target, kind="kernel", roots=[kernels])
        except BaseException:
            remove_tree(tmp, kind="kernel", roots=[kernels])
            raise
    except OSError as exc:
        raise OperationFailed(f"could not write the kernelspec {target}: {exc}") from exc
    return target


def kernel_logos(report: Report) -> list[Path]:
    for d in report.sys_path:
        resources = Path(d) / IPYKERNEL / "resources"
        if resources.is_dir():
            return [resources / n for n in _LOGOS if (resources / n).is_file()]
    return []


# -- lifecycle: compose and remove_composition call these -------------------------------------
def remove_kernelspecs(virtual_env: Path, *, user: bool = True) -> list[str]:
    """Delete the kernelspecs we wrote for the env at `virtual_env` (its own and the user's)."""
    dirs = [env_kernels_dir(virtual_env)] + ([user_kernels_dir()] if user else [])
    wanted = os.path.normcase(os.path.abspath(virtual_env))
    removed: list[str] = []
    for kernels in dirs:
        try:
            entries = sorted(kernels.iterdir())
        except OSError:
            continue
        for entry in entries:
            ours = _ours(entry)
            venv = ours.get("virtualEnv") if ours else None
            if isinstance(venv, str) and os.path.normcase(os.path.abspath(venv)) == wanted:
                remove_tree(entry, kind="kernel", roots=[kernels])
                removed.append(str(entry))
    return removed


def carry_kernelspecs(old_env: Path, new_env: Path) -> list[str]:
    """Copy the kernelspecs we wrote in `old_env` into `new_env` (a rebuild of the same path)."""
    src = env_kernels_dir(old_env)
    dst = env_kernels_dir(new_env)
    copied: list[str] = []
    try:
        entries = sorted(src.iterdir())
    except OSError:
        return copied
    for entry in entries:
        if _ours(entry) is None or os.path.lexists(dst / entry.name):
            continue
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copytree(entry, dst / entry.name, symlinks=True)
        copied.append(entry.name)
    return copied
