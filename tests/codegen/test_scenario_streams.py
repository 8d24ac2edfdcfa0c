"""Which stream a scenario's event is recorded in when the scenario names none: one rule
(modeling.identity.scenario_stream) for policy and read-model scenarios, the stream the
event would be in at run time as far as the model tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.generator import generate
from codegen.writer import write
from modeling import ModelError, load_model
from modeling.source import SourceMap
from modeling.types import Model
from modeling.validate import check_model
from modeling.yaml_source import load_yaml
from tests.codegen.test_read_models import pytest_in

MODEL = '''\
model: streams
contexts:
  - name: Members
    aggregates:
      - name: Account
        id: member_id
        id_prefix: acct
        commands:
          - {name: Remind, fields: {member_id: uuid, day: date}, emits: [Reminded]}
          - {name: Note, fields: {member_id: uuid}, emits: [Noted]}
        events:
          - {name: Reminded, fields: {member_id: uuid, day: date}}
          - {name: Noted, fields: {}}
    events:
      - {name: DayStarted, fields: {day: date}}
      - {name: Audited, fields: {day: date}}
    external_systems:
      - {name: WallClock, emits: [DayStarted]}
    read_models:
      - name: Seen
        from: [Reminded, Noted, DayStarted, Audited]
        fields: {day: "date | None"}
        scenarios:
          - name: every kind of event
            given:
              - {Reminded: {member_id: 5E0C0D1A-9A43-4E43-9C31-3D5B3F1D2E7A, day: "2026-03-01"}}
              - {Noted: {}}
              - {DayStarted: {day: "2026-03-02"}}
              - {Audited: {day: "2026-03-03"}}
            then:
              - {day: "2026-03-01"}
              - {day: null}
              - {day: "2026-03-02"}
              - {day: "2026-03-03"}
    policies:
      - name: RemindAgain
        on: [Reminded]
        issues: [Remind]
        reads: [Seen]
        scenarios:
          - name: a reminder
            given: [{Noted: {}}, {DayStarted: {day: "2026-03-02"}}, {Audited: {day: "2026-03-02"}}]
            when: {Reminded: {member_id: 5E0C0D1A-9A43-4E43-9C31-3D5B3F1D2E7A, day: "2026-03-01"}}
            then: [{Remind: {member_id: 5E0C0D1A-9A43-4E43-9C31-3D5B3F1D2E7A, day: "2026-03-01"}}]
'''

STREAMS = [
    '"acct-5e0c0d1a-9a43-4e43-9c31-3d5b3f1d2e7a"',  # carries its aggregate's id (canonical)
    '"acct-1"',  # an aggregate's event without the id
    '"wall_clock-1"',  # an external system's event
    '"audited-1"',  # any other event
]


def test_policy_and_read_model_scenarios_put_an_event_in_the_same_stream(
        tmp_path: Path) -> None:
    model = Model.model_validate(load_yaml(MODEL, "model.yaml")[0])
    problems = check_model(model, SourceMap("model.yaml"))
    assert [d for d in problems if d.severity == "error"] == []
    write(generate(model, "streams"), tmp_path)
    tests = tmp_path / "streams" / "tests"
    policies = (tests / "test_policies.py").read_text()
    read_models = (tests / "test_read_models.py").read_text()
    for stream in STREAMS:
        assert f"{stream}," in policies, (stream, policies)
        assert f"{stream}," in read_models, (stream, read_models)
    # The read model keeps a row per stream (four streams, four rows); the policy stub as
    # generated dispatches what the scenario says, to the stream its event came from.
    result = pytest_in(tmp_path, "-p", "no:cacheprovider", "-q", "streams/tests")
    assert result.returncode == 0, result.stdout + result.stderr


LOANS = '''\
model: library
contexts:
  - name: Lending
    actors: [Member]
    aggregates:
      - name: Loan
        commands:
          - {name: Borrow, actor: Member, fields: {due: date}, emits: [Borrowed]}
        events:
          - {name: Borrowed, fields: {due: date}}
    read_models:
      - name: Loans
        from: [Borrowed]
        fields: {due: "date | None"}
        scenarios:
          - name: two loans
            given:
              - {Borrowed: {due: "2026-03-01"}, actor: loan-1}
              - {actor: loan-2, Borrowed: {due: "2026-03-09"}}
              - {Borrowed: {due: "2026-03-10"}, actor: loan-1}
            then: [{due: "2026-03-10"}, {due: "2026-03-09"}]
'''


def test_actor_beside_a_read_model_scenario_event_names_its_stream(tmp_path: Path) -> None:
    """An aggregate without `id` has its events in `loan-1` unless the scenario says which
    instance: a keyless read model (a row per stream) needs `actor:` to have two rows."""
    model = Model.model_validate(load_yaml(LOANS, "model.yaml")[0])
    assert [d for d in check_model(model, SourceMap("model.yaml")) if d.severity == "error"] == []
    write(generate(model, "library"), tmp_path)
    read_models = (tmp_path / "library" / "tests" / "test_read_models.py").read_text()
    assert read_models.count('"loan-1",') == 2 and read_models.count('"loan-2",') == 1
    result = pytest_in(tmp_path, "-p", "no:cacheprovider", "-q", "library/tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("item", "said"), [
    ("{Borrowed: {due: '2026-03-01'}, actor: 5}", "`actor` is an actor id: text of 1 to"),
    ("{Borrowed: {due: '2026-03-01'}, to: loan-1}", "unknown key 'to' here: beside an event "
                                                    "write `actor: <actor id>`"),
    ("{Borrowed: {due: '2026-03-01'}, Other: {}}", "write exactly one name here"),
])
def test_a_misplaced_or_bad_actor_in_a_read_model_scenario_is_one_located_line(
        tmp_path: Path, item: str, said: str) -> None:
    path = tmp_path / "model.yaml"
    text = LOANS.replace('{Borrowed: {due: "2026-03-01"}, actor: loan-1}', item)
    path.write_text(text)
    with pytest.raises(ModelError) as raised:
        load_model(path)
    errors = [str(d) for d in raised.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and said in errors[0], errors
    assert errors[0].startswith(f"{path}:18:"), errors
