"""Run the envlayers CLI with a pause injected at one point of a layer build, for SIGKILL tests.

`python -m tests.reliability.faults POINT MARKER ARGS...`: when the build reaches POINT, the
marker file is written and the process sleeps until the test kills it. Points:
- `venv`: the layer's temporary venv was just created, nothing is installed yet;
- `installed`: the installer finished, the layer's metadata is not written yet;
- `publish`: the metadata is written in the temporary folder, the `os.replace` is not done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envlayers import cli
from envlayers.core import fsutil, inventory
from envlayers.core import layers as _layers
from envlayers.core import venv as _venv

__all__ = ["main"]


def _hang(marker: Path) -> None:
    marker.write_text("reached", encoding="utf-8")
    while True:  # until SIGKILL
        time.sleep(60)


def _after(fn: Callable[..., Any], marker: Path, when: Callable[..., bool]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if when(*args, **kwargs):
            _hang(marker)
        return result

    return wrapped


def _is_layer_tmp(dest: object, *_: object, **__: object) -> bool:
    return Path(str(dest)).name.startswith(".tmp-") and "layers" in Path(str(dest)).parts


def _always(*_: object, **__: object) -> bool:
    return True


def main(argv: list[str]) -> int:
    point, marker, rest = argv[0], Path(argv[1]), argv[2:]
    if point == "venv":
        _venv.create_venv = _after(_venv.create_venv, marker, _is_layer_tmp)
    elif point == "installed":
        real_scan = inventory.Inventory.scan

        def scan(*args: Any, **kwargs: Any) -> Any:
            # The first inventory scan inside _build runs right after the installer returned.
            import traceback

            if any(f.name == "_build" for f in traceback.extract_stack()):
                _hang(marker)
            return real_scan(*args, **kwargs)

        inventory.Inventory.scan = scan  # type: ignore[method-assign]
    elif point == "publish":
        # layers imported the name: patch it where it is looked up.
        vars(_layers)["atomic_write_json"] = _after(fsutil.atomic_write_json, marker, _always)
    else:
        raise SystemExit(f"unknown fault point {point!r}")
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
