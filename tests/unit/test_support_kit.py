"""The support kit itself: wheels install and run with pip and uv, the fixture project installs
editable with both, and the isolation really hides this machine's installer configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.utils import parse_wheel_filename

from tests.support import isolation as iso
from tests.support.projects import write_project
from tests.support.wheels import (
    STANDARD_WHEELS,
    build_wheel,
    read_record,
    verify_record,
)

_VERSIONS_CODE = (
    "import importlib.metadata as md, json\n"
    "print(json.dumps({d.metadata['Name']: d.version for d in md.distributions()}))\n"
)


def _installed(venv: Path) -> dict[str, str]:
    out = iso.run_python(iso.venv_python(venv), _VERSIONS_CODE).stdout
    versions: dict[str, str] = json.loads(out)
    return versions


def test_wheel_file_name_metadata_and_record(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "My.Odd_Pkg",
        "1.0.0",
        requires=["alpha>=1", 'beta; python_version >= "3"'],
        extras={"Fan.Cy": ['epsilon; os_name == "nt" or python_version < "3"', "zeta"]},
        requires_python=">=3.9",
        data_files={"scripts/tool": b"\x7fELF\x00binary"},
    )
    assert wheel.name == "my_odd_pkg-1.0.0-py3-none-any.whl"
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version), [str(t) for t in tags]) == ("my-odd-pkg", "1.0.0", ["py3-none-any"])
    assert verify_record(wheel) == []
    with zipfile.ZipFile(wheel) as zf:
        meta = Metadata.from_email(zf.read("my_odd_pkg-1.0.0.dist-info/METADATA"), validate=True)
        wheel_txt = Parser().parsestr(zf.read("my_odd_pkg-1.0.0.dist-info/WHEEL").decode())
        script = zf.getinfo("my_odd_pkg-1.0.0.data/scripts/tool")
        names = zf.namelist()
    assert names[-1] == "my_odd_pkg-1.0.0.dist-info/RECORD"
    assert wheel_txt["Root-Is-Purelib"] == "true" and wheel_txt["Tag"] == "py3-none-any"
    assert (script.external_attr >> 16) & 0o111
    assert meta.provides_extra == ["fan-cy"]
    assert str(meta.requires_python) == ">=3.9"
    reqs = {r.name: r for r in meta.requires_dist or []}
    eps = reqs["epsilon"].marker
    assert eps is not None
    env = {"os_name": "posix", "python_version": "3.11"}
    assert not eps.evaluate({**env, "extra": "fan-cy"})  # the or-clause stays inside the parens
    assert eps.evaluate({**env, "os_name": "nt", "extra": "fan-cy"})
    assert not eps.evaluate({**env, "os_name": "nt", "extra": ""})
    zeta = reqs["zeta"].marker
    assert zeta is not None and zeta.evaluate({"extra": "fan-cy"})


def test_record_detects_tampering(tmp_path: Path, wheelhouse: Path) -> None:
    for wheel in sorted(wheelhouse.glob("*.whl")):
        assert verify_record(wheel) == [], wheel.name
    src = wheelhouse / "alpha-1.0-py3-none-any.whl"
    bad = tmp_path / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, b"# changed\n" if item.filename == "alpha/__init__.py" else data)
    problems = verify_record(bad)
    assert len(problems) == 2 and all(p.startswith("alpha/__init__.py") for p in problems)
    assert {row[0] for row in read_record(src)} == {
        "alpha/__init__.py",
        "alpha-1.0.dist-info/METADATA",
        "alpha-1.0.dist-info/WHEEL",
        "alpha-1.0.dist-info/RECORD",
    }


def test_builds_are_deterministic(tmp_path: Path) -> None:
    one = build_wheel(tmp_path / "1", "alpha", "1.0").read_bytes()
    two = build_wheel(tmp_path / "2", "alpha", "1.0").read_bytes()
    changed = build_wheel(tmp_path / "3", "alpha", "1.0", modules={"alpha/__init__.py": "X = 1\n"})
    assert one == two != changed.read_bytes()


def test_wheelhouse_holds_the_documented_set(wheelhouse: Path) -> None:
    assert sorted(p.name for p in wheelhouse.iterdir()) == sorted(
        f"{s.name}-{s.version}-py3-none-any.whl" for s in STANDARD_WHEELS
    )


def test_standard_wheels_install_and_run(
    install: iso.InstallFn, make_venv: iso.MakeVenv, installer_name: str
) -> None:
    venv = make_venv()
    install(venv, "beta", "gamma", "zeta", "mark", "jk", "plugin")
    versions = _installed(venv)
    # gamma caps alpha below 2 although 2.0 is in the wheelhouse; mark's false marker adds nothing.
    assert versions == {
        "alpha": "1.0",
        "beta": "1.0",
        "gamma": "1.0",
        "zeta": "1.0",
        "mark": "1.0",
        "jk": "1.0",
        "plugin": "1.0",
    }
    site = iso.site_packages(venv)
    out = subprocess.run(
        [str(venv / "bin" / "zeta")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert Path(out[0]) == venv / "bin" / "python"
    assert Path(out[1]) == site / "zeta" / "__init__.py"
    beta = subprocess.run([str(venv / "bin" / "beta-tool")], capture_output=True, text=True)
    assert beta.stdout.strip() == "beta-tool from beta"
    kernel = json.loads((venv / "share/jupyter/kernels/jk/kernel.json").read_text())
    assert kernel["display_name"] == "JK test kernel"

    install(venv, "delta[fancy]")
    assert _installed(venv)["epsilon"] == "1.0"
    code = "import alpha, epsilon; print(alpha.__version__, epsilon.WHERE)"
    got = iso.run_python(iso.venv_python(venv), code).stdout.split()
    assert got == ["1.0", str(site / "epsilon" / "__init__.py")]


def test_eta_scripts_shadow_and_data_script(
    install: iso.InstallFn, make_venv: iso.MakeVenv
) -> None:
    venv = make_venv()
    install(venv, "eta", "alpha==2.0")
    assert _installed(venv) == {"eta": "1.0", "alpha": "2.0"}
    for script, expected in [("beta-tool", "beta-tool from eta"), ("eta-sh", "eta-sh")]:
        proc = subprocess.run([str(venv / "bin" / script)], capture_output=True, text=True)
        assert proc.stdout.strip() == expected, proc.stderr


def _pip_capable(pythons: list[Path]) -> Path:
    return next((p for p in pythons if not p.name.endswith("3.9")), Path(sys.executable))


def test_editable_project_installs_with_both_installers(
    installer_name: str,
    install: iso.InstallFn,
    make_venv: iso.MakeVenv,
    python_versions: list[Path],
    tmp_path: Path,
) -> None:
    if not python_versions:
        pytest.skip("no CPython 3.9-3.13 under /root/.pyenv")
    project = write_project(
        tmp_path / "proj",
        dependencies=["alpha<2"],
        optional={"fancy": ["epsilon"]},
        tool='[tool.envlayers]\nvenv = ".venv"\n',
    )
    # The oldest usable interpreter proves the in-tree backend runs there (pip 26 needs 3.10+).
    oldest = python_versions[0] if installer_name == "uv" else _pip_capable(python_versions)
    venv = make_venv(python=oldest)
    install(venv, "alpha==1.0", editable=project)
    versions = _installed(venv)
    assert versions == {"demo-app": "0.1.0", "alpha": "1.0"}
    code = "import demo_app; print(demo_app.WHERE)"
    where = iso.run_python(iso.venv_python(venv), code).stdout.strip()
    assert Path(where) == project / "src" / "demo_app" / "__init__.py"
    # The source is live: an edit shows without reinstalling.
    (project / "src" / "demo_app" / "extra.py").write_text("VALUE = 42\n")
    code = "import demo_app.extra as e; print(e.VALUE)"
    assert iso.run_python(iso.venv_python(venv), code).stdout.strip() == "42"
    dist_info = next(iso.site_packages(venv).glob("demo_app-0.1.0.dist-info"))
    direct_url = json.loads((dist_info / "direct_url.json").read_text())
    assert direct_url["dir_info"] == {"editable": True}
    assert direct_url["url"] == project.as_uri()
    requires = (dist_info / "METADATA").read_text()
    assert "Requires-Dist: alpha<2" in requires
    assert 'Requires-Dist: epsilon; extra == "fancy"' in requires


def test_write_project_toml(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "w",
        name="My-App",
        dependencies=['alpha>=1; python_version >= "3.9"'],
        optional={"fancy": ["delta[fancy]"]},
        groups={"test": ["beta"], "dev": ["gamma", {"include-group": "test"}]},
        requires_python=None,
        tool='[tool.envlayers]\ndefault-groups = ["dev"]',
        extra_toml='[tool.other]\nkey = "va\\"lue"',
    )
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert data["build-system"] == {
        "requires": [],
        "build-backend": "tinybackend",
        "backend-path": ["_backend"],
    }
    assert data["project"] == {
        "name": "My-App",
        "version": "0.1.0",
        "dependencies": ['alpha>=1; python_version >= "3.9"'],
        "optional-dependencies": {"fancy": ["delta[fancy]"]},
    }
    assert data["dependency-groups"]["dev"] == ["gamma", {"include-group": "test"}]
    assert data["tool"] == {"envlayers": {"default-groups": ["dev"]}, "other": {"key": 'va"lue'}}
    assert (root / "src" / "my_app" / "__init__.py").is_file()
    bare = write_project(tmp_path / "bare", build_system=False)
    assert "build-system" not in tomllib.loads((bare / "pyproject.toml").read_text())
    assert not (bare / "src").exists() and not (bare / "_backend").exists()


def test_backend_builds_wheel_and_sdist(tmp_path: Path, python_versions: list[Path]) -> None:
    project = write_project(tmp_path / "proj", dependencies=["alpha"])
    out = tmp_path / "dist"
    out.mkdir()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import tinybackend as b\n"
        "print(b.build_wheel(sys.argv[2])); print(b.build_sdist(sys.argv[2]))\n"
        "print(b.build_editable(sys.argv[2] + '/e'))\n"
    )
    (out / "e").mkdir()
    python = python_versions[0] if python_versions else Path(sys.executable)
    got = iso.run_python(python, code, str(project / "_backend"), str(out)).stdout.split()
    assert got == [
        "demo_app-0.1.0-py3-none-any.whl",
        "demo_app-0.1.0.tar.gz",
        "demo_app-0.1.0-py3-none-any.whl",
    ]
    wheel, editable = out / got[0], out / "e" / got[2]
    assert verify_record(wheel) == [] and verify_record(editable) == []
    with zipfile.ZipFile(wheel) as zf:
        assert "demo_app/__init__.py" in zf.namelist()
    with zipfile.ZipFile(editable) as zf:
        assert zf.read("demo_app.pth").decode().strip() == str(project / "src")
    with tarfile.open(out / got[1]) as tf:
        members = set(tf.getnames())
    assert {
        "demo_app-0.1.0/pyproject.toml",
        "demo_app-0.1.0/PKG-INFO",
        "demo_app-0.1.0/src/demo_app/__init__.py",
        "demo_app-0.1.0/_backend/tinybackend.py",
    } <= members


def test_python_versions_are_real(python_versions: list[Path]) -> None:
    if not iso.PYENV_VERSIONS.is_dir():
        pytest.skip("no pyenv on this machine")
    minors = []
    for exe in python_versions:
        code = "import sys; print(sys.version_info[1], sys.implementation.name)"
        minor, impl = iso.run_python(exe, code).stdout.split()
        assert impl == "cpython"
        minors.append(int(minor))
    assert minors == sorted(set(minors)) and set(minors) <= set(range(9, 14))
    assert minors, "expected at least one CPython 3.9-3.13"


def test_environment_is_isolated(envlayers_cache: Path) -> None:
    assert os.environ["PIP_CONFIG_FILE"] == os.devnull
    assert os.environ["UV_NO_CONFIG"] == "1" and os.environ["UV_OFFLINE"] == "1"
    assert os.environ["UV_PYTHON_DOWNLOADS"] == "never"
    assert Path(os.environ["UV_CACHE_DIR"]).is_dir()
    assert os.environ["ENVLAYERS_CACHE_DIR"] == str(envlayers_cache)
    leaked = [k for k in os.environ if k.startswith("PIP_")]
    assert sorted(leaked) == ["PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK"]
    assert not {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} & set(os.environ)


def test_envlayers_cache_is_per_test(envlayers_cache: Path) -> None:
    # A distinct, empty folder each time (the previous test's was another one).
    assert envlayers_cache.is_dir() and not any(envlayers_cache.iterdir())


def test_isolation_changes_is_exact(tmp_path: Path) -> None:
    environ = {
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_CERT": "x",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_INDEX_URL": "http://x",
        "PYTHONPATH": "/x",
        "PYTHONHOME": "/y",
        "VIRTUAL_ENV": "/v",
        "HOME": "/root",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    to_set, to_delete = iso.isolation_changes(environ, tmp_path)
    assert to_delete == [
        "PIP_CERT",
        "PIP_FIND_LINKS",
        "PYTHONHOME",
        "PYTHONPATH",
        "UV_INDEX_URL",
        "VIRTUAL_ENV",
    ]
    assert to_set["PIP_CONFIG_FILE"] == os.devnull and to_set["UV_CACHE_DIR"] == str(tmp_path)


def _machine_wheel() -> str | None:
    """A project that this machine's pip configuration would find in /opt/wheels."""
    wheels = sorted(Path("/opt/wheels").glob("*.whl")) if Path("/opt/wheels").is_dir() else []
    return parse_wheel_filename(wheels[0].name)[0] if wheels else None


def test_isolation_hides_machine_pip_config(make_venv: iso.MakeVenv, wheelhouse: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "/opt/wheels" not in listed and "index-url" not in listed and "constraint" not in listed
    venv = make_venv()
    for installer in ("pip", "uv"):
        # Neither installer finds anything without our own --find-links.
        proc = iso.install(installer, venv, "alpha", check=False)
        assert proc.returncode != 0
    name = _machine_wheel()
    if name is None:
        pytest.skip("this machine has no /opt/wheels to hide")
    probe = ["--dry-run", "--no-deps", "--ignore-installed"]
    hidden = iso.pip_install(venv, name, extra_args=probe, check=False)
    assert hidden.returncode != 0 and "No matching distribution" in hidden.stdout + hidden.stderr
    # Control: with the machine's configuration the same command finds it, so the check bites.
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONFIG_FILE"}
    cmd = [sys.executable, "-m", "pip", "--python", str(iso.venv_python(venv)), "install"]
    control = subprocess.run(
        [*cmd, "--no-index", *probe, name], env=env, capture_output=True, text=True
    )
    assert control.returncode == 0, control.stderr
