"""The layer key is a pure function of its inputs (NOTES 6.12)."""

from __future__ import annotations

import pytest

from envlayers.core.layers import LayerInputs, is_valid_key, layer_key

BASE = LayerInputs(
    requirements=("plugin", "rich>=13"),
    editables=(),
    files=(),
    interpreter=("/usr/bin/python3.12", "3.12.1", "cpython", "id-1"),
    index="idx-1",
)


def test_same_inputs_same_key_order_independent() -> None:
    shuffled = LayerInputs(
        requirements=("rich>=13", "plugin"),
        interpreter=BASE.interpreter,
        index=BASE.index,
    )
    assert layer_key(BASE) == layer_key(shuffled)
    assert is_valid_key(layer_key(BASE))


@pytest.mark.parametrize(
    "changed",
    [
        LayerInputs(("plugin",), interpreter=BASE.interpreter, index=BASE.index),
        LayerInputs(
            BASE.requirements,
            interpreter=("/usr/bin/python3.12", "3.12.2", "cpython", "id-1"),
            index=BASE.index,
        ),
        LayerInputs(
            BASE.requirements,
            interpreter=("/usr/bin/python3.12", "3.12.1", "cpython", "id-2"),
            index=BASE.index,
        ),
        LayerInputs(
            BASE.requirements,
            interpreter=("/usr/bin/python3.12", "3.12.1", "pypy", "id-1"),
            index=BASE.index,
        ),
        LayerInputs(
            BASE.requirements,
            interpreter=("/opt/python3.12", "3.12.1", "cpython", "id-1"),
            index=BASE.index,
        ),
        LayerInputs(BASE.requirements, interpreter=BASE.interpreter, index="idx-2"),
        LayerInputs(
            BASE.requirements,
            files=(("/w/x.whl", "d1"),),
            interpreter=BASE.interpreter,
            index=BASE.index,
        ),
        LayerInputs(
            BASE.requirements,
            editables=("/src/lib",),
            interpreter=BASE.interpreter,
            index=BASE.index,
        ),
    ],
)
def test_any_input_change_changes_key(changed: LayerInputs) -> None:
    assert layer_key(changed) != layer_key(BASE)


@pytest.mark.parametrize(
    "bad", ["", "../etc", "/abs/path", "ABCDEF" * 4, "a" * 23, "a" * 25, "0" * 23 + "/"]
)
def test_invalid_keys_are_refused(bad: str) -> None:
    assert not is_valid_key(bad)
