"""A tiny package: the demo imports it (editable, from the base) next to a layer's package."""

from packaging.version import Version

__all__ = ["greet"]


def greet(name: str) -> str:
    return f"hello, {name} (packaging {Version('1.0')!s})"
