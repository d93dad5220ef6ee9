"""pip and uv behind one interface: real venvs, real installers, offline from tiny wheels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from envlayers.core import installer as inst_mod
from envlayers.core import proc
from envlayers.core.errors import Cancelled, InstallFailed, InvalidInput, OperationFailed
from envlayers.core.installer import (
    IndexSettings,
    Installer,
    PipInstaller,
    UvInstaller,
    find_uv,
    get_installer,
)
from envlayers.core.proc import CancelToken
from envlayers.core.venv import create_venv, site_packages, venv_python
from tests.support.projects import write_project
from tests.support.wheels import build_wheel

PYENV = Path("/root/.pyenv/versions")
SECRET = "s3cr3t-t0ken"


def _python(minor: int) -> Path:
    found = sorted(PYENV.glob(f"3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"no CPython 3.{minor} under {PYENV}")
    return found[-1]


def _installed(venv: Path, minor: int) -> dict[str, str]:
    """{name: version} from the dist-info folders in the venv's site-packages."""
    out: dict[str, str] = {}
    for d in site_packages(venv, (3, minor)).glob("*.dist-info"):
        name, _, version = d.name[: -len(".dist-info")].partition("-")
        out[name.lower()] = version
    return out


@pytest.fixture
def offline(wheelhouse: Path) -> IndexSettings:
    return IndexSettings(find_links=(str(wheelhouse),), no_index=True)


@pytest.fixture
def installer(installer_name: str) -> Installer:
    return get_installer(installer_name)


@pytest.fixture
def minor() -> int:
    """The target's 3.x minor; tests that must cover 3.9 (pip runs from a bundled wheel
    there, since ours refuses targets older than 3.10) parametrize it."""
    return 12


@pytest.fixture
def env(tmp_path: Path, minor: int) -> Path:
    dest = tmp_path / "env"
    create_venv(dest, str(_python(minor)))
    return dest


# --------------------------------------------------------------------------- install / uninstall


