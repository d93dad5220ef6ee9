"""Run inside a target interpreter (3.9+, stdlib only) as `python -I -S _probe.py`.

Prints one line, `ENVLAYERS-PROBE:` + a JSON object, describing the interpreter. `-S` lets us
record the standard library's part of `sys.path` before `site` adds anything; `site.main()`
then runs as it would at normal start-up (venv detection, site dirs).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

MARKER = "ENVLAYERS-PROBE:"

# Before site runs, sys.path holds only the standard library (-I drops the script's folder).
_STDLIB = [p for p in sys.path if p]


def _full_version(info: Any) -> str:
    # Same rule as packaging.markers.format_full_version.
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def _marker_env() -> dict[str, str]:
    import platform

    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": _full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _pyvenv_cfg(prefix: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip().lower()] = value.strip()
    except OSError:
        pass
    return values


def _base_executable(is_venv: bool, cfg: dict[str, str]) -> str:
    exe = getattr(sys, "_base_executable", "") or sys.executable
    if is_venv and os.path.realpath(exe) == os.path.realpath(sys.executable):
        # Before 3.11 a POSIX venv reports itself; its pyvenv.cfg `home` names the real one.
        home = cfg.get("home", "")
        names = [
            "python{}.{}".format(*sys.version_info[:2]),
            f"python{sys.version_info[0]}",
            "python",
        ]
        if os.name == "nt":
            names = ["python.exe"]
        for name in names:
            candidate = os.path.join(home, name)
            if home and os.path.isfile(candidate):
                exe = candidate
                break
        else:
            exe = os.path.realpath(sys.executable)
    return os.path.realpath(exe)


def _sysconfig_paths(prefix: str, exec_prefix: str) -> dict[str, str]:
    import sysconfig

    if hasattr(sysconfig, "get_preferred_scheme"):
        scheme = sysconfig.get_preferred_scheme("prefix")
    else:  # 3.9
        scheme = getattr(sysconfig, "_get_default_scheme")()  # noqa: B009
    # Explicit vars: sysconfig may have cached the prefix before site moved it to a venv's.
    return sysconfig.get_paths(scheme, vars={"base": prefix, "platbase": exec_prefix})


def main() -> None:
    import site

    site.main()
    prefix = sys.prefix
    is_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    cfg = _pyvenv_cfg(prefix) if is_venv else {}
    paths = _sysconfig_paths(prefix, sys.exec_prefix)
    site_dirs = [d for d in site.getsitepackages([prefix]) if os.path.isdir(d)]
    info: dict[str, Any] = {
        "executable": sys.executable,
        "base_executable": _base_executable(is_venv, cfg),
        "version": ".".join(str(p) for p in sys.version_info[:3]),
        "full_version": _full_version(sys.version_info),
        "version_info": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "prefix": prefix,
        "base_prefix": sys.base_prefix,
        "is_venv": is_venv,
        "purelib": paths["purelib"],
        "platlib": paths["platlib"],
        "scripts": paths["scripts"],
        "site_packages": site_dirs,
        "stdlib": _STDLIB,
        "marker_env": _marker_env(),
        "include_system_site_packages": cfg.get("include-system-site-packages", "false").lower()
        == "true",
    }
    sys.stdout.write("\n" + MARKER + json.dumps(info) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
