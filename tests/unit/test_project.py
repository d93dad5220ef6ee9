"""The workspace model: pyproject parsing, spans, problems, select(), requirements files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envlayers.core.errors import ConfigError, EnvlayersError, InvalidInput, InvalidRequirement
from envlayers.core.project import (
    Problem,
    Profile,
    ReqItem,
    Span,
    ToolSettings,
    check_project,
    find_workspace,
    load_project,
    parse_requirement,
    read_requirements_file,
)
from envlayers.core.toml_locate import (
    TomlLocations,
    dotted,
    locate,
    syntax_error_span,
    utf16_character,
)


def write(root: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def texts(items: tuple[ReqItem, ...]) -> list[str]:
    return [i.text for i in items]


def at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `text`."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


FULL = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Demo_App"
version = "1.2"
requires-python = ">=3.9"
dependencies = [
    "alpha>=1",      # a comment, with "quotes" and ] brackets
    # "not-a-dep",
    'beta ; python_version >= "3.9"',
]

[project.optional-dependencies]
Fancy_Stuff = ["gamma"]
all = ["demo-app[fancy.stuff]", "delta"]

[dependency-groups]
Dev = [{ include-group = "test" }, "ruff"]
test = ["pytest>=8", { include-group = "Lint" }]
lint = ["mypy", "pytest>=8"]
docs = ["sphinx"]

[tool.envlayers]
python = "3.12"
venv = "env"
installer = "uv"
default-groups = ["dev", "docs"]
exact = true
index-url = "https://example.invalid/simple"
extra-index-url = ["https://extra.invalid/simple"]
find-links = ["wheels", "https://links.invalid/", "/abs/wheels"]
no-index = true

[tool.envlayers.profiles.nb]
with = ["jupyterlab", "pandas>=2"]
with-editable = ["../mylib"]
with-requirements = ["req/nb.txt"]

[tool.envlayers.profiles."x.y-1"]
with = ["epsilon"]
"""


@pytest.fixture
def full(tmp_path: Path) -> Path:
    write(tmp_path, FULL)
    (tmp_path / ".python-version").write_text("# pinned\n\n3.11.7\n3.12\n")
    (tmp_path / "pylock.toml").write_text("")
    return tmp_path


# ------------------------------------------------------------------------ load_project


def test_load_full_project(full: Path) -> None:
    project = load_project(full)
    raw = (full / "pyproject.toml").read_bytes()
    assert project.root == full
    assert project.pyproject == full / "pyproject.toml"
    assert project.text == raw.decode()
    assert project.sha256 == hashlib.sha256(raw).hexdigest()
    assert (project.name, project.version, project.requires_python) == ("Demo_App", "1.2", ">=3.9")
    assert project.has_build_system
    assert texts(project.dependencies) == ["alpha>=1", 'beta ; python_version >= "3.9"']
    # PEP 685: extra names are normalised.
    assert list(project.optional_dependencies) == ["fancy-stuff", "all"]
    # PEP 735: names normalised, include-group resolved depth first, in order.
    assert dict((k, texts(v)) for k, v in project.dependency_groups.items()) == {
        "dev": ["pytest>=8", "mypy", "pytest>=8", "ruff"],
        "test": ["pytest>=8", "mypy", "pytest>=8"],
        "lint": ["mypy", "pytest>=8"],
        "docs": ["sphinx"],
    }
    assert project.python_version_file == "3.11.7"
    assert project.pylock == full / "pylock.toml"
    assert project.uv_lock is None
    assert project.settings == ToolSettings(
        python="3.12",
        venv="env",
        installer="uv",
        default_groups=("dev", "docs"),
        exact=True,
        index_url="https://example.invalid/simple",
        extra_index_urls=("https://extra.invalid/simple",),
        find_links=(str(full / "wheels"), "https://links.invalid/", "/abs/wheels"),
        no_index=True,
        profiles=project.settings.profiles,
    )
    nb = project.settings.profiles["nb"]
    assert nb == Profile(
        name="nb",
        with_=nb.with_,
        with_editable=(str(full.parent / "mylib"),),
        with_requirements=(str(full / "req" / "nb.txt"),),
    )
    assert texts(nb.with_) == ["jupyterlab", "pandas>=2"]
    assert texts(project.settings.profiles["x.y-1"].with_) == ["epsilon"]


def test_included_items_keep_their_own_span(full: Path) -> None:
    project = load_project(full)
    text = project.text
    mypy = project.dependency_groups["dev"][1]
    assert mypy.text == "mypy"
    assert mypy.span is not None
    assert (mypy.span.line, mypy.span.column) == at(text, '"mypy"')


