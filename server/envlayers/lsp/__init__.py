"""The language server front (`envlayers serve`): the only package that imports pygls."""

from __future__ import annotations

__all__: list[str] = []
