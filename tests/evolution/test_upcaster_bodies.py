"""What a stub is pre-filled with does what the step's plan says, for any two locked schemas:
run on an example payload of the old version, the generated statements give the plan's
result (UpcastStep.apply), with exactly the new version's fields when nothing is manual,
and stop with UpcasterNotWrittenError when something is; on a payload without the old
version's optional fields, the result still has every field the new version requires."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether import kit
from aether.upcasting import UpcasterNotWrittenError, thaw
from codegen.upcasters import example_payload, step_view
from modeling.upcasting import upcast_steps

TYPES = ["str", "int", "bool", "date", "decimal", "list[str]", "dict[str, int]", "int | None"]
DEFAULTS = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=8),
                     st.lists(st.text(max_size=3), max_size=2))
FIELDS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", 'f"]; x = ("']),
    st.tuples(st.sampled_from(TYPES), st.none() | DEFAULTS.map(lambda d: (d,))),
    max_size=5)


def schema(fields: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {"fields": {name: {"type": kind, "required": True} if default is None
                       else {"type": kind, "required": False, "default": default[0]}
                       for name, (kind, default) in fields.items()}}


def compiled(body: list[str]) -> Any:
    source = "def upcast(data):\n" + "".join(f"    {line}\n" for line in body) + \
        "    return data\n"
    namespace: dict[str, Any] = {"kit": kit, "__file__": "stub.py"}
    exec(compile(source, "stub.py", "exec"), namespace)  # generated code, run for real
    return namespace["upcast"]


@given(FIELDS, FIELDS)
def test_the_prefilled_statements_do_what_the_plan_says(
        old: dict[str, tuple[str, Any]], new: dict[str, tuple[str, Any]]) -> None:
    versions = {"1": schema(old), "2": schema(new)}
    (step,) = upcast_steps("E", versions)
    upcast = compiled(step_view(step, versions).body)
    required = {f for f, spec in versions["2"]["fields"].items() if spec["required"]}
    # Also a payload stored before the version's optional fields were added: every field the
    # new version requires is still there (a renamed or kept field that had a default gets it).
    for full in (True, False):
        payload = example_payload(versions["1"], "E", 1, defaults=full)
        if step.manual:
            with pytest.raises(UpcasterNotWrittenError, match="E v1 -> v2 is not written yet"):
                upcast(thaw(payload))
            continue
        result = upcast(thaw(payload))
        assert result == step.apply(thaw(payload))
        assert set(result) == set(new) if full else required <= set(result)