def test_defaults_for_a_bare_project(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\ndynamic = ["version"]\nversion = "1"\n')
    project = load_project(tmp_path)
    assert project.version is None  # declared dynamic
    assert project.settings == ToolSettings()
    assert not project.has_build_system
    assert project.dependencies == ()
    assert dict(project.optional_dependencies) == {}
    assert project.python_version_file is None
    assert project.pylock is None


def test_empty_pyproject_is_a_project(tmp_path: Path) -> None:
    write(tmp_path, "")
    project = load_project(tmp_path)
    assert project.name is None
    assert project.select() == ()


def test_lock_files_detected(tmp_path: Path) -> None:
    write(tmp_path, "")
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert load_project(tmp_path).uv_lock == tmp_path / "uv.lock"


def test_load_project_accepts_the_file_itself(tmp_path: Path) -> None:
    path = write(tmp_path, '[project]\nname = "x"\n')
    assert load_project(path).root == tmp_path


def test_load_project_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no pyproject\.toml"):
        load_project(tmp_path)


def test_load_project_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "\xff"\n')
    with pytest.raises(InvalidInput, match="UTF-8") as info:
        load_project(tmp_path)
    assert info.value.file == str(tmp_path / "pyproject.toml")


# (pyproject text, error class, text the message must contain, needle locating line/column)
ERRORS = [
    pytest.param(
        '[project]\nname = "x"\ndependencies = [\n  "ok",\n  "bad req !!",\n]\n',
        InvalidRequirement,
        "bad req !!",
        '"bad req !!"',
        id="bad-dependency",
    ),
    pytest.param(
        '[project.optional-dependencies]\nfoo = ["fine", "nope>>1"]\n',
        InvalidRequirement,
        "nope>>1",
        '"nope>>1"',
        id="bad-extra-requirement",
    ),
    pytest.param(
        '[dependency-groups]\ndev = [\n  "pytest",\n  "===",\n]\n',
        InvalidRequirement,
        "'==='",
        '"==="',
        id="bad-group-requirement",
    ),
    pytest.param(
        '[tool.envlayers.profiles.nb]\nwith = [\n  "jupyterlab",\n  "pandas >= = 2",\n]\n',
        InvalidRequirement,
        "pandas >= = 2",
        '"pandas >= = 2"',
        id="bad-profile-requirement",
    ),
    pytest.param(
        '[project]\ndependencies = [""]\n',
        InvalidRequirement,
        "empty",
        '""',
        id="empty-requirement",
    ),
    pytest.param(
        '[project]\nname = "x"\nversion = [1\n',
        InvalidInput,
        "TOML syntax error",
        None,
        id="toml-syntax",
    ),
    pytest.param(
        '[project]\ndependencies = "alpha"\n',
        ConfigError,
        "project.dependencies",
        '"alpha"',
        id="dependencies-not-array",
    ),
    pytest.param(
        '[project]\nrequires-python = ">=3.9,<<4"\n',
        ConfigError,
        "project.requires-python",
        '">=3.9,<<4"',
        id="bad-requires-python",
    ),
    pytest.param("[project]\nname = 3\n", ConfigError, "project.name", "3", id="name-not-string"),
    pytest.param(
        '[tool.envlayers]\npython = "3.12"\nvenvv = ".venv"\n',
        ConfigError,
        "tool.envlayers.venvv: unknown key",
        "venvv",
        id="unknown-setting",
    ),
    pytest.param(
        '[tool.envlayers]\ninstaller = "conda"\n',
        ConfigError,
        "tool.envlayers.installer",
        '"conda"',
        id="bad-installer",
    ),
    pytest.param(
        "[tool.envlayers]\nexact = 1\n",
        ConfigError,
        "tool.envlayers.exact: expected a boolean",
        "1",
        id="exact-not-bool",
    ),
    pytest.param(
        '[tool.envlayers]\nno-index = "true"\n',
        ConfigError,
        "tool.envlayers.no-index",
        '"true"',
        id="no-index-not-bool",
    ),
    pytest.param(
        '[tool.envlayers]\ndefault-groups = "dev"\n',
        ConfigError,
        "tool.envlayers.default-groups",
        '"dev"',
        id="default-groups-not-array",
    ),
    pytest.param(
        '[tool.envlayers]\nextra-index-url = ["https://a.invalid", 3]\n',
        ConfigError,
        "tool.envlayers.extra-index-url[1]",
        "3]",
        id="extra-index-url-item",
    ),
    pytest.param(
        '[tool.envlayers]\nfind-links = "wheels"\n',
        ConfigError,
        "tool.envlayers.find-links",
        '"wheels"',
        id="find-links-not-array",
    ),
    pytest.param(
        '[tool.envlayers]\nindex-url = ""\n',
        ConfigError,
        "tool.envlayers.index-url",
        '""',
        id="empty-index-url",
    ),
    pytest.param(
        "[tool.envlayers]\npython = 3.12\n",
        ConfigError,
        "tool.envlayers.python",
        "3.12",
        id="python-not-string",
    ),
    pytest.param(
        "[tool]\nenvlayers = 1\n",
        ConfigError,
        "tool.envlayers: expected a table",
        "1",
        id="envlayers-not-table",
    ),
    pytest.param(
        '[tool.envlayers.profiles.nb]\nwith = "jupyterlab"\n',
        ConfigError,
        "tool.envlayers.profiles.nb.with: expected an array",
        '"jupyterlab"',
        id="profile-with-not-array",
    ),
    pytest.param(
        '[tool.envlayers.profiles.nb]\nwith = ["a"]\nwith-editable = [1]\n',
        ConfigError,
        "tool.envlayers.profiles.nb.with-editable[0]",
        "1]",
        id="profile-editable-item",
    ),
    pytest.param(
        "[tool.envlayers.profiles.nb]\nwiths = []\n",
        ConfigError,
        "tool.envlayers.profiles.nb.withs: unknown key",
        "withs",
        id="profile-unknown-key",
    ),
    pytest.param(
        "[tool.envlayers.profiles]\nnb = 3\n",
        ConfigError,
        "tool.envlayers.profiles.nb",
        "3",
        id="profile-not-table",
    ),
    pytest.param(
        '[tool.envlayers.profiles."../evil"]\nwith = []\n',
        ConfigError,
        'tool.envlayers.profiles."../evil"',
        "[tool",
        id="profile-name-traversal",
    ),
    pytest.param(
        '[tool.envlayers.profiles."a..b"]\nwith = []\n',
        ConfigError,
        "profile name",
        "[tool",
        id="profile-name-dotdot",
    ),
    pytest.param(
        '[tool.envlayers.profiles]\n"-x" = { with = [] }\n',
        ConfigError,
        "profile name",
        '"-x"',
        id="profile-name-leading-dash",
    ),
    pytest.param(
        '[dependency-groups]\ndev = [{ include-group = "missing" }]\n',
        ConfigError,
        "includes group 'missing'",
        "{ include-group",
        id="unknown-include-group",
    ),
    pytest.param(
        '[dependency-groups]\na = ["x", { include-group = "b" }]\nb = [{ include-group = "A" }]\n',
        ConfigError,
        "Cyclic",
        '{ include-group = "b"',
        id="include-cycle",
    ),
    pytest.param(
        '[dependency-groups]\na = [{ include-group = "a" }]\n',
        ConfigError,
        "includes itself",
        "{ include-group",
        id="include-self",
    ),
    pytest.param(
        '[dependency-groups]\na = [{ include = "b" }]\nb = []\n',
        ConfigError,
        "unknown key 'include'",
        "{ include",
        id="include-bad-key",
    ),
    pytest.param(
        '[dependency-groups]\na = "x"\n',
        ConfigError,
        "dependency-groups.a",
        '"x"',
        id="group-not-array",
    ),
    pytest.param(
        "[dependency-groups]\nTest = []\ntest = []\n",
        ConfigError,
        "defined as 'Test'",
        "test =",
        id="duplicate-group",
    ),
    pytest.param(
        '[project.optional-dependencies]\nfoo_bar = []\n"Foo.Bar" = []\n',
        ConfigError,
        "defined twice",
        '"Foo.Bar"',
        id="duplicate-extra",
    ),
]


@pytest.mark.parametrize(("toml", "error", "fragment", "needle"), ERRORS)
def test_load_errors(
    tmp_path: Path, toml: str, error: type[EnvlayersError], fragment: str, needle: str | None
) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(error) as info:
        load_project(tmp_path)
    exc = info.value
    assert type(exc) is error
    assert fragment in str(exc)
    assert isinstance(exc, InvalidInput)
    assert exc.file == str(path)
    assert exc.kind == "invalid-input"
    assert exc.exit_code == 2
    if needle is not None:
        assert (exc.line, exc.column) == at(toml, needle)
    else:
        assert exc.line is not None
        assert exc.column is not None
    if isinstance(exc, ConfigError):
        assert exc.key.startswith(("project", "tool", "dependency-groups"))
    # check_project reports the same thing at the same place.
    problems = check_project(path, path.read_text())
    errors = [p for p in problems if p.severity == "error"]
    assert errors
    assert (errors[0].span.line, errors[0].span.column) == (exc.line, exc.column)


def test_toml_syntax_error_position(tmp_path: Path) -> None:
    path = write(tmp_path, '[project]\nname = "x"\nversion = = "1"\n')
    with pytest.raises(InvalidInput) as info:
        load_project(tmp_path)
    assert (info.value.line, info.value.column) == (3, 11)
    assert f"{path}:3:11" in str(info.value)
    [problem] = check_project(path, path.read_text())
    assert problem.code == "toml-syntax"
    assert (problem.span.line, problem.span.column) == (3, 11)


def test_config_error_key_is_the_full_dotted_key(tmp_path: Path) -> None:
    write(tmp_path, '[tool.envlayers.profiles.nb]\nwith = "jupyterlab"\n')
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert info.value.key == "tool.envlayers.profiles.nb.with"


def test_requirement_error_in_multiline_array_points_at_element(tmp_path: Path) -> None:
    toml = (
        "[project]\n"
        "dependencies = [\n"
        '    # a comment with "quotes", and a ] bracket\n'
        "    'alpha',  # trailing\n"
        "\n"
        '    """beta>=1""",\n'
        "    \"gamma\",   'delta !!',\n"
        "]\n"
    )
    path = write(tmp_path, toml)
    with pytest.raises(InvalidRequirement) as info:
        load_project(tmp_path)
    assert info.value.text == "delta !!"
    assert (info.value.line, info.value.column) == (7, 16)
    [problem] = check_project(path, toml)
    assert problem.span == Span(str(path), 7, 16, 7, 26)


def test_check_project_reports_every_problem_at_once(tmp_path: Path) -> None:
    toml = textwrap.dedent(
        """\
        [project]
        dependencies = ["ok", "bad !!"]

        [dependency-groups]
        dev = [{ include-group = "nope" }, "pytest"]

        [tool.envlayers]
        installer = "conda"
        mystery = 1
        default-groups = ["dev", "docs"]

        [tool.envlayers.profiles.nb]
        with = ["x", 2]
        with-requirements = ["missing.txt"]

        [tool.envlayers.profiles."a/b"]
        with = []
        """
    )
    path = write(tmp_path, toml)
    problems = check_project(path, toml)
    got = [(p.code, p.severity, p.span.line, p.span.column) for p in problems]
    assert got == [
        ("invalid-requirement", "error", 2, 23),
        ("unknown-include-group", "error", 5, 8),
        ("invalid-value", "error", 8, 13),
        ("unknown-key", "error", 9, 1),
        ("unknown-default-group", "warning", 10, 26),
        ("wrong-type", "error", 13, 14),
        ("missing-path", "warning", 14, 22),
        ("invalid-profile-name", "error", 16, 1),
    ]
    assert all(isinstance(p, Problem) and p.span.file == str(path) for p in problems)
    assert "tool.envlayers.mystery" in problems[3].message


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[tool.envlayers]\ndefault-groups = ["docs"]\n'
        '[tool.envlayers.profiles.nb]\nwith-editable = ["nowhere"]\n',
    )
    project = load_project(tmp_path)
    assert project.settings.default_groups == ("docs",)
    assert project.settings.profiles["nb"].with_editable == (str(tmp_path / "nowhere"),)


