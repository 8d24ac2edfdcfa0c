"""Generated code for policies that read read models, policy scenarios and external
systems: the scenarios become tests that fail until the policy does what they say, and
no text of a scenario becomes code."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codegen.generator import generate
from codegen.views import build_views
from codegen.writer import write
from modeling.source import SourceMap
from modeling.types import Model
from modeling.validate import check_model
from modeling.yaml_source import load_yaml

MODEL = '''\
model: lending
contexts:
  - name: Lending
    aggregates:
      - name: Loan
        commands:
          - {name: MarkOverdue, fields: {day: date}, emits: [Overdue]}
        events:
          - {name: Borrowed, fields: {due: date}}
          - {name: Overdue, fields: {day: date}}
      - name: Account
        id: member_id
        commands:
          - {name: Remind, fields: {member_id: str, day: date}, emits: [Reminded]}
        events:
          - {name: Reminded, fields: {day: date}}
    events:
      - {name: DayStarted, fields: {day: date}}
    external_systems:
      - {name: Clock, emits: [DayStarted]}
    read_models:
      - {name: Sheet, from: [Borrowed, Overdue], fields: {due: "date | None"}}
    policies:
      - name: MarkOverdueLoans
        on: [DayStarted]
        issues: [MarkOverdue, Remind]
        reads: [Sheet]
        scenarios:
          - name: due yesterday
            given:
              - {Borrowed: {due: "2026-03-01"}, actor: loan-1}
              - {Borrowed: {due: "2026-03-09"}, actor: loan-2}
            when: {DayStarted: {day: "2026-03-02"}}
            then:
              - {MarkOverdue: {day: "2026-03-02"}, to: loan-1}
              - {Remind: {member_id: m-1, day: "2026-03-02"}}
'''

POLICY = '''\
        dispatches: list[kit.Dispatch[MarkOverdue | Remind]] = [
            kit.Dispatch(loan, MarkOverdue(day=event.day))
            for loan, row in self.sheet.rows.items() if row.due is not None and row.due < event.day
        ]
        remind = Remind(member_id="m-1", day=event.day)
        return [*dispatches, kit.Dispatch(remind.target_actor_id(), remind)]
'''


def run_policy_tests(out: Path, package: str = "policy_lending",
                     ) -> dict[str, BaseException | None]:
    """Each generated policy scenario test, run in this process: its error or None."""
    sys.path.insert(0, str(out))
    try:
        module = importlib.import_module(f"{package}.tests.test_policies")
        outcomes: dict[str, BaseException | None] = {}
        for name in dir(module):
            if name.startswith("test_"):
                try:
                    getattr(module, name)()
                    outcomes[name] = None
                except AssertionError as failed:
                    outcomes[name] = failed
        return outcomes
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == package]:
            del sys.modules[name]


def test_policy_scenarios_fail_until_the_policy_does_what_they_say(tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = Model.model_validate(load_yaml(MODEL, "model.yaml")[0])
    write(generate(model, "policy_lending"), out)
    package = out / "policy_lending"
    assert 'def __init__(self, sheet: "Sheet") -> None:' in (package / "bases.py").read_text()
    app = (package / "app.py").read_text()
    assert "MarkOverdueLoans(kit.read_model_of(read_models, Sheet))" in app
    assert "policies=make_policies(read_models)" in app
    external = (package / "external.py").read_text()
    assert "class Clock(kit.ExternalSystem[DayStarted]):" in external

    # The stub dispatches nothing yet: the scenario fails, showing what was dispatched.
    (failure,) = run_policy_tests(out).values()
    assert failure is not None and "assert [] == [" in str(failure)

    stub = package / "policies" / "mark_overdue_loans.py"
    text = stub.read_text()
    body = text[text.index("        # self.sheet"):]
    stub.write_text(text.replace(body, POLICY))
    assert run_policy_tests(out) == {"test_mark_overdue_loans_due_yesterday": None}


def test_a_read_model_named_like_a_policy_member_gets_an_attribute_of_its_own(
    tmp_path: Path,
) -> None:
    # `self.name = ...` would clash with Policy.name (a property): the attribute is name_view.
    model = Model.model_validate(load_yaml(MODEL.replace("Sheet", "Name"), "model.yaml")[0])
    write(generate(model, "policy_named"), tmp_path)
    package = tmp_path / "policy_named"
    assert 'def __init__(self, name_view: "Name") -> None:' in (
        package / "bases.py").read_text()
    stub = package / "policies" / "mark_overdue_loans.py"
    text = stub.read_text()
    body = text[text.index("        # self.name_view"):]
    stub.write_text(text.replace(body, POLICY.replace("self.sheet", "self.name_view")))
    assert run_policy_tests(tmp_path, "policy_named") == {
        "test_mark_overdue_loans_due_yesterday": None}


def with_addresses(actor: str, target: str) -> Model:
    data: dict[str, Any] = load_yaml(MODEL, "model.yaml")[0]
    scenario = data["contexts"][0]["policies"][0]["scenarios"][0]
    scenario["given"][0]["actor"] = actor
    scenario["then"][0]["to"] = target
    return Model.model_validate(data)


@given(actor=st.text(min_size=1, max_size=30), target=st.text(min_size=1, max_size=30))
def test_scenario_actor_ids_stay_string_literals(actor: str, target: str) -> None:
    model = with_addresses(actor, target)
    errors = [d for d in check_model(model, SourceMap("m.yaml")) if d.severity == "error"]
    if errors:  # refused text (unprintable) is said, never generated
        assert all("is an actor id" in d.message for d in errors), errors
        assert not (actor.isprintable() and target.isprintable())
        return
    (scenario,) = build_views(model, "lending").policy_scenarios
    given_call = ast.parse(scenario.given[0], mode="eval").body
    then_call = ast.parse(scenario.then[0], mode="eval").body
    assert isinstance(given_call, ast.Tuple) and isinstance(then_call, ast.Call)
    assert ast.literal_eval(given_call.elts[0]) == actor
    assert ast.literal_eval(then_call.args[0]) == target


@pytest.mark.parametrize("read", ["Self", "Cls", "Match", "Type"])
def test_a_read_model_named_like_a_parameter_gets_an_attribute_of_its_own(
    tmp_path: Path, read: str,
) -> None:
    # `Self` -> `def __init__(self, self: "Self")` was a SyntaxError (duplicate argument);
    # soft keywords read badly as parameters: each becomes `<name>_view`.
    attribute = f"{read.lower()}_view"
    package = f"policy_{read.lower()}"
    model = Model.model_validate(load_yaml(MODEL.replace("Sheet", read), "model.yaml")[0])
    write(generate(model, package), tmp_path)
    bases = (tmp_path / package / "bases.py").read_text()
    assert f'def __init__(self, {attribute}: "{read}") -> None:' in bases
    stub = tmp_path / package / "policies" / "mark_overdue_loans.py"
    text = stub.read_text()
    body = text[text.index(f"        # self.{attribute}"):]
    stub.write_text(text.replace(body, POLICY.replace("self.sheet", f"self.{attribute}")))
    assert run_policy_tests(tmp_path, package) == {
        "test_mark_overdue_loans_due_yesterday": None}
