"""Hostile and malformed input: a clear error each time, nothing run through a shell, nothing
written or deleted outside the workspace's `.envlayers/` and the cache."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import EnvlayersError, InvalidInput
from envlayers.core.project import check_project, load_project
from envlayers.core.satisfy import parse_request
from tests.support.cli import cli
from tests.support.disk import published, snapshot
from tests.support.workspaces import uv_workspace

PACKAGE = Path(__file__).resolve().parents[2] / "server" / "envlayers"
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- no shell, statically ----------------------------------------------------------------
def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    out: list[tuple[str, ast.Call]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out.append((ast.unparse(node.func), node))
    return out


def test_no_shell_anywhere_in_the_package() -> None:
    offenders: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, call in _calls(tree):
            where = f"{path.relative_to(PACKAGE)}:{call.lineno}"
            if name in (
                "os.system",
                "os.popen",
                "subprocess.getoutput",
                "subprocess.getstatusoutput",
            ):
                offenders.append(f"{where} {name}")
            if name.startswith(("os.spawn", "os.exec")) and name.endswith("p"):
                offenders.append(f"{where} {name}")  # PATH lookups by a shell-like rule
            for kw in call.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    offenders.append(f"{where} {name}(shell=...)")
    assert offenders == []
    # And the subprocess module is used in two places only: the runner and `envlayers run`.
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "subprocess." in p.read_text(encoding="utf-8")
    )
    assert set(users) <= {"core/proc.py", "cli.py", "core/interpreter.py"}, users


# -- no shell, dynamically ---------------------------------------------------------------
def _shell_payloads(canary: Path) -> list[str]:
    c = str(canary)
    return [
        f"plugin; $(touch {c})",
        f"plugin`touch {c}`",
        f"plugin; touch {c}",
        f"plugin && touch {c}",
        f"plugin | touch {c}",
        f"plugin\ntouch {c}",
        "plugin\n--index-url=http://127.0.0.1:9/simple",
        "--index-url=http://127.0.0.1:9/simple",
        "--extra-index-url http://127.0.0.1:9/simple plugin",
        "-e /tmp",
        "-r /etc/passwd",
        "--config-settings=x=y",
        f"pwn @ file:///nonexistent/$(touch%20{c})",
        f"pwn @ file:///nonexistent/`touch {c}`",
        f"pwn @ https://127.0.0.1:9/$(touch {c})/pwn.whl",
        f"plugin; python_version > '$(touch {c})'",
        f"plugin[$(touch {c})]",
    ]


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    root = uv_workspace(tmp_path / "ws", wheelhouse)
    Engine().sync(root)
    return root


@pytest.mark.slow
def test_requirement_payloads_are_refused_or_fail_cleanly_and_never_run(
    ws: Path, tmp_path: Path, envlayers_cache: Path
) -> None:
    canary = tmp_path / "pwned"
    engine = Engine()
    before = snapshot(tmp_path, skip=[ws / ".envlayers"])
    for payload in _shell_payloads(canary):
        try:
            # A false marker may legitimately need nothing: success is fine, running is not.
            engine.compose(ws, Options(with_=(payload,), no_sync=True))
        except EnvlayersError as exc:
            assert str(exc).strip(), payload
            # An option smuggled in a requirement is refused as input, before any installer.
            if payload.lstrip().startswith("-") or "\n" in payload:
                assert isinstance(exc, InvalidInput), (payload, exc)
        else:
            assert "python_version" in payload, payload
        assert not canary.exists(), payload
    assert published(envlayers_cache) == []
    assert snapshot(tmp_path, skip=[ws / ".envlayers"]) == before
    # The same through the CLI: exit 2 for bad input, 1 for a failed install, never 0.
    for payload in _shell_payloads(canary)[:8]:
        result = cli("env", "--no-sync", "--with", payload, "--project", str(ws))
        assert result.returncode in (1, 2), (payload, result.stdout)
        assert result.stderr.startswith("envlayers: error:") or "usage" in result.stderr
        assert not canary.exists()


@pytest.mark.slow
def test_payloads_in_pyproject_and_requirements_files(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    canary = tmp_path / "pwned"
    for i, payload in enumerate(
        [f"plugin; touch {canary}", "--index-url=http://127.0.0.1:9/simple", f"$(touch {canary})"]
    ):
        ws = uv_workspace(tmp_path / f"dep{i}", wheelhouse, dependencies=("beta", payload))
        result = cli("sync", "--project", str(ws))
        assert result.returncode == 2, result.stderr
        # The message names the file and the line of the bad requirement.
        assert f"{ws / 'pyproject.toml'}:" in result.stderr, result.stderr
        assert not (ws / ".venv").exists() or not canary.exists()
    ws = uv_workspace(tmp_path / "reqs", wheelhouse)
    reqs = ws / "requirements-x.txt"
    reqs.write_text(f"plugin\n--index-url http://127.0.0.1:9/simple\n$(touch {canary})\n")
    result = cli("env", "--with-requirements", str(reqs), "--project", str(ws))
    assert result.returncode == 2 and f"{reqs}:2" in result.stderr, result.stderr
    prof = uv_workspace(
        tmp_path / "prof",
        wheelhouse,
        extra_tool=f'[tool.envlayers.profiles.bad]\nwith = ["plugin", "$(touch {canary})"]\n',
    )
    result = cli("env", "--profile", "bad", "--project", str(prof))
    assert result.returncode == 2, result.stderr
    assert not canary.exists()
    assert published(envlayers_cache) == []


@SETTINGS
@given(text=st.text(alphabet=string.printable + "$`;|&'\"\\\x00\u2028", max_size=80))
def test_any_requirement_string_parses_or_is_refused(text: str) -> None:
    try:
        request = parse_request(text)
    except InvalidInput as exc:
        assert repr(text) in str(exc) or text.strip() == ""
        return
    shown = str(request.requirement)
    # What reaches an installer is one line and never an option.
    assert not shown.startswith("-") and "\n" not in shown and "\r" not in shown


@pytest.mark.slow
def test_huge_extras_list(ws: Path) -> None:
    extras = ",".join(f"e{i}" for i in range(3000))
    engine = Engine()
    try:
        report = engine.compose(ws, Options(with_=(f"delta[{extras}]",), no_sync=True))
    except EnvlayersError as exc:  # refusing is fine; crashing or hanging is not
        assert "delta" in str(exc)
    else:
        assert [la["requirements"] for la in report.layers] == [[f"delta[{extras}]"]] or (
            len(report.layers) == 1
        )


# -- malformed pyproject.toml --------------------------------------------------------------
@SETTINGS
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_in_pyproject(tmp_path: Path, data: bytes) -> None:
    root = tmp_path / "bytes"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_bytes(data)
    try:
        load_project(root)
    except InvalidInput as exc:
        assert "pyproject.toml" in str(exc)
    text = data.decode("utf-8", errors="replace")
    problems = check_project(root / "pyproject.toml", text)
    assert all(p.code != "internal" for p in problems), problems


_TOML_ATOMS = st.sampled_from(
    ['"x"', "1", "true", "[]", "{}", '"--index-url=http://evil/"', '"$(touch /tmp/x)"', "1e999"]
)


def _toml_array(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _toml_table(table: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"


def _toml_nested(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Named functions, not lambdas: hypothesis reads this one's source to check it recurses.
    return st.lists(inner, max_size=3).map(_toml_array) | st.dictionaries(
        st.sampled_from(["a", "b", "with"]), inner, max_size=2
    ).map(_toml_table)


@SETTINGS
@given(
    table=st.sampled_from(
        ["project", "tool.envlayers", "dependency-groups", "tool.envlayers.profiles.p"]
    ),
    key=st.sampled_from(
        ["dependencies", "name", "with", "dev", "python", "venv", "find-links", "x"]
    ),
    value=st.recursive(_TOML_ATOMS, _toml_nested, max_leaves=8),
)
def test_wrong_types_in_pyproject(tmp_path: Path, table: str, key: str, value: str) -> None:
    root = tmp_path / "types"
    root.mkdir(exist_ok=True)
    text = f'[project]\nname = "demo"\nversion = "1"\n\n[{table}]\n{key} = {value}\n'
    if table == "project":
        text = f'[project]\nname = "demo"\nversion = "1"\n{key} = {value}\n'.replace(
            'name = "demo"\nversion = "1"\nname = ', 'version = "1"\nname = '
        )
    (root / "pyproject.toml").write_text(text)
    try:
        load_project(root)
    except InvalidInput as exc:
        assert "pyproject.toml" in str(exc)
    assert all(p.code != "internal" for p in check_project(root / "pyproject.toml", text))


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 50_000 + "]" * 50_000,
        "a = " + "{b = " * 5_000 + "1" + "}" * 5_000,
        "[" + ".".join(["a"] * 20_000) + "]\n",
        "[project]\nname = 'x'\ndependencies = [" + ", ".join(['"beta"'] * 20_000) + "]\n",
        "x = '" + "y" * 2_000_000 + "'\n",
    ],
    ids=["deep-arrays", "deep-tables", "long-dotted-key", "many-deps", "huge-string"],
)
def test_deep_and_huge_pyproject(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    try:
        load_project(tmp_path)
    except InvalidInput as exc:
        assert "pyproject.toml" in str(exc)
    problems = check_project(tmp_path / "pyproject.toml", text)
    assert all(p.code != "internal" for p in problems), problems[:1]


# -- paths: profile names and layer keys ----------------------------------------------------
_BAD_NAMES = ["../x", "../../x", "/etc", "/tmp/x", "..", ".", "a/b", "a\\b", "x\x00y", "~root", ""]


@pytest.mark.slow
def test_hostile_names_and_keys_touch_nothing_outside(
    ws: Path, tmp_path: Path, envlayers_cache: Path
) -> None:
    engine = Engine()
    good = engine.compose(ws, Options(with_=("plugin",), no_sync=True))
    key = str(good.layers[0]["key"])
    # Victims beside the workspace and beside the cache's layers folder.
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("keep")
    (envlayers_cache / "layers" / "x").mkdir()
    outside = snapshot(tmp_path, skip=[ws / ".envlayers"])
    cache_before = snapshot(envlayers_cache)
    for name in _BAD_NAMES:
        with pytest.raises(InvalidInput):
            engine.compose(ws, Options(profile=name, no_sync=True))
    for bad_key in [
        *_BAD_NAMES,
        f"{key}/..",
        f"../{key}",
        key.upper(),
        key + "0",
        str(envlayers_cache),
    ]:
        with pytest.raises(InvalidInput):
            engine.remove_layer(bad_key)
        if "\x00" not in bad_key:  # argv cannot carry NUL at all
            result = cli("layers", "remove", "--", bad_key)
            assert result.returncode == 2, (bad_key, result.stderr)
    # A profile whose name is a path, declared in pyproject.toml itself.
    text = (ws / "pyproject.toml").read_text()
    (ws / "pyproject.toml").write_text(
        text + '\n[tool.envlayers.profiles."../../x"]\nwith = ["eta"]\n'
    )
    result = cli("env", "--no-sync", "--profile", "../../x", "--project", str(ws))
    assert result.returncode == 2, result.stderr
    (ws / "pyproject.toml").write_text(text)
    after = snapshot(tmp_path, skip=[ws / ".envlayers"])
    # pyproject.toml was rewritten by the test itself; nothing else changed.
    after.pop("ws/pyproject.toml")
    outside.pop("ws/pyproject.toml")
    assert after == outside
    assert snapshot(envlayers_cache) == cache_before
    assert (tmp_path / "x" / "keep").read_text() == "keep"
    assert engine.report(ws).interpreter == good.interpreter
    assert json.loads(cli("layers", "list", "--format", "json").stdout)[0]["key"] == key
