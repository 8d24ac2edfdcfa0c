"""Rule 1 against the newer model features (policies that read read models, upcasters):
models that once passed validate and then gave a package ruff or its tests refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from modeling.upcasting import upcast_steps
from tests.cli import aether_gen

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

MANY_READS = """\
model: many_reads
contexts:
  - name: Ledger
    actors: [Clerk]
    aggregates:
      - name: Book
        commands: [{name: Post, actor: Clerk, fields: {key: str}, emits: [Posted]}]
        events: [{name: Posted, fields: {key: str}}]
    read_models:
%s
    policies:
      - {name: Pol, on: [Posted], issues: [Post], reads: [%s], ignore: [policy-cycle]}
"""
# Names of Policy's members: their attributes become `<name>_view`, longer still.
VIEWS = ["Name", "Position", "React", "Handle", "CommandId", "OnPosted", "ReactsTo"]

BYTES_V1 = """\
model: blob_bump
contexts:
  - name: Files
    actors: [User]
    aggregates:
      - name: Blob
        commands: [{name: Put, actor: User, emits: [Stored]}]
        events:
          - name: Stored
            fields: {n: int}
"""
BYTES_V2 = BYTES_V1.replace("fields: {n: int}", """schema_version: 2
            fields: {n: int, raw: {type: bytes, default: "h\\u00e9llo \\\\ =="}}""")


def generate(model: Path, out: Path) -> None:
    result = aether_gen("generate", model, "-o", out)
    assert result.returncode == 0, result.stdout + result.stderr


def generated_tests_pass(cwd: Path, target: str | Path) -> None:
    """The generated tests at ``target`` (relative to ``cwd``) run and pass."""
    tests = subprocess.run([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", str(target)],
                           cwd=cwd, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout


def test_a_policy_reading_many_read_models_gets_a_stub_within_100_columns(
    tmp_path: Path,
) -> None:
    """The stub's comment naming what the policy reads was one line of 174 columns (E501)."""
    rows = "".join(f"      - {{name: {view}, from: [Posted], fields: {{key: str}}}}\n"
                   for view in VIEWS)
    model = tmp_path / "many_reads.yaml"
    model.write_text(MANY_READS % (rows.rstrip("\n"), ", ".join(VIEWS)))
    generate(model, tmp_path / "out")
    stub = tmp_path / "out" / "many_reads" / "policies" / "pol.py"
    ruff = subprocess.run([str(BIN / "ruff"), "check", "--config", ROOT / "pyproject.toml",
                           stub], capture_output=True, text=True, check=False)
    assert ruff.returncode == 0, ruff.stdout
    assert "        # self.command_id_view, self.on_posted_view," in stub.read_text()


def test_a_bytes_field_added_with_a_default_is_upcast_as_base64(tmp_path: Path) -> None:
    """Payloads carry bytes as base64: the stub once set the default's raw text, and every
    old event failed to decode ('ascii' codec can't encode character)."""
    model = tmp_path / "blob_bump.yaml"
    model.write_text(BYTES_V1)
    generate(model, tmp_path)
    model.write_text(BYTES_V2)
    generate(model, tmp_path)
    stub = tmp_path / "blob_bump" / "upcasters" / "stored_v1_to_v2.py"
    assert 'data.setdefault("raw", "aMOpbGxvIFwgPT0=")' in stub.read_text()
    generated_tests_pass(tmp_path, "blob_bump/tests/test_upcasters.py")


LEFT_OUT = """\
model: left_out
contexts:
  - name: Sales
    actors: [Clerk]
    value_objects:
      - {name: Slot, fields: {at: date, next: "Slot | None"}}
    aggregates:
      - name: Till
        commands: [{name: Ring, actor: Clerk, fields: {note: "str | None"}, emits: [Rung]}]
        events: [{name: Rung, fields: {note: "str | None", slot: Slot}}]
        scenarios:
          - {name: ring, when: {Ring: {}}, then: [{Rung: {slot: {at: "2026-01-31"}}}]}
    read_models:
      - name: Slots
        single: true
        from: [Rung]
        fields: {slot: "Slot | None"}
        scenarios:
          - name: the last slot
            given: [{Rung: {slot: {at: "2026-01-31"}}}]
            then: [{slot: {at: "2026-01-31"}}]
"""
FILLED = """\
    def handle_ring(self, command: Ring) -> None:
        self.record(Rung(note=command.note, slot=Slot(at=datetime.date(2026, 1, 31), next=None)))
"""


