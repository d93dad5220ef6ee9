"""Is a published layer whole? Every package its metadata lists is there at its version, and
every file their RECORDs list (byte code aside) still exists."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

from envlayers.core.inventory import Inventory

__all__ = ["damage"]


def damage(key: str, site_packages: Path, packages: Mapping[str, str]) -> str | None:
    """A reason the layer `key` is damaged, or None when whole."""
    try:
        inventory = Inventory.scan([site_packages])
    except OSError as exc:
        return f"cannot read {site_packages}: {exc}"
    present = inventory.versions()
    for name, version in packages.items():
        if present.get(name) != version:
            return f"package {name} {version} is missing from layer {key}"
    for dist in inventory:
        gone = _missing_record_file(dist.path)
        if gone is not None:
            return f"{gone} of {dist.name} {dist.version} is missing from layer {key}"
    return None


def _missing_record_file(dist_info: Path) -> str | None:
    """The first file that the RECORD of a `.dist-info` lists and that is gone (a half-deleted
    layer keeps its metadata but loses files), or None."""
    if dist_info.suffix != ".dist-info":
        return None
    try:
        with open(dist_info / "RECORD", encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return str(dist_info / "RECORD")
    site = dist_info.parent
    for row in rows:
        rel = row[0] if row else ""
        # Byte code is optional: installers may or may not have compiled it.
        if not rel or rel.endswith(".pyc") or "__pycache__" in rel:
            continue
        if not os.path.lexists(site / rel):
            return rel
    return None
