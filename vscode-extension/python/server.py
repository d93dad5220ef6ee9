"""Runs the envlayers language server from the libraries bundled in the extension.

Copied to ``bundled/tool/server.py`` by ``scripts/bundle-server.mjs``. The bundled libraries go
first on ``sys.path`` (not ``PYTHONPATH``, which every child process would inherit).
"""

from __future__ import annotations

import os
import runpy
import sys

LIBS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libs")


def main() -> None:
    # The launcher may be started by any Python on PATH, older ones included.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.stderr.write("envlayers: the bundled server needs Python 3.11 or newer\n")
        raise SystemExit(2)
    sys.path.insert(0, LIBS)
    # Same as `python -m envlayers serve --stdio ...`, whatever envlayers.cli.main's signature.
    sys.argv = ["envlayers", *(sys.argv[1:] or ["serve", "--stdio"])]
    runpy.run_module("envlayers", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