def test_an_optional_field_left_out_of_a_scenario_is_none(tmp_path: Path) -> None:
    """validate lets a scenario leave out an optional field without a default (as null);
    generated classes require it, so the tests once failed mypy (Missing named argument)
    and raised ValidationError instead of comparing."""
    model = tmp_path / "left_out.yaml"
    model.write_text(LEFT_OUT)
    generate(model, tmp_path)
    stub = tmp_path / "left_out" / "aggregates" / "till.py"
    text = stub.read_text()
    start = text.index("    def handle_ring")
    end = text.index("\n\n", start) + 1
    head = text[:start].replace("import typing\n", "import datetime\nimport typing\n")
    head = head.replace("from ..events import Rung\n",
                        "from ..events import Rung\nfrom ..types import Slot\n")
    stub.write_text(head + FILLED + text[end:])
    mypy = subprocess.run([str(BIN / "mypy"), "--strict", "--config-file",
                           ROOT / "pyproject.toml", "--cache-dir", tmp_path / "cache", "left_out"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert mypy.returncode == 0, mypy.stdout
    generated_tests_pass(tmp_path, "left_out")


def test_a_value_object_changed_under_an_event_leaves_the_upcaster_to_write() -> None:
    """Slot gained a required field: stored slots lack it. The stub once returned the data
    as it was (nothing to write, it said), and every old event failed to decode."""
    def version(slot: dict[str, Any], description: str = "") -> dict[str, Any]:
        return {"fields": {"slot": {"type": "Slot | None", "required": True},
                           "slots": {"type": "dict[str, list[Outer]]", "required": True},
                           "n": {"type": "int", "required": True}},
                "types": {"Outer": {"fields": {"inner": {"type": "Slot", "required": True}}},
                          "Slot": {"fields": slot, "description": description}}}

    at = {"at": {"type": "date", "required": True}}
    (step,) = upcast_steps("Done", {"1": version(at), "2": version(
        {**at, "n": {"type": "int", "required": True}})})
    assert step.manual == ["convert slot (Slot | None): Slot changed since version 1",
                           "convert slots (dict[str, list[Outer]]): Slot changed since version 1"]
    (step,) = upcast_steps("Done", {"1": version(at), "2": version(at, "Where it goes.")})
    assert step.manual == []
    # What old values still fit needs nothing: an optional field, another enum value.
    kind = {"enum": ["a"]}
    loose = version({**at, "note": {"type": "str", "required": False, "default": ""}})
    loose["types"]["Kind"] = {"enum": ["a", "b"]}
    old = version({**at, "kind": {"type": "Kind", "required": True}})
    old["types"]["Kind"] = kind
    loose["types"]["Slot"]["fields"]["kind"] = {"type": "Kind", "required": True}
    (step,) = upcast_steps("Done", {"1": old, "2": loose})
    assert step.manual == []
    loose["types"]["Kind"] = {"enum": ["b"]}
    (step,) = upcast_steps("Done", {"1": old, "2": loose})
    assert step.manual[0] == "convert slot (Slot | None): Kind changed since version 1"


LONG_READS = """\
model: long_reads
contexts:
  - name: Ledger
    actors: [Clerk]
    aggregates:
      - name: Book
        commands: [{name: Post, actor: Clerk, emits: [Posted]}]
        events: [{name: Posted}]
    read_models:
      - {name: %(long)s, from: [Posted]}
      - {name: Name, from: [Posted]}
    policies:
      - name: Pol
        on: [Posted]
        issues: [Post]
        reads: [Name, %(long)s]
        ignore: [policy-cycle]
        scenarios: [{name: s, given: [{Posted: {}}], when: {Posted: {}}, then: []}]
"""


def test_a_policy_reading_a_long_named_read_model_stays_within_100_columns(
    tmp_path: Path,
) -> None:
    """`<attr>: "<ReadModel>",` in the policy base's constructor was 120 columns for a
    48-character read model (E501): the annotation uses a short alias of it."""
    long = "Eeee" * 11 + "Eeee"  # 48 characters, 59 in snake_case
    model = tmp_path / "long_reads.yaml"
    model.write_text(LONG_READS % {"long": long})
    generate(model, tmp_path)
    bases = (tmp_path / "long_reads" / "bases.py").read_text()
    assert f"{long} as _ReadModel1" in bases
    assert f'{"eeee_" * 11}eeee: "_ReadModel1",' in bases
    ruff = subprocess.run([str(BIN / "ruff"), "check", "--config", ROOT / "pyproject.toml",
                           "long_reads"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert ruff.returncode == 0, ruff.stdout
    mypy = subprocess.run([str(BIN / "mypy"), "--strict", "--config-file",
                           ROOT / "pyproject.toml", "--cache-dir", tmp_path / "cache",
                           "long_reads"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert mypy.returncode == 0, mypy.stdout
    generated_tests_pass(tmp_path, "long_reads")


STUB_OPTIONAL = """\
model: stub_optional
contexts:
  - name: Sales
    actors: [Clerk]
    aggregates:
      - name: Till
        commands: [{name: Ring, actor: Clerk, fields: {amount: int}, emits: [Rung]}]
        events: [{name: Rung, fields: {amount: int, note: "str | None"}}]
        scenarios:
          - {name: ring, when: {Ring: {amount: 1}}, then: [{Rung: {amount: 1}}]}
"""


def test_a_prefilled_handler_passes_none_for_an_optional_field_the_command_lacks(
    tmp_path: Path,
) -> None:
    """The stub recorded `Rung(amount=command.amount)`: mypy refused it (Missing named
    argument "note") and the scenario raised ValidationError."""
    model = tmp_path / "stub_optional.yaml"
    model.write_text(STUB_OPTIONAL)
    generate(model, tmp_path)
    stub = (tmp_path / "stub_optional" / "aggregates" / "till.py").read_text()
    assert "self.record(Rung(amount=command.amount, note=None))" in stub
    mypy = subprocess.run([str(BIN / "mypy"), "--strict", "--config-file",
                           ROOT / "pyproject.toml", "--cache-dir", tmp_path / "cache",
                           "stub_optional"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert mypy.returncode == 0, mypy.stdout
    generated_tests_pass(tmp_path, "stub_optional")


NOTE_TYPES = """\
model: note_types
contexts:
  - name: Sales
    actors: [User]
    aggregates:
      - name: Order
        id: order_id
        commands:
          - name: PlaceOrder
            actor: User
            fields: {order_id: str, note: int}
            emits: [OrderPlaced]
        events:
          - {name: OrderPlaced, fields: {order_id: str, note: int}}
      - name: Parcel
        id: order_id
        commands:
          - name: ShipParcel
            fields: {order_id: str, note: {type: str, default: ""}}
            emits: [ParcelShipped]
        events:
          - {name: ParcelShipped, fields: {order_id: str}}
    policies:
      - name: ShipOnOrder
        on: [OrderPlaced]
        issues: [ShipParcel]
        scenarios:
          - name: ships
            when: {OrderPlaced: {order_id: o1, note: 3}}
            then: [{ShipParcel: {order_id: o1}}]
"""


def test_a_prefilled_policy_passes_a_defaulted_field_only_of_the_same_type(
    tmp_path: Path,
) -> None:
    """The stub once passed `note=event.note` (an int) to a str field with a default: plain
    mypy --strict refused it, and the scenario crashed with a ValidationError."""
    model = tmp_path / "note_types.yaml"
    model.write_text(NOTE_TYPES)
    generate(model, tmp_path)
    stub = (tmp_path / "note_types" / "policies" / "ship_on_order.py").read_text()
    assert "command = ShipParcel(order_id=event.order_id)\n" in stub
    mypy = subprocess.run([str(BIN / "mypy"), "--strict", "--cache-dir", tmp_path / "cache",
                           "note_types"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)  # no pydantic plugin: __init__ is typed
    assert mypy.returncode == 0, mypy.stdout
    generated_tests_pass(tmp_path, "note_types/tests/test_policies.py")


SHELF_V1 = """\
model: shelf
contexts:
  - name: Lending
    actors: [Patron]
    aggregates:
      - name: Book
        commands:
          - {name: PlaceHold, actor: Patron, fields: {patron_id: str}, emits: [HoldPlaced]}
        events:
          - name: HoldPlaced
            fields:
              patron_id: str
              blob: {type: bytes, default: "hi!"}
"""
SHELF_V2 = SHELF_V1.replace("            fields:\n", """            schema_version: 2
            fields:
              count: {type: int, default: 0}
""")


def test_an_old_payload_example_carries_a_bytes_default_as_base64(tmp_path: Path) -> None:
    """The example old payload of tests/test_upcasters.py held the default's raw text, which
    stored JSON never does (bytes are base64): the generated test failed to decode it."""
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF_V1)
    generate(model, tmp_path)
    model.write_text(SHELF_V2)
    generate(model, tmp_path)
    test = tmp_path / "shelf" / "tests" / "test_upcasters.py"
    assert '{"blob": "aGkh", "patron_id": "text"}' in test.read_text()
    generated_tests_pass(tmp_path, test)