@pytest.mark.parametrize("minor", [12, 9], ids=["py3.12", "py3.9"])
def test_install_and_uninstall(
    installer: Installer, env: Path, minor: int, offline: IndexSettings
) -> None:
    lines: list[str] = []
    py = str(venv_python(env))
    installer.install(py, ["beta"], index=offline, on_line=lines.append)
    assert _installed(env, minor) == {"alpha": "2.0", "beta": "1.0"}
    assert lines, "the installer's own lines are forwarded"
    # the env got no pip of its own: the installer ran from outside
    assert "pip" not in _installed(env, minor)
    out = subprocess.run(
        [py, "-c", "import alpha, beta; print(alpha.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "2.0"

    installer.uninstall(py, ["beta", "not-installed-at-all"], on_line=lines.append)
    assert _installed(env, minor) == {"alpha": "2.0"}


@pytest.mark.parametrize("minor", [12, 9], ids=["py3.12", "py3.9"])
def test_constraints_are_honoured(
    installer: Installer, env: Path, minor: int, offline: IndexSettings
) -> None:
    installer.install(str(venv_python(env)), ["beta"], constraints=["alpha<2"], index=offline)
    assert _installed(env, minor) == {"alpha": "1.0", "beta": "1.0"}


def test_no_deps_and_reinstall(
    installer: Installer, env: Path, minor: int, offline: IndexSettings
) -> None:
    py = str(venv_python(env))
    installer.install(py, ["beta"], no_deps=True, index=offline)
    assert _installed(env, minor) == {"beta": "1.0"}
    init = site_packages(env, (3, minor)) / "beta" / "__init__.py"
    init.unlink()  # not an in-place write: uv hard-links files from its cache
    init.write_text("BROKEN = True\n")
    installer.install(py, ["beta"], no_deps=True, index=offline)
    assert init.read_text() == "BROKEN = True\n"  # already satisfied: left alone
    installer.install(py, ["beta"], no_deps=True, reinstall=True, index=offline)
    assert "BROKEN" not in init.read_text()


def test_editable_install(
    installer: Installer, env: Path, tmp_path: Path, offline: IndexSettings
) -> None:
    project = write_project(tmp_path / "proj", name="demo-app", dependencies=["epsilon"])
    py = str(venv_python(env))
    installer.install(py, [], editables=[str(project)], index=offline, cwd=tmp_path)
    assert _installed(env, 12) == {"demo_app": "0.1.0", "epsilon": "1.0"}
    direct = next(site_packages(env, (3, 12)).glob("demo_app-*.dist-info")) / "direct_url.json"
    assert json.loads(direct.read_text())["dir_info"] == {"editable": True}


# --------------------------------------------------------------------------- failures


def test_unknown_package_raises_install_failed_naming_it(
    installer: Installer, env: Path, offline: IndexSettings
) -> None:
    with pytest.raises(InstallFailed) as err:
        installer.install(str(venv_python(env)), ["nosuchpkg"], index=offline)
    exc = err.value
    assert exc.returncode != 0
    assert exc.kind == "install-failed" and exc.exit_code == 1
    assert "nosuchpkg" in exc.stderr_tail  # the installer's own words
    assert installer.name in str(exc)
    if installer.name == "pip":
        assert "No matching distribution found for nosuchpkg" in exc.stderr_tail
    else:
        assert "nosuchpkg was not found" in exc.stderr_tail
    assert _installed(env, 12) == {}


def test_credentials_never_appear_in_errors_or_lines(
    installer: Installer, env: Path, wheelhouse: Path
) -> None:
    index = IndexSettings(
        index_url=f"https://user:{SECRET}@127.0.0.1:9/simple",
        extra_index_urls=(f"https://{SECRET}@127.0.0.1:9/extra",),
        find_links=(str(wheelhouse),),
        no_index=True,
    )
    lines: list[str] = []
    with pytest.raises(InstallFailed) as err:
        installer.install(str(venv_python(env)), ["nosuchpkg"], index=index, on_line=lines.append)
    exc = err.value
    assert "nosuchpkg" in str(exc)
    assert "127.0.0.1:9/simple" in str(exc)  # the URL is shown, its credentials are not
    for text in (str(exc), exc.stderr_tail, " ".join(exc.cmd), *lines):
        assert SECRET not in text
    assert SECRET not in repr(index.redacted())


@pytest.mark.parametrize(
    ("requirements", "editables", "constraints"),
    [
        (["--index-url=https://evil/simple"], [], []),
        (["-e."], [], []),
        (["alpha\n--pre"], [], []),
        ([""], [], []),
        (["alpha"], ["--config-settings=x"], []),
        (["alpha"], [], ["-r /etc/passwd"]),
    ],
)
def test_option_smuggling_is_refused(
    installer: Installer,
    env: Path,
    offline: IndexSettings,
    monkeypatch: pytest.MonkeyPatch,
    requirements: list[str],
    editables: list[str],
    constraints: list[str],
) -> None:
    monkeypatch.setattr(proc, "run", _forbidden_run)
    with pytest.raises(InvalidInput):
        installer.install(
            str(venv_python(env)),
            requirements,
            editables=editables,
            constraints=constraints,
            index=offline,
        )
    with pytest.raises(InvalidInput):
        installer.uninstall(str(venv_python(env)), ["-y"])
    with pytest.raises(InvalidInput):
        installer.install(
            str(venv_python(env)), ["alpha"], index=IndexSettings(index_url="--trusted-host=x")
        )


def _forbidden_run(*args: object, **kwargs: object) -> proc.ProcResult:
    raise AssertionError("no process may start for a refused argument")


def test_cancelled_install_raises_and_spawns_nothing(
    installer: Installer, env: Path, offline: IndexSettings
) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        installer.install(str(venv_python(env)), ["beta"], index=offline, cancel=token)
    assert _installed(env, 12) == {}


def test_nothing_to_install_is_a_no_op(
    installer: Installer, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proc, "run", _forbidden_run)
    installer.install(str(venv_python(env)), [])
    installer.uninstall(str(venv_python(env)), [])


# --------------------------------------------------------------------------- choosing an installer


def test_get_installer_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    uv = find_uv()
    assert uv is not None and os.access(uv, os.X_OK)
    auto = get_installer()
    assert isinstance(auto, UvInstaller) and auto.name == "uv"
    assert isinstance(get_installer("pip"), PipInstaller)
    assert get_installer("pip").name == "pip"
    with pytest.raises(InvalidInput, match="unknown installer 'poetry'"):
        get_installer("poetry")

    monkeypatch.setattr(inst_mod, "find_uv", lambda: None)
    assert isinstance(get_installer("auto"), PipInstaller)
    with pytest.raises(OperationFailed, match="uv is not installed"):
        get_installer("uv")


# --------------------------------------------------------------------------- IndexSettings


def test_index_args_for_both_installers() -> None:
    settings = IndexSettings(
        index_url="https://i/simple",
        extra_index_urls=("https://e1/simple", "https://e2/simple"),
        find_links=("/w",),
        no_index=True,
    )
    expected = [
        "--index-url",
        "https://i/simple",
        "--extra-index-url",
        "https://e1/simple",
        "--extra-index-url",
        "https://e2/simple",
        "--find-links",
        "/w",
        "--no-index",
    ]
    assert settings.args("pip") == expected
    assert settings.args("uv") == expected
    assert IndexSettings().args("pip") == []
    with pytest.raises(InvalidInput):
        settings.args("conda")


def test_index_redacted() -> None:
    settings = IndexSettings(
        index_url=f"https://u:{SECRET}@i/simple",
        extra_index_urls=(f"https://{SECRET}@e/simple",),
        find_links=(f"https://u:{SECRET}@f/links", "/local"),
    )
    shown = settings.redacted()
    assert shown.index_url == "https://****@i/simple"
    assert shown.extra_index_urls == ("https://****@e/simple",)
    assert shown.find_links == ("https://****@f/links", "/local")
    assert settings.index_url is not None and SECRET in settings.index_url  # original untouched


def test_fingerprint_tracks_settings_and_local_wheels(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    wheel = build_wheel(links, "omega", "1.0")
    base = IndexSettings(find_links=(str(links),), no_index=True)
    first = base.fingerprint()
    assert IndexSettings(find_links=(str(links),), no_index=True).fingerprint() == first
    assert IndexSettings(find_links=(str(links),)).fingerprint() != first
    assert IndexSettings(index_url="https://a/simple").fingerprint() != (
        IndexSettings(index_url="https://b/simple").fingerprint()
    )
    # a rotated token must not invalidate layers; another host must
    assert IndexSettings(index_url="https://u:one@a/simple").fingerprint() == (
        IndexSettings(index_url="https://u:two@a/simple").fingerprint()
    )

    # a rebuilt wheel (same name, new bytes) changes the fingerprint
    st = wheel.stat()
    wheel.unlink()
    rebuilt = build_wheel(links, "omega", "1.0", modules={"omega": "X = 2\n"})
    os.utime(rebuilt, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    second = base.fingerprint()
    assert second != first
    # a new wheel beside it, too; a file:// URL to the same folder sees the same listing
    build_wheel(links, "omega", "2.0")
    third = base.fingerprint()
    assert third not in {first, second}
    as_url = IndexSettings(find_links=(links.as_uri(),), no_index=True)
    assert as_url.fingerprint() != IndexSettings(find_links=("file:///nowhere",)).fingerprint()
    shutil.rmtree(links)
    assert base.fingerprint() not in {first, second, third}


def test_credentials_go_through_the_environment_not_argv() -> None:
    from envlayers.core.redact import conceal

    settings = IndexSettings(
        index_url=f"https://u:{SECRET}@i/simple",
        extra_index_urls=("https://e1/simple",),
        find_links=(f"https://u:{SECRET}@f/links", "/w"),
        no_index=True,
    ).concealed()
    assert settings.index_url == "https://****@i/simple"  # what the engine keeps and stores
    for name, env_names, sep in (
        ("pip", ("PIP_INDEX_URL", "PIP_FIND_LINKS"), " "),
        ("uv", ("UV_INDEX_URL", "UV_FIND_LINKS"), ","),
    ):
        args, env = settings.for_installer(name)
        assert SECRET not in " ".join(args)
        assert args == ["--extra-index-url", "https://e1/simple", "--no-index"]
        assert env[env_names[0]] == f"https://u:{SECRET}@i/simple"
        assert env[env_names[1]] == sep.join((f"https://u:{SECRET}@f/links", "/w"))
    spaced = IndexSettings(find_links=(conceal(f"https://u:{SECRET}@f/links"), "/a b"))
    with pytest.raises(InvalidInput) as info:
        spaced.for_installer("pip")
    assert SECRET not in str(info.value)
