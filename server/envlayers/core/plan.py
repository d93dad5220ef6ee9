"""The plan: `Options` + `Project` turned, once, into everything the stages need (pure but
for reading the files that requests name). Nothing after the plan reads `Options`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from envlayers.config import Options
from envlayers.core.errors import InvalidInput
from envlayers.core.installer import IndexSettings, local_link_path
from envlayers.core.project import Project
from envlayers.core.redact import redact
from envlayers.core.requests import (
    abs_link,
    files_and_editables,
    fingerprints,
    installable,
    request_from_item,
    request_from_text,
)
from envlayers.core.satisfy import Request

__all__ = ["NAME_RE", "BasePlan", "LayerSpec", "Plan", "make_plan", "venv_prefix"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class BasePlan:
    """What the workspace environment (the base) must be."""

    project: Project
    prefix: Path  # the venv folder
    python_request: str | None
    selection: Mapping[str, object]  # groups / extras / exact / frozen, as stored in the stamp
    index: IndexSettings
    installer: str  # auto | uv | pip


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the stack: its label and the requests it must satisfy."""

    label: str  # `profile:<name>` or `with`
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Plan:
    base: BasePlan
    layers: tuple[LayerSpec, ...]  # bottom first: the profile's layer, then the ad-hoc one
    name: str | None  # the composition's name, when there are layers
    request: Mapping[str, object]  # the request as active.json keeps it (secrets redacted)
    memo_key: Mapping[str, object]  # the request as the fast path keys it
    input_paths: tuple[str, ...] | None  # files read besides the workspace's; None: unknown
    refresh: bool
    no_sync: bool
    wants_layers: bool


def venv_prefix(project: Project) -> Path:
    venv = Path(project.settings.venv)
    return venv if venv.is_absolute() else project.root / venv


def make_plan(options: Options, project: Project, *, layers: bool = True) -> Plan:
    """The plan of a compose (`layers`) or of a sync; raises InvalidInput on a bad request."""
    base = _base_plan(project, options)
    specs = tuple(_layer_specs(project, options)) if layers else ()
    name: str | None = None
    if specs:
        name = options.profile if options.profile and not _adhoc(options) else _adhoc_name(specs)
    return Plan(
        base=base,
        layers=specs,
        name=name,
        # What the composition is, not how this call ran (--no-sync, --refresh).
        request=_redacted_request(replace(options, no_sync=False, refresh=False)),
        memo_key=options.to_json(),
        input_paths=_input_paths(project, options, specs, base.index),
        refresh=options.refresh,
        no_sync=options.no_sync,
        wants_layers=options.has_layers,
    )


def _base_plan(project: Project, options: Options) -> BasePlan:
    s = project.settings
    selection: dict[str, object] = {
        "groups": list(options.groups),
        "noDev": options.no_dev,
        "allGroups": options.all_groups,
        "extras": list(options.extras),
        "allExtras": options.all_extras,
        "exact": s.exact if options.exact is None else options.exact,
        "frozen": options.frozen,
    }
    index = IndexSettings(
        index_url=options.index_url or s.index_url,
        extra_index_urls=(*s.extra_index_urls, *options.extra_index_urls),
        find_links=tuple(abs_link(project.root, f) for f in (*s.find_links, *options.find_links)),
        no_index=s.no_index if options.no_index is None else options.no_index,
    ).concealed()
    return BasePlan(
        project=project,
        prefix=venv_prefix(project),
        python_request=options.python or s.python or project.python_version_file,
        selection=selection,
        index=index,
        installer=options.installer or s.installer,
    )


def _layer_specs(project: Project, options: Options) -> list[LayerSpec]:
    """The requested stack, bottom first: the profile's layer, then the ad-hoc one."""
    root = project.root
    specs: list[LayerSpec] = []
    if options.profile:
        if not NAME_RE.match(options.profile):
            raise InvalidInput(f"invalid profile name {options.profile!r}")
        profile = project.settings.profiles.get(options.profile)
        if profile is None:
            known = ", ".join(sorted(project.settings.profiles)) or "none"
            raise InvalidInput(
                f"unknown profile {options.profile!r} (profiles in {project.pyproject}: {known})"
            )
        reqs = [request_from_item(i, root) for i in profile.with_]
        reqs += files_and_editables(root, profile.with_requirements, profile.with_editable)
        specs.append(LayerSpec(f"profile:{profile.name}", tuple(reqs)))
    if _adhoc(options):
        reqs = [request_from_text(t, root) for t in options.with_]
        reqs += files_and_editables(root, options.with_requirements, options.with_editable)
        specs.append(LayerSpec("with", tuple(reqs)))
    return specs


def _adhoc(options: Options) -> bool:
    return bool(options.with_ or options.with_requirements or options.with_editable)


def _adhoc_name(specs: Sequence[LayerSpec]) -> str:
    blob = json.dumps(
        [
            [
                spec.label,
                sorted(
                    installable(r) if not r.editable else f"-e {r.editable}" for r in spec.requests
                ),
            ]
            for spec in specs
        ],
        sort_keys=True,
    )
    return "with-" + hashlib.sha256(blob.encode()).hexdigest()[:8]


def _redacted_request(options: Options) -> dict[str, object]:
    return replace(
        options,
        index_url=redact(options.index_url) if options.index_url else None,
        extra_index_urls=tuple(redact(u) for u in options.extra_index_urls),
    ).to_json()


def _input_paths(
    project: Project, options: Options, specs: Sequence[LayerSpec], index: IndexSettings
) -> tuple[str, ...] | None:
    """Files a request reads besides the workspace's own: None when they cannot all be known."""
    if options.with_requirements or (
        options.profile
        and (p := project.settings.profiles.get(options.profile)) is not None
        and p.with_requirements
    ):
        return None  # `-r` includes are only known after reading: no fast path
    paths: list[str] = []
    for spec in specs:
        for path, _digest in fingerprints(spec.requests):
            target = Path(path)
            if target.is_dir():
                paths += [str(target / n) for n in ("pyproject.toml", "setup.cfg", "setup.py")]
            else:
                paths.append(str(target))
    for link in index.find_links:
        folder = local_link_path(link)
        if folder is None:
            continue
        paths.append(folder)  # watched even before it exists
        with contextlib.suppress(OSError):
            paths += sorted(str(e) for e in Path(folder).iterdir())
    return tuple(paths)
