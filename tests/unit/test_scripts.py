"""Shebang rewriting (NOTES 6.9) and script placement: table tests on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envlayers.core.scripts import link_scripts, relocate_scripts, rewrite_shebang, shebang_for

PY = "/ws/.envlayers/with-1/bin/python"
BODY = "import sys\nfrom tool import main\nsys.exit(main())\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"#!/layer/bin/python\n{BODY}", f"#!{PY}\n{BODY}"),
        (f"#!/layer/bin/python3\n{BODY}", f"#!{PY}\n{BODY}"),
        (f"#!/layer/bin/python3.12\n{BODY}", f"#!{PY}\n{BODY}"),
        (f"#!/usr/bin/env python3\n{BODY}", f"#!{PY}\n{BODY}"),
        (f"#!/layer/bin/python -E\n{BODY}", f"#!{PY}\n{BODY}"),
        (
            f"#!/bin/sh\n'''exec' \"/very long/bin/python\" \"$0\" \"$@\"\n' '''\n{BODY}",
            f"#!{PY}\n{BODY}",
        ),
        # uv's relocatable form finds `python` beside the script: left as it is.
        (
            "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n' '''\n",
            None,
        ),
        ("#!/bin/bash\necho hi\n", None),
        ("#!/usr/bin/env node\nconsole.log(1)\n", None),
        ("no shebang\n", None),
        ("#!\n", None),
    ],
)
def test_rewrite_shebang(text: str, expected: str | None) -> None:
    assert rewrite_shebang(text, PY) == expected


def test_long_interpreter_paths_use_the_sh_form() -> None:
    long_py = "/x" * 80 + "/bin/python"
    line = shebang_for(long_py)
    assert line.startswith("#!/bin/sh\n'''exec' '") and long_py in line
    spaced = shebang_for("/a b/bin/python")
    assert spaced.startswith("#!/bin/sh\n")


def test_link_scripts_first_wins_and_skips_binary_and_unreadable(tmp_path: Path) -> None:
    top, base, dest = tmp_path / "top", tmp_path / "base", tmp_path / "dest"
    for d in (top, base):
        d.mkdir()
    (top / "tool").write_text(f"#!/top/bin/python\n{BODY}")
    (base / "tool").write_text(f"#!/base/bin/python\n{BODY}")
    (base / "other").write_text(f"#!/base/bin/python3\n{BODY}")
    (base / "binary").write_bytes(b"#!\x00\x01\x02ELF")
    (base / "latin1").write_bytes(b"#!/base/bin/python\n# caf\xe9\n")
    (base / "python3").write_text("not a script")
    (base / "activate").write_text("# activation")
    secret = base / "secret"
    secret.write_text(f"#!/base/bin/python\n{BODY}")
    for p in (top / "tool", base / "tool", base / "other", secret):
        p.chmod(0o755)
    secret.chmod(0o000)
    placed = link_scripts([top, base], dest, PY)
    readable_as_root = os.access(secret, os.R_OK)
    expected = {"tool", "other", "binary", "latin1"} | ({"secret"} if readable_as_root else set())
    assert set(placed) == expected
    assert (dest / "tool").read_text() == f"#!{PY}\n{BODY}"
    assert (dest / "other").read_text() == f"#!{PY}\n{BODY}"
    assert os.access(dest / "tool", os.X_OK)
    assert (dest / "binary").is_symlink() and (dest / "latin1").is_symlink()
    assert not (dest / "python3").exists() and not (dest / "activate").exists()


def test_relocate_scripts_moves_shebangs_to_new_prefix(tmp_path: Path) -> None:
    old, new = tmp_path / ".tmp-abc", tmp_path / "abc"
    bin_dir = old / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "tool").write_text(f"#!{old}/bin/python\n{BODY}")
    (bin_dir / "plain").write_text("#!/bin/sh\necho plain\n")
    relocate_scripts(bin_dir, old_prefix=old, new_prefix=new)
    assert (bin_dir / "tool").read_text() == f"#!{new}/bin/python\n{BODY}"
    assert (bin_dir / "plain").read_text() == "#!/bin/sh\necho plain\n"
