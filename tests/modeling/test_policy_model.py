"""Policies that read read models, and policy scenarios: what validate says and where (YAML
and Python), what the two forms build, and how the flow graph and diagrams draw it."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling import ModelError, load_model
from modeling.diagram import to_dot, to_mermaid
from modeling.export import to_yaml
from modeling.graph import build_graph, happens_after, leads_to

HERE = Path(__file__).parent
BROKEN = HERE / "broken"

PYTHON_MODEL = '''\
from modeling import ModelBuilder

model = ModelBuilder("lending")
ctx = model.context("Lending")
loan = ctx.aggregate("Loan")
loan.command("MarkOverdue", fields={"day": "date"}, emits=["Overdue"])
loan.event("Borrowed", fields={"due": "date"})
loan.event("Overdue", fields={"day": "date"})
ctx.event("DayStarted", fields={"day": "date"})
ctx.external_system("Clock", emits=["DayStarted"])
ctx.read_model("Sheet", from_=["Borrowed", "Overdue"], fields={"due": "date | None"})
p = ctx.policy("MarkOverdueLoans", on=["DayStarted"], issues=["MarkOverdue"],
               reads=["Sheet"EXTRA_READ])
p.scenario("due yesterday", given=[{"Borrowed": {"due": "2026-03-01"}, "actor": "loan-1"}],
           when={"DayStarted": {"day": "2026-03-02"}},
           then=[{"MarkOverdue": {"day": "2026-03-02"}TARGET}])
'''

YAML_MODEL = '''\
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
    events:
      - {name: DayStarted, fields: {day: date}}
    external_systems:
      - {name: Clock, emits: [DayStarted]}
    read_models:
      - {name: Sheet, from: [Borrowed, Overdue], fields: {due: "date | None"}}
    policies:
      - name: MarkOverdueLoans
        on: [DayStarted]
        issues: [MarkOverdue]
        reads: [Sheet]
        scenarios:
          - name: due yesterday
            given: [{Borrowed: {due: "2026-03-01"}, actor: loan-1}]
            when: {DayStarted: {day: "2026-03-02"}}
            then: [{MarkOverdue: {day: "2026-03-02"}, to: loan-1}]
'''


def python_model(*, extra_read: str, target: str) -> str:
    return PYTHON_MODEL.replace("EXTRA_READ", extra_read).replace("TARGET", target)


def problems(file: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(file)
    return [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics
            if d.severity == "error"]


def test_every_problem_of_reads_and_policy_scenarios_in_one_run_at_its_place() -> None:
    assert problems(BROKEN / "policies.yaml") == [
        "27:24: error: policy MarkOverdueLoans reads 'Sheet' twice (also item 1 of `reads`); "
        "name each read model once",
        "27:31: error: policy MarkOverdueLoans reads read model 'Borrowed', but Borrowed is an "
        "event of aggregate Loan, not a read model",
        "27:41: error: policy MarkOverdueLoans reads read model 'Sheets', which is not "
        "declared; did you mean 'Sheet'?",
        "29:19: error: scenario 'says nothing' of policy MarkOverdueLoans does not say what the "
        "policy dispatches: add `then:` the commands, or `then: []` for none",
        "32:22: error: given event Charged is read by none of the read models policy "
        "MarkOverdueLoans reads (Sheet); `given` feeds them: name an event they read from",
        "32:79: error: unknown key 'to' here: beside an event write `actor: <actor id>` (the "
        "stream it is recorded in); `to:` goes beside a command in `then`",
        "33:20: error: `when` names 'MarkOverdue' (it is a command of aggregate Loan), but "
        "policy MarkOverdueLoans reacts to DayStarted: `when` is one of those events",
        "34:21: error: `then` names 'Borrowed' (it is an event of aggregate Loan), but policy "
        "MarkOverdueLoans issues MarkOverdue, Charge: `then` lists those of them it dispatches",
        "34:54: error: command MarkOverdue goes to aggregate Loan, which declares no `id`, so "
        "the scenario must say where: write `to: <actor id>` beside it (e.g. `to: loan-1`)",
        "36:38: error: field 'due' of Borrowed: 'soon' is not a valid date; write dates as "
        "YYYY-MM-DD, such as \"2026-01-31\"",
        "37:53: error: `actor` is an actor id: text of 1 to 255 printable characters (at most "
        "512 bytes of UTF-8), such as `actor: order-o1`",
        "38:69: error: Charge has no field 'extra' (fields: member_id, amount)",
        "44:22: error: policy ChargeDaily reads no read models, so the given event Borrowed "
        "feeds nothing: declare what it reads (`reads: [...]`) or remove `given`",
    ]


def test_yaml_and_python_build_the_same_model_and_it_survives_export(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(YAML_MODEL)
    (tmp_path / "m.py").write_text(python_model(extra_read="", target=', "to": "loan-1"'))
    from_yaml = load_model(tmp_path / "m.yaml").model
    assert load_model(tmp_path / "m.py").model == from_yaml
    (policy,) = from_yaml.contexts[0].policies
    assert policy.reads == ["Sheet"]
    assert policy.scenarios[0].then == [{"MarkOverdue": {"day": "2026-03-02"}, "to": "loan-1"}]
    (tmp_path / "exported.yaml").write_text(to_yaml(from_yaml))
    assert load_model(tmp_path / "exported.yaml").model == from_yaml


def test_python_model_problems_point_at_the_builder_call(tmp_path: Path) -> None:
    model = tmp_path / "m.py"
    model.write_text(python_model(extra_read=', "Borrowed"', target=""))
    assert [line.split(": error: ")[0] for line in problems(model)] == ["12:5", "14:1"]
    assert "Borrowed is an event of aggregate Loan, not a read model" in problems(model)[0]
    assert "write `to: <actor id>` beside it" in problems(model)[1]


def test_the_read_model_a_policy_reads_is_drawn_dashed_and_is_no_cause(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.yaml").write_text(YAML_MODEL)
    model = load_model(tmp_path / "m.yaml").model
    graph = build_graph(model)
    assert graph.edges["read_model:Sheet", "policy:MarkOverdueLoans"] == {"reads": True}
    # Reading is not causing: a command's consequences do not run through what it is read by.
    assert "policy:MarkOverdueLoans" not in happens_after(graph, "MarkOverdue")
    assert "read_model:Sheet" not in leads_to(graph, "Overdue")
    mermaid = to_mermaid(model)
    sheet, policy = (next(line.split("[")[0].strip() for line in mermaid.splitlines()
                          if f'"{name}"' in line) for name in ("Sheet", "MarkOverdueLoans"))
    assert f"  {sheet} -.-> {policy}" in mermaid.splitlines()
    assert f"{sheet} -> {policy} [style=dashed]" in to_dot(model)


def test_an_external_system_keeps_its_streams_to_itself(tmp_path: Path) -> None:
    clash = YAML_MODEL.replace(
        "    events:\n      - {name: DayStarted",
        "      - name: Tally\n        id: day\n        id_prefix: clock\n        commands:\n"
        "          - {name: Count, fields: {day: str}}\n"
        "    events:\n      - {name: DayStarted", 1)
    (tmp_path / "m.yaml").write_text(clash)
    assert problems(tmp_path / "m.yaml") == [
        "19:16: error: external system Clock records its events in streams `clock-<key>`, "
        "the actor ids of aggregate Tally too: give Tally another `id_prefix`"]
