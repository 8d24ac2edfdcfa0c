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


def test_a_field_that_had_a_default_is_filled_with_it_where_old_payloads_lack_it() -> None:
    (step,) = upcast_steps("E", {
        "1": _fields(a="str", note="str=x", kept="int=5", same="str=s"),
        "2": _fields(a="str", memo="str=y", kept="int", same="str=s"),
    })
    assert step.renames == {"note": "memo"} and step.rename_defaults == {"note": "x"}
    assert step.defaults == {"kept": "5"} and step.manual == []
    assert step.apply({"a": "p"}) == {"a": "p", "memo": "x", "kept": "5"}
    assert step.apply({"a": "p", "note": "n", "kept": 1}) == {"a": "p", "memo": "n", "kept": 1}


def test_a_value_object_field_losing_its_default_needs_a_person() -> None:
    def version(grace: dict[str, object]) -> dict[str, object]:
        return {"fields": {"p": {"type": "Period", "required": True}},
                "types": {"Period": {"fields": {"grace": grace}}}}

    (step,) = upcast_steps("E", {"1": version({"type": "int", "required": False, "default": 0}),
                                 "2": version({"type": "int", "required": True})})
    assert step.manual == ["convert p (Period): Period changed since version 1"]


def test_two_fields_of_one_type_renamed_at_once_are_never_paired_by_guess() -> None:
    """Paired by order, sender/receiver -> from_party/to_party swapped the stored values."""
    (step,) = upcast_steps("ParcelSent", {
        "1": _fields(receiver="str", sender="str", weight="int"),
        "2": _fields(from_party="str", to_party="str", grams="int"),
    })
    assert step.renames == {"weight": "grams"}  # one int went and one came: a rename
    assert step.dropped == [] and step.defaults == {}
    assert step.manual == ["set from_party, to_party from what receiver, sender held (all "
                           "str): fields of one type went and came, and which became which "
                           "only you know"]
    # Nothing of the undecided fields is touched by the mechanical part.
    assert step.apply({"receiver": "bob", "sender": "alice", "weight": 3}) == {
        "receiver": "bob", "sender": "alice", "grams": 3}


def test_one_field_gone_and_two_of_its_type_come_is_for_a_person_too() -> None:
    (step,) = upcast_steps("E", {"1": _fields(name="str"),
                                 "2": _fields(first="str", last="str")})
    assert step.renames == {} and step.dropped == []
    assert step.manual == ["set first, last from what name held (all str): fields of one "
                           "type went and came, and which became which only you know"]


def test_a_renamed_field_whose_value_object_changed_needs_a_person() -> None:
    """Renamed, the field was taken as done although Money changed under it: the stub's
    test then failed decoding, not with not_written."""
    money = {"fields": {"amount": {"type": "int", "required": True},
                        "cur": {"type": "str", "required": True}}}
    moved = {"fields": {"amount": {"type": "int", "required": True},
                        "rate": {"type": "int", "required": True}}}
    (step,) = upcast_steps("Held", {
        "1": {**_fields(old="list[Money]"), "types": {"Money": money}},
        "2": {**_fields(renamed="list[Money]"), "types": {"Money": moved}},
    })
    assert step.renames == {"old": "renamed"}
    assert step.manual == ["convert renamed (list[Money]): Money changed since version 1"]
