"""The upcast plan derived from the lock's versions of an event."""

from __future__ import annotations

from modeling.upcasting import upcast_steps


def _fields(**types: str) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name, text in types.items():
        kind, _, default = text.partition("=")
        fields[name] = ({"type": kind, "required": True} if not default
                        else {"type": kind, "required": False, "default": default})
    return {"fields": fields}


def test_a_rename_and_a_defaulted_field_are_mechanical() -> None:
    (step,) = upcast_steps("BookPlacedOnHold", {
        "1": _fields(patron_id="str", hold_till="date"),
        "2": _fields(patron_id="str", till="date", note="str=none"),
    })
    assert (step.from_version, step.to_version) == (1, 2)
    assert step.renames == {"hold_till": "till"} and step.defaults == {"note": "none"}
    assert step.manual == []
    assert step.apply({"patron_id": "p1", "hold_till": "2026-01-31"}) == {
        "patron_id": "p1", "till": "2026-01-31", "note": "none"}


def test_steps_chain_in_version_order_and_name_what_a_person_must_write() -> None:
    steps = upcast_steps("E", {
        "10": _fields(a="int", c="str"),
        "2": _fields(a="str", b="bool"),
        "1": _fields(a="str"),
    })
    assert [(s.from_version, s.to_version) for s in steps] == [(1, 2), (2, 10)]
    assert steps[0].manual == ["set b (bool): it has no default"]
    assert steps[1].dropped == ["b"]
    assert steps[1].manual == ["set c (str): it has no default", "convert a from str to int"]
