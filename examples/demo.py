"""`make demo`: sync the example workspace, compose a layer over it, show that it works.

Uses the package index (rich, packaging, hatchling); everything else is local.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WS = HERE / "workspace"


def step(title: str, *args: str) -> subprocess.CompletedProcess[str]:
    print(f"\n$ envlayers {' '.join(args)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "envlayers", *args], text=True, capture_output=True
    )
    if result.stdout:
        print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit(f"demo failed at: {title}")
    return result


def main() -> int:
    print(f"== {WS}")
    step("sync", "sync", "--project", str(WS))
    step("no-op sync", "sync", "--project", str(WS))
    result = step("compose", "env", "--project", str(WS), "--with", "rich>=13", "--format", "json")
    report = json.loads(result.stdout)
    step("report", "env", "--project", str(WS), "--with", "rich>=13", "--no-sync")
    python = report["interpreter"]
    code = (
        "import greeter, rich, sys; "
        "from rich import print as rprint; "
        "rprint(f'[bold green]{greeter.greet(\"layers\")}[/] via {sys.executable}')"
    )
    print(f"\n$ {python} -c '<import greeter (editable, base) and rich (layer)>'")
    out = subprocess.run([python, "-c", code], text=True, capture_output=True)
    print(out.stdout.rstrip() or out.stderr)
    if out.returncode != 0:
        raise SystemExit("demo failed: the composed interpreter could not import both packages")
    base = subprocess.run(
        [report["baseInterpreter"], "-c", "import rich"], capture_output=True, text=True
    )
    print(
        f"\nthe base alone cannot import rich: {'yes' if base.returncode != 0 else 'NO (unexpected)'}"
    )
    step(
        "run",
        "run",
        "--project",
        str(WS),
        "--with",
        "rich>=13",
        "--no-sync",
        "--",
        "python",
        "-c",
        "import rich, greeter; print('envlayers run: ok')",
    )
    print("\ndemo: OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
