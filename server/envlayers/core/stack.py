"""Stage 2, the layer stack: for each layer of the plan, bottom first, what lower levels do not
already satisfy is built (or found) in the layer cache; what they do is `satisfiedByBase`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from envlayers.core import interpreter as _interp
from envlayers.core.compose import base_site_dirs
from envlayers.core.installer import IndexSettings, Installer, get_installer
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory
from envlayers.core.layerdeps import base_pins
from envlayers.core.layers import Layer, LayerCache, LayerInputs, layer_key
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import LayerSpec, Plan
from envlayers.core.proc import CancelToken
from envlayers.core.requests import editable_arg, fingerprints, installable
from envlayers.core.satisfy import Request, check

__all__ = ["Stack", "StackPlan", "ensure_stack", "stack_plan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackPlan:
    """The part of the plan the stack reads."""

    layers: tuple[LayerSpec, ...]
    index: IndexSettings
    installer: str
    refresh: bool


def stack_plan(plan: Plan) -> StackPlan:
    return StackPlan(plan.layers, plan.base.index, plan.base.installer, plan.refresh)


@dataclass(frozen=True)
class Stack:
    layers: tuple[Layer, ...]  # top first
    satisfied_by_base: tuple[str, ...]  # request texts that lower levels already satisfied


def ensure_stack(
    plan: StackPlan,
    base: InterpreterInfo,
    layout: CacheLayout,
    *,
    on_line: Callable[[str], None] | None,
    cancel: CancelToken | None,
    lease: Callable[[str], None] = lambda key: None,
) -> Stack:
    """Build or reuse each layer, bottom first, in the layout's layer cache. `lease(key)` is
    called before a layer is looked up: what it holds keeps prune and remove off the layer."""
    if not plan.layers:
        return Stack((), ())
    layout.ensure()
    cache = LayerCache(layout.layers)
    base_dirs = base_site_dirs(base)
    below: list[Layer] = []
    satisfied: list[str] = []
    installer: Installer | None = None
    identity = _interp.executable_identity(base.base_executable)
    for spec in plan.layers:
        inventory = Inventory.scan([str(la.site_packages) for la in reversed(below)] + base_dirs)
        ok = set(check(spec.requests, inventory, base.marker_env).satisfied)
        satisfied += [r.text for r in spec.requests if r.text in ok]
        todo = [r for r in spec.requests if r.text not in ok]
        if not todo:
            continue
        installer = installer or get_installer(plan.installer, cache=layout)
        build = _builder(plan, base, cache, todo, identity, installer, base_dirs, on_line, cancel)
        lease(layer_key(build.args[0]))
        layer = build(refresh=plan.refresh)
        # A layer we have just built is whole; one found in the cache is checked.
        damage = cache.verify(layer) if layer.reused else None
        if damage is not None:
            log.warning("%s; rebuilding it", damage)
            layer = build(refresh=True)
        below.append(layer)
    return Stack(tuple(reversed(below)), tuple(satisfied))


def _builder(
    plan: StackPlan,
    base: InterpreterInfo,
    cache: LayerCache,
    todo: Sequence[Request],
    identity: str,
    installer: Installer,
    base_dirs: list[str],
    on_line: Callable[[str], None] | None,
    cancel: CancelToken | None,
) -> partial[Layer]:
    reqs = sorted({installable(r) for r in todo if not r.editable})
    edits = sorted({editable_arg(r) for r in todo if r.editable})
    pins = {} if edits else base_pins(base_dirs, reqs)  # an editable's name is not known here
    inputs = LayerInputs(
        requirements=tuple(reqs),
        editables=tuple(edits),
        files=tuple(fingerprints(todo)),
        interpreter=(base.base_executable, base.version, base.implementation, identity),
        index=plan.index.fingerprint(),
        base_versions=tuple(pins.items()),
    )
    return partial(
        cache.ensure,
        inputs,
        base=base,
        installer=installer,
        index=plan.index,
        requirements=reqs,
        editables=edits,
        preferences=pins,
        on_line=on_line,
        cancel=cancel,
    )
