"""Interpreters: find one for a request, probe it (cached), check a venv still fits.

The parts live beside this module and are re-exported here: `discovery` (python-discovery and
pyenv), `probe` (the probe script and its memory and disk cache), `venv_match` (pyvenv.cfg
against a request, no process) and `pyrequest` (reading a request's text).
"""

from __future__ import annotations

from envlayers.core.discovery import find_interpreter
from envlayers.core.probe import (
    InterpreterInfo,
    clear_probe_cache,
    executable_identity,
    probe,
    remember_interpreter,
)
from envlayers.core.pyrequest import MIN_PYTHON
from envlayers.core.venv_match import venv_python_matches

__all__ = [
    "MIN_PYTHON",
    "InterpreterInfo",
    "clear_probe_cache",
    "executable_identity",
    "find_interpreter",
    "probe",
    "remember_interpreter",
    "venv_python_matches",
]