def test_check_project_uses_the_given_text_not_the_disk(tmp_path: Path) -> None:
    path = write(tmp_path, "[project]\n")
    problems = check_project(path, "[tool.envlayers]\nvenv = 1\n")
    assert [p.code for p in problems] == ["wrong-type"]


def test_check_project_clean_file(full: Path) -> None:
    path = full / "pyproject.toml"
    (full / "req").mkdir()
    (full / "req" / "nb.txt").write_text("")
    (full.parent / "mylib").mkdir(exist_ok=True)
    assert check_project(path, path.read_text()) == []


# -------------------------------------------------------------------------- settings spans


def test_spans_of_envlayers_keys_and_values(full: Path) -> None:
    text = (full / "pyproject.toml").read_text()
    loc = TomlLocations(text, "f")
    span = loc.value_span(("tool", "envlayers", "installer"))
    assert span == Span("f", *at(text, '"uv"'), at(text, '"uv"')[0], at(text, '"uv"')[1] + 4)
    key = loc.key_span(("tool", "envlayers", "default-groups"))
    assert key is not None
    assert (key.line, key.column) == at(text, "default-groups")
    assert key.end_column - key.column == len("default-groups")
    with_span = loc.value_span(("tool", "envlayers", "profiles", "x.y-1", "with", 0))
    assert with_span is not None
    assert (with_span.line, with_span.column) == at(text, '"epsilon"')
    header = loc.key_span(("tool", "envlayers", "profiles", "nb"))
    assert header is not None
    assert (header.line, header.column) == at(text, "[tool.envlayers.profiles.nb]")


