"""Is a published layer whole? Every package its metadata lists is there at its version, and
every file their RECORDs list (byte code aside) still exists at its recorded size."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envlayers.core.inventory import Inventory
from envlayers.core.trust import check_private, record_problem

__all__ = ["adoption_problem", "damage"]


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
    # The layer's prefix (its scripts are RECORDed as ../../../bin/...): the folder of its cfg.
    prefix = next((p for p in site_packages.parents if (p / "pyvenv.cfg").is_file()), None)
    problem = record_problem(prefix or site_packages.parents[2], site_packages, hashes=False)
    return None if problem is None else f"layer {key}: {problem}"


def adoption_problem(
    key: str, prefix: Path, site_packages: Path, packages: Mapping[str, str]
) -> str | None:
    """Why an existing layer must not be used as it is: it is another user's or writable by
    others (refused: `OperationFailed`), or damaged, or one of its files no longer has the
    hash its RECORD gives (edited after publishing); None when it may be adopted."""
    check_private(prefix, what=f"layer {key}")
    found = damage(key, site_packages, packages)
    if found is not None:
        return found
    problem = record_problem(prefix, site_packages, hashes=True)
    return None if problem is None else f"layer {key}: {problem}"
