"""The domain core never imports the LSP libraries (STYLE: a core that knows nothing of LSP)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_core_imports_no_lsp_libraries() -> None:
    code = (
        "import json, sys\n"
        "import envlayers.cli, envlayers.config\n"
        "import envlayers.core.engine, envlayers.core.compose, envlayers.core.layers\n"
        "import envlayers.core.consumers, envlayers.core.report\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout)
    leaked = [
        m for m in modules if m.split(".")[0] in {"pygls", "lsprotocol", "cattrs", "virtualenv"}
    ]
    # virtualenv is imported lazily, only when an env is created: its import is slow.
    assert leaked == []