# ---------------------------------------------------------------------------- select()


SELECT_PROJECT = """
[project]
name = "me"
dependencies = ["base"]

[project.optional-dependencies]
plot = ["matplotlib"]
Fast_IO = ["orjson", "base"]
everything = ["me[plot,fast-io]", "me[everything]", "me"]
guarded = ["me[plot] ; python_version < '3.10'"]

[dependency-groups]
dev = ["pytest", { include-group = "lint" }]
lint = ["ruff"]
docs = ["sphinx", "base"]
"""


@pytest.fixture
def sel(tmp_path: Path) -> Path:
    write(tmp_path, SELECT_PROJECT)
    return tmp_path


SELECT_CASES = [
    pytest.param({}, ["base", "pytest", "ruff"], id="defaults-dev"),
    pytest.param({"no_dev": True}, ["base"], id="no-dev"),
    pytest.param({"groups": ["docs"]}, ["base", "pytest", "ruff", "sphinx"], id="extra-group"),
    pytest.param({"groups": ["docs"], "no_dev": True}, ["base", "sphinx"], id="group-no-dev"),
    pytest.param({"groups": ["Lint"], "no_dev": True}, ["base", "ruff"], id="group-normalised"),
    pytest.param({"all_groups": True}, ["base", "pytest", "ruff", "sphinx"], id="all-groups"),
    pytest.param(
        {"all_groups": True, "no_dev": True}, ["base", "ruff", "sphinx"], id="all-groups-no-dev"
    ),
    pytest.param({"groups": ["dev"], "no_dev": True}, ["base"], id="no-dev-wins"),
    pytest.param({"extras": ["fast.io"], "no_dev": True}, ["base", "orjson"], id="extra-pep685"),
    pytest.param(
        {"extras": ["plot", "FAST_IO"], "no_dev": True},
        ["base", "matplotlib", "orjson"],
        id="two-extras",
    ),
    pytest.param(
        {"extras": ["everything"], "no_dev": True},
        ["base", "orjson", "matplotlib"],  # a set of extras: expanded in sorted order
        id="self-reference-expanded",
    ),
    pytest.param(
        {"extras": ["guarded"], "no_dev": True},
        ["base", 'matplotlib; python_version < "3.10"'],
        id="self-reference-marker-kept",
    ),
    pytest.param(
        {"all_extras": True, "no_dev": True},
        ["base", "matplotlib", "orjson", 'matplotlib; python_version < "3.10"'],
        id="all-extras",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), SELECT_CASES)
