"""The test tiers stand apart: each imports only `tests.support` and its own modules.

A tier is a folder under `tests/` (`unit`, `integration`, `reliability`, `e2e`); `tests/support/`
is the kit every tier shares and imports no tier; `tests/conftest.py` imports only the kit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
KIT = "support"
# Cross-tier imports known to remain, each with who resolves it. An entry no file needs any more
# fails `test_no_stale_exceptions`, so the list only shrinks.
# None remain: the LSP session helpers moved into the kit (`tests/support/lsp.py`).
EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def _tier(path: Path, root: Path) -> str:
    """`unit` for `tests/unit/x.py`; `` for `tests/conftest.py`."""
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _imported(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every `tests...` module that `path` imports, relative imports resolved."""
    package = ["tests", *path.relative_to(root).parts[:-1]]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None:  # `from . import x`: x may be a module of that package
                out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
            else:
                out.append((node.lineno, module))
    return [(line, m) for line, m in out if m == "tests" or m.startswith("tests.")]


def violations(root: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, importer tier, imported module) for each import across tiers."""
    found: list[tuple[str, int, str, str]] = []
    for path in sorted(root.rglob("*.py")):
        if any(part in ("node_modules", "__pycache__") for part in path.parts):
            continue
        tier = _tier(path, root)
        allowed = [f"tests.{KIT}"] + ([f"tests.{tier}"] if tier else [])
        for line, module in _imported(path, root):
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                found.append((str(path.relative_to(root)), line, tier, module))
    return found


def test_tiers_import_only_the_kit_and_themselves() -> None:
    bad = [v for v in violations(TESTS) if (v[2], v[3]) not in EXCEPTIONS]
    assert bad == [], "\n".join(f"{f}:{n}: {t or 'tests'} imports {m}" for f, n, t, m in bad)


def test_no_stale_exceptions() -> None:
    used = {(t, m) for _, _, t, m in violations(TESTS)}
    assert used >= EXCEPTIONS, sorted(EXCEPTIONS - used)


@pytest.mark.parametrize(
    ("where", "code", "expected"),
    [
        (
            "reliability/test_a.py",
            "from tests.integration.helpers import f\n",
            "tests.integration.helpers",
        ),
        ("e2e/test_a.py", "import tests.unit.test_x\n", "tests.unit.test_x"),
        ("e2e/test_a.py", "from ..unit import test_x\n", "tests.unit"),
        ("support/kit.py", "from tests.e2e import helpers\n", "tests.e2e"),
        ("support/kit.py", "from ..e2e.helpers import f\n", "tests.e2e.helpers"),
        ("conftest.py", "from tests.reliability.faults import f\n", "tests.reliability.faults"),
    ],
)
def test_a_cross_tier_import_is_found(tmp_path: Path, where: str, code: str, expected: str) -> None:
    root = tmp_path / "tests"
    target = root / where
    target.parent.mkdir(parents=True)
    target.write_text(code, encoding="utf-8")
    (root / "unit").mkdir(exist_ok=True)
    (root / "unit" / "test_ok.py").write_text(
        "from tests.support.cli import cli\nfrom tests.unit.test_x import y\nfrom . import test_z\n"
        "from .test_w import v\nimport os\n",
        encoding="utf-8",
    )
    assert [(v[0], v[3]) for v in violations(root)] == [(where, expected)]
