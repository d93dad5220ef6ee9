"""Build tiny, valid wheels by writing the zip ourselves: no network, no build backend, ms each.

`build_wheel()` writes one wheel; `build_wheelhouse()` writes a folder of them from `WheelSpec`
values. `STANDARD_WHEELS` is the set the `wheelhouse` fixture builds for the whole suite:

| wheel          | what it is for |
| -------------- | -------------- |
| `alpha 1.0`, `alpha 2.0` | two versions of one name: conflicts, shadowing (`alpha.__version__`) |
| `beta 1.0`     | requires `alpha>=1`; console script `beta-tool` (prints `beta-tool from beta`) |
| `gamma 1.0`    | requires `alpha<2` (broken when a layer brings `alpha 2.0`) |
| `delta 1.0`    | extra `fancy` -> `epsilon` (`delta[fancy]`) |
| `epsilon 1.0`  | plain leaf |
| `zeta 1.0`     | console script `zeta = zeta:main`: prints `sys.executable`, `zeta.__file__` |
| `eta 1.0`      | console scripts `eta` and `beta-tool` (both `eta:main`: `beta-tool from eta`; |
|                | shadows beta's), and a data script `eta-sh` (`#!/bin/sh`, prints `eta-sh`) |
| `mark 1.0`     | requires `epsilon; python_version < "3"` (a false marker: epsilon not needed) |
| `plugin 1.0`   | plain leaf, used as a layer package |
| `jk 1.0`       | ships `share/jupyter/kernels/jk/kernel.json` as wheel data |

Every default module defines `__version__` and `WHERE = __file__`.
Archives are deterministic (fixed timestamps, sorted entries), so the same inputs give
the same bytes and a changed module gives a changed hash.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

__all__ = [
    "STANDARD_WHEELS",
    "WheelSpec",
    "build_wheel",
    "build_wheelhouse",
    "dist_info_name",
    "escape_name",
    "import_name",
    "metadata_text",
    "read_record",
    "record_hash",
    "verify_record",
    "wheel_filename",
    "write_wheel_archive",
]

# Read-only empty defaults (a `{}` default would be one shared mutable dict).
_NO_EXTRAS: Mapping[str, Sequence[str]] = MappingProxyType({})
_NO_STRS: Mapping[str, str] = MappingProxyType({})
_NO_BYTES: Mapping[str, bytes] = MappingProxyType({})
# A fixed timestamp keeps archives byte-identical across runs (zip cannot store < 1980).
_EPOCH = (1980, 1, 1, 0, 0, 0)


def escape_name(name: str) -> str:
    """The distribution name as wheel and dist-info file names spell it (`My.Pkg` -> `my_pkg`)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def import_name(name: str) -> str:
    """The default top-level module for a distribution (`demo-app` -> `demo_app`)."""
    return canonicalize_name(name).replace("-", "_")


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    return f"{escape_name(name)}-{Version(version)}-{tag}.whl"


def dist_info_name(name: str, version: str) -> str:
    return f"{escape_name(name)}-{Version(version)}.dist-info"


def record_hash(data: bytes) -> str:
    """`sha256=<urlsafe b64, no padding>` as RECORD stores it."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_extra(requirement: str, extra: str) -> str:
    req = Requirement(requirement)
    marker = req.marker
    req.marker = None
    cond = f'extra == "{extra}"'
    # Parentheses keep `a or b` from binding looser than the extra clause.
    return f"{req}; ({marker}) and {cond}" if marker is not None else f"{req}; {cond}"


def metadata_text(
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] = _NO_EXTRAS,
    requires_python: str | None = None,
    summary: str | None = None,
) -> str:
    """A Metadata-Version 2.1 `METADATA` file."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {Version(version)}"]
    if summary:
        lines.append(f"Summary: {summary}")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {Requirement(r)}" for r in requires)
    for extra, deps in extras.items():
        norm = canonicalize_name(extra)
        lines.append(f"Provides-Extra: {norm}")
        lines.extend(f"Requires-Dist: {_with_extra(d, norm)}" for d in deps)
    return "\n".join(lines) + "\n\n"