def test_select(sel: Path, kwargs: dict[str, object], expected: list[str]) -> None:
    project = load_project(sel)
    assert texts(project.select(**kwargs)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"groups": ["nope"]}, "unknown dependency group 'nope'"),
        ({"extras": ["nope"]}, "unknown extra 'nope'"),
    ],
)
def test_select_unknown_names(sel: Path, kwargs: dict[str, list[str]], fragment: str) -> None:
    project = load_project(sel)
    with pytest.raises(InvalidInput, match=fragment) as info:
        project.select(**kwargs)  # type: ignore[arg-type]
    assert info.value.file == str(sel / "pyproject.toml")


def test_select_default_groups_from_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[tool.envlayers]\ndefault-groups = ["Docs", "absent"]\n'
        '[dependency-groups]\ndev = ["pytest"]\ndocs = ["sphinx"]\n',
    )
    project = load_project(tmp_path)
    assert project.settings.default_groups == ("docs", "absent")
    assert texts(project.select()) == ["sphinx"]  # "absent" silently skipped; dev not default
    assert texts(project.select(groups=["dev"])) == ["sphinx", "pytest"]


def test_select_keeps_spans(sel: Path) -> None:
    project = load_project(sel)
    [_, pytest_item, _] = project.select()
    assert pytest_item.span is not None
    assert (pytest_item.span.line, pytest_item.span.column) == at(project.text, '"pytest"')


# ------------------------------------------------------------------- requirements files


