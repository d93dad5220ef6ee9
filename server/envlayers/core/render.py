"""Every rendering of a report (text, json, shell, dotenv, pyright), from its JSON form.

Shared by `report.render` and the CLI's fast path, so stdlib only and cheap to import: no
`json` (it pulls in `re`) until a format needs it, no `typing`, no `pathlib`. A JSON string is
written by json's own C encoder (`_json`), which is what `json.dumps` calls.
"""

from __future__ import annotations

import os

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

try:  # the C encoder behind json.dumps(ensure_ascii=True); CPython always has it
    from _json import encode_basestring_ascii as json_string
except ImportError:  # pragma: no cover - other implementations
    from json.encoder import encode_basestring_ascii as json_string

__all__ = [
    "FORMATS",
    "composed_env",
    "dotenv_lines",
    "env_of",
    "json_string",
    "launch_env",
    "pyright_settings",
    "render",
    "shell_lines",
    "text_lines",
]

FORMATS = ("text", "json", "shell", "dotenv", "pyright")
# What VS Code substitutes with the launching environment's PATH (`${env:NAME}`).
LAUNCH_PATH = "${env:PATH}"


def composed_env(
    virtual_env: str, path_prefix: Sequence[str], inherited_path: str | None = None
) -> dict[str, str]:
    """VIRTUAL_ENV and PATH for a terminal, task or debugger; never PYTHONPATH."""
    current = os.environ.get("PATH", "") if inherited_path is None else inherited_path
    parts = list(path_prefix)
    parts += [p for p in current.split(os.pathsep) if p and p not in parts]
    return {"VIRTUAL_ENV": virtual_env, "PATH": os.pathsep.join(parts)}


def launch_env(virtual_env: str, path_prefix: Sequence[str]) -> dict[str, str]:
    """Like `composed_env`, but PATH is completed when the editor launches (`${env:PATH}`),
    so a configuration never carries a copy of this process's PATH."""
    return {"VIRTUAL_ENV": virtual_env, "PATH": os.pathsep.join([*path_prefix, LAUNCH_PATH])}


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def env_of(data: Mapping[str, object]) -> dict[str, str]:
    """`composed_env` of a report's JSON form (with the current PATH)."""
    return composed_env(str(data.get("virtualEnv", "")), _strs(data.get("pathPrefix")))


def shell_lines(env: Mapping[str, str]) -> str:
    import shlex

    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines.append("unset PYTHONHOME PYTHONPATH")
    return "\n".join(lines)


def dotenv_lines(env: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={_dotenv_quote(v)}" for k, v in env.items())


def _dotenv_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "/._-:+,@%=" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pyright_settings(data: Mapping[str, object]) -> dict[str, object]:
    """Settings for static tools that cannot switch interpreter, from a report's JSON form."""
    sys_path = _strs(data.get("sysPath"))
    virtual_env = str(data.get("virtualEnv", ""))
    return {
        "python.defaultInterpreterPath": data.get("interpreter"),
        "python.analysis.extraPaths": sys_path,
        "pyrightconfig": {
            "extraPaths": list(sys_path),
            "venvPath": os.path.dirname(virtual_env),
            "venv": os.path.basename(virtual_env),
        },
    }


def _layer_lines(layers: object) -> list[str]:
    if not (isinstance(layers, list) and layers):
        return ["layers:       none"]
    lines = ["layers (top first):"]
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        pkgs = layer.get("packages")
        reused = "reused" if layer.get("reused") else "built"
        shown = ", ".join(_strs(layer.get("requirements")))
        lines.append(f"  {layer.get('key')}  [{reused}]  {shown}")
        if isinstance(pkgs, dict):
            lines.append("    " + ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items())))
    return lines


def _conflict_lines(conflicts: object) -> list[str]:
    lines: list[str] = []
    for c in conflicts if isinstance(conflicts, list) else []:
        if not isinstance(c, dict):
            continue
        shadows = c.get("shadows")
        shadow_txt = ", ".join(
            f"{s.get('version')} from {s.get('source')}"
            for s in (shadows if isinstance(shadows, list) else [])
            if isinstance(s, dict)
        )
        lines.append(
            f"conflict: {c.get('name')} {c.get('version')} from {c.get('source')} shadows {shadow_txt}"
        )
        lines += [f"  breaks: {b}" for b in _strs(c.get("breaks"))]
    return lines


def text_lines(data: Mapping[str, object]) -> str:
    """The human-readable report, from its JSON form."""
    sync = data.get("sync")
    sync = sync if isinstance(sync, dict) else {}
    lines = [
        f"workspace:    {data.get('workspace')}",
        f"composition:  {data.get('name') or '(base only)'}",
        f"interpreter:  {data.get('interpreter')}",
        f"python:       {data.get('pythonVersion')}",
        f"base:         {data.get('baseInterpreter')} ({sync.get('state')})",
    ]
    if data.get("script"):
        lines.insert(0, f"script:       {data.get('script')}")
    lines += _layer_lines(data.get("layers"))
    if satisfied := _strs(data.get("satisfiedByBase")):
        lines.append("satisfied by the base: " + ", ".join(satisfied))
    lines += _conflict_lines(data.get("conflicts"))
    for label, key in (
        ("installed:   ", "installed"),
        ("removed:     ", "removed"),
        ("extraneous:  ", "extraneous"),
    ):
        if items := _strs(sync.get(key)):
            lines.append(f"{label} " + ", ".join(items))
    lines += [f"warning: {w}" for w in _strs(data.get("warnings"))]
    return "\n".join(lines)


def _json_around(parts: Sequence[str], env: Mapping[str, str]) -> str:
    """A stored JSON rendering split where `env` goes, with `env` filled in now."""
    before, after = parts
    inner = ",\n".join(f"    {json_string(k)}: {json_string(v)}" for k, v in env.items())
    return f"{before}{{\n{inner}\n  }}{after}"


def render(data: Mapping[str, object], fmt: str, stored_json: Sequence[str] | None = None) -> str:
    """A report's JSON form in `fmt`. `stored_json` is the fast path's JSON rendering, split
    where `env` goes (`data` then has no `env`): `env` is computed now from PATH."""
    if fmt == "json":
        if stored_json is not None:
            return _json_around(stored_json, env_of(data))
        import json

        return json.dumps(dict(data), indent=2)
    if fmt == "pyright":
        import json

        return json.dumps(pyright_settings(data), indent=2)
    if fmt == "shell":
        return shell_lines(env_of(data))
    if fmt == "dotenv":
        return dotenv_lines(env_of(data))
    return text_lines(data)
