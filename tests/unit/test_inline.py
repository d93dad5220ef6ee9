"""PEP 723 inline metadata: the block, its TOML, and spans inside the script's comment lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlayers.core.errors import ConfigError, InvalidInput, InvalidRequirement
from envlayers.core.inline import check_script, find_block, has_block, load_script

SCRIPT = """\
#!/usr/bin/env python
# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "beta>=1",
#   "bad req !!",
# ]
# colour = "blue"
#
# [tool.envlayers]
# installer = "pip"
# ///
import beta
"""


def _text_at(text: str, span: object) -> str:
    line = text.split("\n")[span.line - 1]  # type: ignore[attr-defined]
    return line[span.column - 1 : span.end_column - 1]  # type: ignore[attr-defined]


def test_problems_point_inside_the_comment_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    block, problems = check_script(path, SCRIPT)
    assert block is not None and (block.line, block.end_line) == (2, 12)
    by_code = {p.code: p for p in problems}
    assert set(by_code) == {"unknown-key", "invalid-requirement"}
    assert _text_at(SCRIPT, by_code["unknown-key"].span) == "colour"
    assert by_code["unknown-key"].span.line == 8
    assert _text_at(SCRIPT, by_code["invalid-requirement"].span) == '"bad req !!"'
    assert by_code["invalid-requirement"].span.file == str(path)


def test_load_raises_the_first_error_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text(SCRIPT)
    with pytest.raises(ConfigError) as info:
        load_script(path)
    assert str(info.value).startswith(f"{path}:8:3: colour: unknown key")
    path.write_text(SCRIPT.replace('# colour = "blue"\n', ""))
    with pytest.raises(InvalidRequirement) as bad:
        load_script(path)
    assert (bad.value.line, bad.value.column) == (6, 5)


def test_a_good_block_decodes(tmp_path: Path) -> None:
    text = SCRIPT.replace('# colour = "blue"\n', "").replace('#   "bad req !!",\n', "")
    meta = load_script(tmp_path / "s.py", text)
    assert meta is not None
    assert [d.text for d in meta.dependencies] == ["beta>=1"]
    assert meta.requires_python == ">=3.11"
    assert meta.settings.installer == "pip"
    dep = meta.dependencies[0].span
    assert dep is not None and _text_at(text, dep) == '"beta>=1"'
    assert meta.requires_python_span is not None
    assert _text_at(text, meta.requires_python_span) == '">=3.11"'


def test_toml_syntax_error_is_located_in_the_script(tmp_path: Path) -> None:
    text = '# /// script\n# dependencies = ["a",\n# requires-python = 3\n# ///\n'
    _, problems = check_script(tmp_path / "s.py", text)
    assert [p.code for p in problems] == ["toml-syntax"]
    assert 2 <= problems[0].span.line <= 3  # inside the block, not at the file's start
    with pytest.raises(InvalidInput) as info:
        load_script(tmp_path / "s.py", text)
    assert "invalid TOML" in str(info.value) and f"{tmp_path / 's.py'}:" in str(info.value)


def test_no_block_unclosed_block_and_two_blocks(tmp_path: Path) -> None:
    assert load_script(tmp_path / "s.py", "import os\n# /// other\n# x\n# ///\n") is None
    unclosed = "# /// script\n# dependencies = []\nimport os\n# ///\n"
    assert has_block(unclosed)
    block, problems = check_script(tmp_path / "s.py", unclosed)
    assert block is None and [p.code for p in problems] == ["script-block"]
    assert problems[0].span.line == 1
    two = "# /// script\n# dependencies = []\n# ///\n\n# /// script\n# dependencies = []\n# ///\n"
    _, problems = check_script(tmp_path / "s.py", two)
    assert [p.span.line for p in problems] == [5]


def test_crlf_and_empty_comment_lines(tmp_path: Path) -> None:
    text = '# /// script\r\n#\r\n# dependencies = ["x y z"]\r\n# ///\r\n'
    block = find_block("s.py", text)
    assert block is not None and block.prefixes == (1, 2)
    _, problems = check_script(tmp_path / "s.py", text)
    assert problems[0].span.line == 3 and problems[0].span.column == 19


def test_unicode_before_a_problem_counts_code_points(tmp_path: Path) -> None:
    text = '# /// script\n# dependencies = ["é", "!!"]\n# ///\n'
    _, problems = check_script(tmp_path / "s.py", text)
    spans = sorted(p.span.column for p in problems)
    line = text.split("\n")[1]
    assert spans == [line.index('"é"') + 1, line.index('"!!"') + 1]