def test_read_requirements_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        # top comment
        alpha>=1  # trailing comment

        beta \\
            >=2
        -r sub/more.txt
        --requirement=sub/more.txt
        -e ./lib
        --editable ../other
        gamma @ https://example.invalid/g.zip#sha256=abc
        """,
        "reqs.txt",
    )
    write(tmp_path, "delta\n-r ../reqs.txt\n-e .\n", "sub/more.txt")
    reqs, editables = read_requirements_file(tmp_path / "reqs.txt")
    assert [r.text for r in reqs] == [
        "alpha>=1",
        "beta     >=2",
        "delta",
        "gamma @ https://example.invalid/g.zip#sha256=abc",
    ]
    assert editables == [
        str(tmp_path / "sub"),
        str(tmp_path / "lib"),
        str(tmp_path.parent / "other"),
    ]
    alpha, beta, delta, _ = reqs
    assert alpha.span == Span(str(tmp_path / "reqs.txt"), 2, 1, 2, 9)
    assert beta.span is not None
    assert beta.span.line == 4
    assert delta.span is not None
    assert (delta.span.file, delta.span.line) == (str(tmp_path / "sub" / "more.txt"), 1)


@pytest.mark.parametrize(
    ("content", "error", "fragment", "line"),
    [
        ("alpha\n--index-url https://x.invalid\n", InvalidInput, "unsupported option", 2),
        ("-c constraints.txt\n", InvalidInput, "unsupported option", 1),
        ("--pre\n", InvalidInput, "unsupported option", 1),
        ("alpha==1 --hash=sha256:abc\n", InvalidInput, "per-requirement options", 1),
        ("-e git+https://x.invalid/r.git#egg=r\n", InvalidInput, "only local paths", 1),
        # The file may be a netrc or a key: a line that is not a requirement is not echoed.
        ("\n\nalpha !!\n", InvalidInput, "^(?!.*alpha !!).*not a requirement", 3),
        ("./some/path\n", InvalidInput, "^(?!.*some/path).*not a requirement", 1),
        (
            "machine h login a password sEcReT\n",
            InvalidInput,
            "^(?!.*sEcReT).*not a requirement",
            1,
        ),
        ("ok\n-r missing.txt\n", InvalidInput, "not found", 2),
    ],
)
def test_read_requirements_file_errors(
    tmp_path: Path, content: str, error: type[InvalidInput], fragment: str, line: int
) -> None:
    path = tmp_path / "r.txt"
    path.write_text(content)
    with pytest.raises(error, match=fragment) as info:
        read_requirements_file(path)
    assert info.value.file == str(path)
    assert info.value.line == line


def test_read_requirements_file_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        read_requirements_file(tmp_path / "absent.txt")


def test_read_requirements_file_cycle_is_harmless(tmp_path: Path) -> None:
    write(tmp_path, "a\n-r b.txt\n", "a.txt")
    write(tmp_path, "b\n-r a.txt\n-r ./a.txt\n", "b.txt")
    reqs, _ = read_requirements_file(tmp_path / "a.txt")
    assert [r.text for r in reqs] == ["a", "b"]


# ---------------------------------------------------------------------- parse_requirement


def test_parse_requirement_ok() -> None:
    req = parse_requirement(ReqItem('Foo[bar]>=1; python_version >= "3.9"', None))
    assert (req.name, req.extras, str(req.specifier)) == ("Foo", {"bar"}, ">=1")


def test_parse_requirement_error_carries_span() -> None:
    item = ReqItem("foo >= >= 1", Span("/p/pyproject.toml", 4, 7, 4, 20))
    with pytest.raises(InvalidRequirement) as info:
        parse_requirement(item)
    exc = info.value
    assert (exc.text, exc.file, exc.line, exc.column) == ("foo >= >= 1", "/p/pyproject.toml", 4, 7)
    assert str(exc).startswith("/p/pyproject.toml:4:7: invalid requirement 'foo >= >= 1'")


def test_parse_requirement_without_span() -> None:
    with pytest.raises(InvalidRequirement) as info:
        parse_requirement(ReqItem("", None))
    assert info.value.file is None


# ------------------------------------------------------------------------- find_workspace


def test_find_workspace(tmp_path: Path) -> None:
    write(tmp_path, "")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "f.py").write_text("")
    assert find_workspace(deep) == tmp_path
    assert find_workspace(deep / "f.py") == tmp_path
    assert find_workspace(tmp_path / "pyproject.toml") == tmp_path
    write(tmp_path / "a", "")
    assert find_workspace(deep) == tmp_path / "a"


def test_find_workspace_none(tmp_path: Path) -> None:
    if any((p / "pyproject.toml").is_file() for p in tmp_path.parents):
        pytest.skip("a pyproject.toml sits above the temporary folder")
    with pytest.raises(InvalidInput, match=r"no pyproject\.toml"):
        find_workspace(tmp_path)


# ---------------------------------------------------------------------------- toml_locate


LOCATE_DOC = """\
top = 1
"quoted key" = 'v'
a.b . "c.d" = [1, [2, 3], { x = "y" }]
inline = { k1 = "v1", nested = { k2 = 2 } }
ml = \"\"\"line one
line \\"\"\" two\"\"\"
after = true