def _wheel_text(tag: str) -> str:
    # A compressed tag set (`py2.py3-none-any`) must be expanded into one Tag line each.
    pys, abis, plats = tag.split("-")
    tags = [
        f"{p}-{a}-{pl}" for p in pys.split(".") for a in abis.split(".") for pl in plats.split(".")
    ]
    purelib = "true" if abis == "none" and plats == "any" else "false"
    head = ["Wheel-Version: 1.0", "Generator: envlayers-tests", f"Root-Is-Purelib: {purelib}"]
    return "\n".join(head + [f"Tag: {t}" for t in tags]) + "\n"


def _entry_points_text(console_scripts: Mapping[str, str]) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in console_scripts.items())
    return f"[console_scripts]\n{body}"


def write_wheel_archive(
    path: Path, files: Mapping[str, bytes], dist_info: str, *, executable: Iterable[str] = ()
) -> Path:
    """Write `files` (archive path -> bytes) plus a correct `<dist_info>/RECORD` into `path`."""
    record_path = f"{dist_info}/RECORD"
    exe = set(executable)
    # dist-info last, RECORD very last: installers may stream the archive in order.
    order = sorted(files, key=lambda p: (p.startswith(f"{dist_info}/"), p))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for arc in order:
        writer.writerow([arc, record_hash(files[arc]), str(len(files[arc]))])
    writer.writerow([record_path, "", ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arc in [*order, record_path]:
            data = buf.getvalue().encode("utf-8") if arc == record_path else files[arc]
            info = zipfile.ZipInfo(arc, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((0o755 if arc in exe else 0o644) | 0o100000) << 16
            zf.writestr(info, data)
    return path


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] = _NO_EXTRAS,
    modules: Mapping[str, str] | None = None,
    console_scripts: Mapping[str, str] = _NO_STRS,
    data_files: Mapping[str, bytes] = _NO_BYTES,
    requires_python: str | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Write `<escaped name>-<version>-<tag>.whl` into `dest_dir` and return its path.

    `modules` maps archive paths to source (default: `<import_name>/__init__.py` defining
    `__version__` and `WHERE = __file__`); `data_files` maps paths under `<name>-<version>.data/`
    (e.g. `data/share/jupyter/kernels/k/kernel.json`, `scripts/tool`) to bytes.
    """
    ver = str(Version(version))
    if modules is None:
        modules = {f"{import_name(name)}/__init__.py": f"__version__ = {ver!r}\nWHERE = __file__\n"}
    dist_info = dist_info_name(name, ver)
    data_dir = f"{escape_name(name)}-{ver}.data"
    files: dict[str, bytes] = {arc: src.encode("utf-8") for arc, src in modules.items()}
    for rel, blob in data_files.items():
        files[f"{data_dir}/{rel}"] = blob
    meta = metadata_text(
        name, ver, requires=requires, extras=extras, requires_python=requires_python
    )
    files[f"{dist_info}/METADATA"] = meta.encode("utf-8")
    files[f"{dist_info}/WHEEL"] = _wheel_text(tag).encode("utf-8")
    if console_scripts:
        files[f"{dist_info}/entry_points.txt"] = _entry_points_text(console_scripts).encode()
    executable = [f"{data_dir}/{rel}" for rel in data_files if rel.startswith("scripts/")]
    out = Path(dest_dir) / f"{escape_name(name)}-{ver}-{tag}.whl"
    return write_wheel_archive(out, files, dist_info, executable=executable)


@dataclass(frozen=True)
class WheelSpec:
    """The arguments of `build_wheel()` as a value (for `build_wheelhouse()`)."""

    name: str
    version: str
    requires: Sequence[str] = ()
    extras: Mapping[str, Sequence[str]] = field(default_factory=dict)
    modules: Mapping[str, str] | None = None
    console_scripts: Mapping[str, str] = field(default_factory=dict)
    data_files: Mapping[str, bytes] = field(default_factory=dict)
    requires_python: str | None = None
    tag: str = "py3-none-any"

    def build(self, dest_dir: Path) -> Path:
        return build_wheel(
            dest_dir,
            self.name,
            self.version,
            requires=self.requires,
            extras=self.extras,
            modules=self.modules,
            console_scripts=self.console_scripts,
            data_files=self.data_files,
            requires_python=self.requires_python,
            tag=self.tag,
        )


def build_wheelhouse(dest: Path, specs: Iterable[WheelSpec]) -> Path:
    """Build every spec into `dest` (created if needed) and return `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        spec.build(dest)
    return dest


def read_record(wheel: Path) -> list[tuple[str, str, str]]:
    """The rows of a wheel's RECORD: `(path, hash, size)`."""
    with zipfile.ZipFile(wheel) as zf:
        record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        text = zf.read(record).decode("utf-8")
    return [(r[0], r[1], r[2]) for r in csv.reader(io.StringIO(text)) if r]


def verify_record(wheel: Path) -> list[str]:
    """Problems with a wheel's RECORD (empty when every file is listed with the right hash)."""
    problems: list[str] = []
    rows = {path: (digest, size) for path, digest, size in read_record(wheel)}
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for arc in names:
            if arc not in rows:
                problems.append(f"{arc}: not in RECORD")
                continue
            digest, size = rows[arc]
            if arc.endswith(".dist-info/RECORD"):
                continue
            data = zf.read(arc)
            if digest != record_hash(data):
                problems.append(f"{arc}: hash {digest} != {record_hash(data)}")
            if size != str(len(data)):
                problems.append(f"{arc}: size {size} != {len(data)}")
        problems.extend(f"{p}: in RECORD but not in the archive" for p in rows if p not in names)
    return problems


def _module(extra: str = "", version: str = "1.0") -> str:
    return f"import sys\n\n__version__ = {version!r}\nWHERE = __file__\n{extra}"


_ZETA_MAIN = "\n\ndef main():\n    print(sys.executable)\n    print(__file__)\n"
_JK_KERNEL = (
    b'{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],\n'
    b' "display_name": "JK test kernel", "language": "python"}\n'
)

STANDARD_WHEELS: tuple[WheelSpec, ...] = (
    WheelSpec("alpha", "1.0"),
    WheelSpec("alpha", "2.0"),
    WheelSpec(
        "beta",
        "1.0",
        requires=("alpha>=1",),
        modules={
            "beta/__init__.py": _module("\n\ndef main():\n    print('beta-tool from beta')\n")
        },
        console_scripts={"beta-tool": "beta:main"},
    ),
    WheelSpec("gamma", "1.0", requires=("alpha<2",)),
    WheelSpec("delta", "1.0", extras={"fancy": ("epsilon",)}),
    WheelSpec("epsilon", "1.0"),
    WheelSpec(
        "zeta",
        "1.0",
        modules={"zeta/__init__.py": _module(_ZETA_MAIN)},
        console_scripts={"zeta": "zeta:main"},
    ),
    WheelSpec(
        "eta",
        "1.0",
        modules={"eta/__init__.py": _module("\n\ndef main():\n    print('beta-tool from eta')\n")},
        console_scripts={"eta": "eta:main", "beta-tool": "eta:main"},
        data_files={"scripts/eta-sh": b"#!/bin/sh\necho eta-sh\n"},
    ),
    WheelSpec("mark", "1.0", requires=('epsilon; python_version < "3"',)),
    WheelSpec("plugin", "1.0"),
    WheelSpec("jk", "1.0", data_files={"data/share/jupyter/kernels/jk/kernel.json": _JK_KERNEL}),
)
