"""An event whose streams move (its aggregate or external system renamed, another
``id_prefix``) is a breaking change: the stored histories stay under the old actor ids, and
nothing loads them any more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen.cli import main
from modeling import load_model
from modeling.changes import Change
from modeling.contract import contract, lock_path, render_lock
from modeling.evolution import changes_against
from tests.evolution.shelf import edited

DESK = """\
model: desk
version: 1
contexts:
  - name: Front
    actors: [Clerk]
    external_systems:
      - name: Clock
        emits: [DayStarted]
    events:
      - name: DayStarted
        fields: {day: date}
    aggregates:
      - name: Booking
        id: booking_id
        state: {guest: str}
        commands:
          - name: Book
            actor: Clerk
            fields: {booking_id: str, guest: str}
            emits: [Booked]
          - name: Cancel
            actor: Clerk
            fields: {booking_id: str}
            emits: [Cancelled]
        events:
          - name: Booked
            fields: {booking_id: str, guest: str}
          - name: Cancelled
            fields: {booking_id: str}
      - name: Note
        state: {text: str}
        commands:
          - name: Write
            actor: Clerk
            fields: {text: str}
            emits: [Written]
        events:
          - name: Written
            fields: {text: str}
"""


def _edited(*edits: tuple[str, str]) -> str:
    return edited(DESK, *edits)


def _locked(folder: Path, text: str = DESK) -> Path:
    model = folder / "desk.yaml"
    model.write_text(text)
    lock_path(model).write_text(render_lock(contract(load_model(model).model)))
    return model


def _changes(model: Path, text: str) -> list[tuple[str, str, int, bool]]:
    model.write_text(text)
    old = json.loads(lock_path(model).read_text())
    return [(c.kind, c.event, c.location.line, c.failing)
            for c in changes_against(load_model(model), old)]


def test_the_lock_says_where_the_model_puts_each_event(tmp_path: Path) -> None:
    lock = json.loads(lock_path(_locked(tmp_path)).read_text())
    prefixes = {name: entry.get("actor_prefix") for name, entry in lock["events"].items()}
    # Note has no id: its callers choose its actor ids, and a rename moves nothing. An
    # external system's streams are never loaded as a history: none either.
    assert prefixes == {"Booked": "booking", "Cancelled": "booking", "DayStarted": None,
                        "Written": None}


def test_renaming_an_aggregate_with_an_id_moves_its_streams(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    found = _changes(model, _edited(("- name: Booking\n", "- name: Reservation\n")))
    assert found == [("streams-moved", "Booked", 26, True),
                     ("streams-moved", "Cancelled", 28, True)]
    (change, _) = _since_lock(model, model.read_text())
    assert change.message == (
        "Booked is now recorded in streams reservation-<id>, and the stored ones are in "
        "booking-<id>, which nothing loads any more; give Reservation `id_prefix: booking` "
        "to keep them, or bump the model's version once they are moved")


def test_the_old_id_prefix_keeps_the_streams(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    assert _changes(model, _edited(("- name: Booking\n        id: booking_id\n",
                                    "- name: Reservation\n        id: booking_id\n"
                                    "        id_prefix: booking\n"))) == []


def test_another_id_prefix_moves_the_streams(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    found = _changes(model, _edited(("id: booking_id\n", "id: booking_id\n"
                                     "        id_prefix: stay\n")))
    assert [(kind, event, failing) for kind, event, _, failing in found] == [
        ("streams-moved", "Booked", True), ("streams-moved", "Cancelled", True)]


def test_a_model_version_bump_declares_the_move(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    found = _changes(model, _edited(("version: 1", "version: 2"),
                                    ("- name: Booking\n", "- name: Reservation\n")))
    assert [(kind, failing) for kind, _, _, failing in found] == [
        ("streams-moved", False), ("streams-moved", False)]


def test_renaming_an_external_system_moves_nothing_that_is_loaded(tmp_path: Path) -> None:
    """Its facts go to timer-<key> from then on, each stream from version 1; nothing reads
    clock-<key> as a history (policies and read models read the feed)."""
    model = _locked(tmp_path)
    assert _changes(model, _edited(("- name: Clock\n", "- name: Timer\n"))) == []


def test_an_event_moved_to_another_aggregate_is_told_to_stay(tmp_path: Path) -> None:
    """Booking keeps its name and Cancelled moves to a new Desk with its own prefix: not a
    rename, so the advice is not Booking's id_prefix for Desk (validate would refuse it:
    two aggregates cannot share one)."""
    model = _locked(tmp_path)
    cancel = ("          - name: Cancel\n            actor: Clerk\n"
              "            fields: {booking_id: str}\n            emits: [Cancelled]\n")
    cancelled = "          - name: Cancelled\n            fields: {booking_id: str}\n"
    desk = ("      - name: Desk\n        id: booking_id\n        state: {open: bool}\n"
            f"        commands:\n{cancel}        events:\n{cancelled}")
    moved = _edited((cancel, ""), (cancelled, ""), ("    aggregates:\n",
                                                    "    aggregates:\n" + desk))
    (change,) = _since_lock(model, moved)
    assert (change.kind, change.event, change.failing) == ("streams-moved", "Cancelled", True)
    assert change.message.startswith("Cancelled moved out of aggregate Booking to Desk: ")
    assert "id_prefix" not in change.message


def test_an_aggregate_left_without_events_still_owns_its_histories(tmp_path: Path) -> None:
    write = ("          - name: Write\n            actor: Clerk\n"
             "            fields: {text: str}\n            emits: [Written]\n")
    written = "          - name: Written\n            fields: {text: str}\n"
    model = _locked(tmp_path)
    # Written moves into Booking; Note stays, with a command that emits nothing.
    moved = _edited((write, "          - name: Write\n            actor: Clerk\n"
                            "            fields: {text: str}\n            emits: []\n"),
                    ("        events:\n" + written, "        events: []\n"),
                    ("          - name: Booked\n", written + "          - name: Booked\n"))
    found = [(c.kind, c.event) for c in _since_lock(model, moved)]
    assert ("streams-moved", "Written") in found


def test_an_aggregate_without_an_id_is_renamed_freely(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    assert _changes(model, _edited(("- name: Note\n", "- name: Memo\n"))) == []


def test_an_event_added_back_in_other_streams_is_found(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    cancel = ("          - name: Cancel\n            actor: Clerk\n"
              "            fields: {booking_id: str}\n            emits: [Cancelled]\n")
    cancelled = "          - name: Cancelled\n            fields: {booking_id: str}\n"
    model.write_text(_edited(("version: 1", "version: 2"), (cancel, ""), (cancelled, "")))
    generated = CliRunner().invoke(main, ["generate", str(model), "-o", str(tmp_path / "out")])
    assert generated.exit_code == 0, generated.output
    desk = ("      - name: Desk\n        id: booking_id\n        state: {open: bool}\n"
            f"        commands:\n{cancel}        events:\n{cancelled}")
    back = _edited(("version: 1", "version: 2"), (cancel, ""), (cancelled, ""),
                   ("    aggregates:\n", "    aggregates:\n" + desk))
    assert ("streams-moved", "Cancelled", True) in [
        (kind, event, failing) for kind, event, _, failing in _changes(model, back)]


def test_validate_and_generate_refuse_the_move_at_the_event(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    model.write_text(_edited(("- name: Booking\n", "- name: Reservation\n")))
    for args in (["validate", str(model)], ["generate", str(model), "-o", str(tmp_path / "o")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert (f"{model}:26:13: error: breaking change since desk.lock.json: streams-moved: "
                f"Booked is now recorded in streams reservation-<id>") in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_lock_written_before_it_kept_prefixes_reads_and_gains_them(tmp_path: Path) -> None:
    """Locks of earlier versions have no actor_prefix: nothing to compare, no error, and the
    next generate writes it."""
    model = _locked(tmp_path)
    lock = json.loads(lock_path(model).read_text())
    for entry in lock["events"].values():
        entry.pop("actor_prefix", None)
    lock_path(model).write_text(json.dumps(lock))
    assert _changes(model, DESK) == []
    result = CliRunner().invoke(main, ["generate", str(model), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert '"actor_prefix": "booking"' in lock_path(model).read_text()


@pytest.mark.parametrize("key", ["actor_prefix", "actor_id_field"])
@pytest.mark.parametrize("value", [5, None, ["booking"], {"a": 1}])
def test_an_actor_prefix_that_is_not_text_is_a_damaged_lock(tmp_path: Path, key: str,
                                                            value: object) -> None:
    model = _locked(tmp_path)
    lock = json.loads(lock_path(model).read_text())
    lock["events"]["Booked"][key] = value
    lock_path(model).write_text(json.dumps(lock, indent=2))
    result = CliRunner().invoke(main, ["check", str(model)])
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert f"not a valid lock (event Booked: `{key}` is not text)" in line
    assert line.startswith(f"aether-gen: error: {lock_path(model)}:")


def test_an_event_moved_out_of_its_aggregate_leaves_histories_that_do_not_load(
        tmp_path: Path) -> None:
    """Booking's stored histories hold Cancelled events; moved to the context, Booking no
    longer applies them (check used to see no change)."""
    model = _locked(tmp_path)
    cancel = ("          - name: Cancel\n            actor: Clerk\n"
              "            fields: {booking_id: str}\n            emits: [Cancelled]\n")
    cancelled = "          - name: Cancelled\n            fields: {booking_id: str}\n"
    moved = _edited((cancel, ""), (cancelled, ""),
                    ("      - name: DayStarted\n        fields: {day: date}\n",
                     "      - name: DayStarted\n        fields: {day: date}\n"
                     "      - name: Cancelled\n        fields: {booking_id: str}\n"))
    (change,) = _since_lock(model, moved)
    assert (change.kind, change.event, change.failing) == ("streams-moved", "Cancelled", True)
    assert change.message.startswith(
        "Cancelled moved out of aggregate Booking: stored Booking histories hold Cancelled "
        "events it no longer applies")


def test_an_event_moved_between_aggregates_without_ids_is_found(tmp_path: Path) -> None:
    erase = ("          - name: Erase\n            actor: Clerk\n"
             "            fields: {text: str}\n            emits: [Erased]\n")
    erased = "          - name: Erased\n            fields: {text: str}\n"
    write = ("          - name: Write\n            actor: Clerk\n"
             "            fields: {text: str}\n            emits: [Written]\n")
    written = "          - name: Written\n            fields: {text: str}\n"
    # Note (no id) has Write/Written and Erase/Erased; then Written moves to a new Pad.
    before = _edited((write, write + erase), (written, written + erased))
    model = _locked(tmp_path, before)
    pad = (f"      - name: Pad\n        state: {{text: str}}\n        commands:\n{write}"
           f"        events:\n{written}")
    after = before.replace(write, "").replace(written, "").replace(
        "    aggregates:\n", "    aggregates:\n" + pad, 1)
    (change,) = _since_lock(model, after)
    assert (change.kind, change.event, change.failing) == ("streams-moved", "Written", True)
    assert change.message.startswith("Written moved out of aggregate Note to Pad:")


def _since_lock(model: Path, text: str) -> list[Change]:
    """The changes of ``text``, written as the model, since the lock beside it."""
    model.write_text(text)
    return changes_against(load_model(model), json.loads(lock_path(model).read_text()))


def test_another_field_as_the_id_moves_the_streams(tmp_path: Path) -> None:
    """`id: guest` where it was `id: booking_id`: the prefix is the same, but the actor ids
    are made of other values (booking-<guest>), and the stored histories stay under
    booking-<booking_id> (re-trial helper: check saw no change)."""
    model = _locked(tmp_path)
    switched = _edited(("id: booking_id\n", "id: guest\n"),
                       ("            fields: {booking_id: str}\n            emits: [Cancelled]",
                        "            fields: {booking_id: str, guest: str}\n"
                        "            emits: [Cancelled]"))
    found = [(c.kind, c.event, c.failing) for c in _since_lock(model, switched)]
    assert found == [("streams-moved", "Booked", True), ("streams-moved", "Cancelled", True)]
    (change, _) = _since_lock(model, switched)
    assert change.message == (
        "Booked is now recorded in streams booking-<guest>, and the stored ones are in "
        "booking-<booking_id>, which nothing loads any more; keep `id: booking_id` to keep "
        "them, or bump the model's version once they are moved")


def test_the_id_field_renamed_keeps_its_values_and_its_streams(tmp_path: Path) -> None:
    model = _locked(tmp_path)
    renamed = DESK.replace("booking_id", "number")
    kinds = {c.kind for c in _since_lock(model, renamed)}
    assert "streams-moved" not in kinds and "field-renamed" in kinds