[t."sub.table"]  # comment
arr = [
  # "decoy",
  "one", # c
  'two',
]
[[aot]]
name = "first"
[[aot]]
name = "second"
"""


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        (("top",), False, (1, 7, 1, 8)),
        (("quoted key",), False, (2, 16, 2, 19)),
        (("quoted key",), True, (2, 1, 2, 13)),
        (("a", "b", "c.d", 1, 0), False, (3, 20, 3, 21)),
        (("a", "b", "c.d", 2, "x"), False, (3, 33, 3, 36)),
        (("a", "b"), True, (3, 1, 3, 4)),
        (("inline", "nested", "k2"), False, (4, 39, 4, 40)),
        (("ml",), False, (5, 6, 6, 17)),
        (("after",), False, (7, 9, 7, 13)),
        (("t", "sub.table"), True, (9, 1, 9, 16)),
        (("t", "sub.table", "arr", 0), False, (12, 3, 12, 8)),
        (("t", "sub.table", "arr", 1), False, (13, 3, 13, 8)),
        (("aot", 1, "name"), False, (18, 8, 18, 16)),
        (("aot", 0), True, (15, 1, 15, 8)),
        # fallbacks: nearest enclosing key, then the first line
        (("t", "sub.table", "arr", 7), False, (10, 1, 10, 4)),
        (("t", "sub.table", "missing"), False, (9, 1, 9, 16)),
        (("nothing", "here"), False, (1, 1, 1, 8)),
    ],
)
def test_locate(
    path: tuple[str | int, ...], key: bool, expected: tuple[int, int, int, int]
) -> None:
    span = locate(LOCATE_DOC, path, file="doc.toml", key=key)
    assert (span.line, span.column, span.end_line, span.end_column) == expected
    assert span.file == "doc.toml"


def test_locate_index_argument_and_dotted_string() -> None:
    assert locate(LOCATE_DOC, "t.sub.table", key=True).line == 1  # dots split: not found
    assert locate(LOCATE_DOC, ("t", "sub.table", "arr"), 1).line == 13


def test_span_lsp_fields() -> None:
    span = Span("f", 3, 5, 4, 1)
    assert (span.lsp_line, span.lsp_character, span.lsp_end_line, span.lsp_end_character) == (
        2,
        4,
        3,
        0,
    )


def test_utf16_character() -> None:
    text = 'a = 1\nx = ["\U0001f600", "b !!"]\n'
    span = locate(text, ("x", 1))
    assert (span.line, span.column) == (2, 11)
    assert utf16_character(text, span.line, span.column) == 11  # the emoji is two code units
    assert utf16_character(text, 1, 3) == 2
    assert utf16_character(text, 99, 3) == 2


def test_dotted() -> None:
    assert dotted(("tool", "envlayers", "profiles", "my.nb", "with", 2)) == (
        'tool.envlayers.profiles."my.nb".with[2]'
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Invalid value (at line 2, column 3)", (2, 3)),
        ("Unclosed array (at end of document)", (3, 3)),
        ("Something (at line 99, column 99)", (3, 4)),
    ],
)
def test_syntax_error_span(message: str, expected: tuple[int, int]) -> None:
    span = syntax_error_span("a = 1\nb = \nccc", message, "f")
    assert (span.line, span.column) == expected


# --------------------------------------------------------------------------- properties

_FRAGMENTS = [
    "[project]",
    "[tool.envlayers]",
    "[tool.envlayers.profiles.nb]",
    "[dependency-groups]",
    "[project.optional-dependencies]",
    "[[aot]]",
    "[tool]",
    "[build-system]",
    'name = "x"',
    "dependencies = [",
    '"alpha>=1",',
    "'bad !!',",
    "]",
    "}",
    "{",
    "with = [",
    'dev = [{ include-group = "dev" }]',
    'test = [{include-group="nope"}]',
    "installer = 3",
    'venv = ""',
    "exact = true",
    "default-groups = []",
    "profiles = 1",
    'a.b.c = "d"',
    '"q.k" = [1, 2]',
    '"""',
    "'''",
    "#",
    "\\",
    "=",
    ",",
    '"',
    "'",
    'with-editable = ["x"]',
    'with-requirements = [""]',
    "requires-python = '>=3'",
    "dynamic = ['version']",
    "envlayers = {}",
    "x = { y = [ { z = 1 } ] }",
]

_toml_like = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=12)), max_size=30
).map("\n".join)

# Valid TOML with our keys and random shapes, so the checks past the parser get exercised.
_KEYS = [
    "project",
    "name",
    "version",
    "dependencies",
    "optional-dependencies",
    "requires-python",
    "dynamic",
    "dependency-groups",
    "dev",
    "test",
    "include-group",
    "tool",
    "envlayers",
    "python",
    "venv",
    "installer",
    "default-groups",
    "exact",
    "index-url",
    "extra-index-url",
    "find-links",
    "no-index",
    "profiles",
    "nb",
    "with",
    "with-editable",
    "with-requirements",
    "../x",
    "me",
    "build-system",
]
_STRINGS = ["alpha", "bad !!", "me[dev]", "uv", ">=3.9", "dev", "", "x; python_version>'3'"]


def _nested(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    # A named function, not a lambda: hypothesis reads its source to check that it recurses,
    # and reading a lambda's source is unreliable (a flaky HypothesisDeprecationWarning).
    return st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)
    )


_values = st.recursive(
    st.one_of(st.sampled_from(_STRINGS), st.text(max_size=8), st.integers(), st.booleans()),
    _nested,
    max_leaves=25,
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_doc(doc: dict[str, object]) -> str:
    return "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in doc.items())


_tables = st.dictionaries(st.sampled_from(_KEYS), _values, max_size=5)
_reqs = st.lists(
    st.one_of(
        st.sampled_from(_STRINGS),
        st.dictionaries(
            st.sampled_from(["include-group", "x"]),
            st.sampled_from(["dev", "test", "nope", "Dev"]),
            min_size=1,
            max_size=2,
        ),
    ),
    max_size=4,
)
_skeleton = st.fixed_dictionaries(
    {},
    optional={
        "project": st.fixed_dictionaries(
            {"name": st.sampled_from(["me", "other"])},
            optional={
                "dependencies": _reqs,
                "optional-dependencies": st.dictionaries(st.sampled_from(_KEYS), _reqs),
            },
        ),
        "dependency-groups": st.dictionaries(st.sampled_from(["dev", "test", "Dev", "a"]), _reqs),
        "tool": st.fixed_dictionaries(
            {
                "envlayers": st.one_of(
                    _tables,
                    st.fixed_dictionaries(
                        {
                            "profiles": st.dictionaries(
                                st.sampled_from(["nb", "../x", "a.b", "-"]), _tables
                            )
                        }
                    ),
                )
            }
        ),
    },
)
_structured = st.one_of(_tables, _skeleton).map(_toml_doc)
_any_text = st.one_of(st.text(max_size=300), _toml_like, _structured)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_any_text)
def test_check_project_never_raises(text: str) -> None:
    problems = check_project(Path("/nowhere/pyproject.toml"), text)
    assert all(p.severity in ("error", "warning") for p in problems)
    assert all(p.code != "internal" for p in problems)
    for p in problems:
        assert p.span.line >= 1
        assert p.span.column >= 1
        assert (p.span.end_line, p.span.end_column) >= (p.span.line, p.span.column)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(_any_text)
def test_load_project_only_raises_envlayers_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8", newline="")
    errors = [p for p in check_project(path, text) if p.severity == "error"]
    try:
        project = load_project(tmp_path)
    except EnvlayersError as exc:
        assert isinstance(exc, InvalidInput)
        assert exc.file == str(path)
        # load_project raises exactly the first problem that check_project reports.
        assert errors
        assert (exc.line, exc.column) == (errors[0].span.line, errors[0].span.column)
        return
    assert errors == []
    # InvalidInput is allowed here: a self-reference to an undefined extra.
    with contextlib.suppress(InvalidInput):
        project.select(all_groups=True, all_extras=True)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.lists(st.one_of(st.text(max_size=5), st.integers(-1, 5))))
def test_locate_never_raises(text: str, path: list[str | int]) -> None:
    span = TomlLocations(text, "f").find(path)
    assert span.line >= 1
    assert span.column >= 1
