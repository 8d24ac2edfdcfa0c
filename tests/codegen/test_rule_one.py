"""Rule 1 of issue 9 as a property: for any model built from hostile names and text,
``validate`` refuses it with located lines, or ``generate`` succeeds and the package
imports, passes ruff, and its generated event tests pass (mypy --strict on a sample).

The test command runs a bounded profile; a deeper run, for after changing modeling/,
codegen/ or templates/:

    AETHER_HYPOTHESIS=deep .venv/bin/pytest tests/codegen/test_rule_one.py
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import inspect
import keyword
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.kit import InMemoryEventStore
from codegen.generator import generate
from codegen.writer import write
from modeling import ModelError, load_model

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MYPY_SAMPLE = 4  # generated packages checked with mypy --strict (one run for all)

for name, examples in (("bounded", 25), ("deep", 2000)):
    settings.register_profile(
        f"aether-rule-one-{name}", max_examples=examples, deadline=None, derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much])
PROFILE = settings.get_profile(f"aether-rule-one-{os.environ.get('AETHER_HYPOTHESIS', 'bounded')}")

# ---- the hostile alphabet --------------------------------------------------------------

KIT = ["Event", "Command", "Repository", "Decimal", "ConfigDict", "AggregateRoot",
       "EventPayload", "BaseModel", "StrEnum", "EventRegistry", "Field", "Dispatch", "Policy",
       "ReadModel", "ClassVar", "Sequence", "UUID", "JsonBytes", "DomainError", "Kit",
       "InMemoryEventStore", "CommandRouter", "EventStore", "SnapshotStore", "TypeAdapter"]
# Hostile names generated code must cope with (keywords once snake_cased, what generated
# modules import, builtins, isort-sensitive spellings), then names validate must refuse.
PASCAL_OK = [*(word.capitalize() for word in [*keyword.kwlist, *keyword.softkwlist]
               if word not in ("_", "True", "False", "None")), *KIT,
             "HTTPServer", "PlaceOrder", "OrderState", "OrderBase", "OrderRow", "Order",
             "EXAMPLES", "Test", "X", "A" * 48, "Str", "Int", "List", "Self", "Typing",
             "Registry", "Print", "Len", "Happened10", "Happened2", "ShipParcel",
             "ShipmentPrepared", "HTTP", "Ab", "AB", "Http2"]
PASCAL_BAD = ["I", "O", "TypeError", "NotImplementedError", "AssertionError", "True", "None",
              "B" * 49, "Order\n", "\u00d6rd\u00e9r", "Order'", 'Or"der',
              "Or{der}", "\uff2frder", "order", "HttpServer", "PlaceORDER"]
FIELDS_OK = ["id", "state", "version", "name", "type", "match", "case", "x", "a" * 48,
             "print", "registry", "examples", "aggregate", "command", "expected", "error",
             "store", "rows", "event", "envelope", "json_", "total", "x1", "list_", "router"]
FIELDS_BAD = ["l", "model_config", "model_dump", "json", "copy", "schema", "validate",
              "construct", "model_fields", "command_type", "event_type", "schema_version",
              "self", "cls", "kit", "typing", "decimal", "date", "class", "async", "b" * 49,
              "kwargs", "camelCase", "with space", "\u00fcn\u00efcode", "_x"]
MODEL_NAMES_BAD = ["typing", "enum", "decimal", "abc", "asyncio", "json", "aether",
                   "pydantic", "os", "tests", "class", "x" * 49, "My Shop", "kit"]
ENUM_OK = ["a", "b", "none", "true", "match", "mro", "name", "value", "Upper", "b_", "x" * 48]
ENUM_BAD = ["o", "i", "A", "\u00df", "SS", "_x_", "_ignore_", "__x", "x" * 49]
# Quotes, braces, escapes, newlines, NUL, look-alikes (Cyrillic a, curly quote, fullwidth
# O), an emoji, a line separator, and any other character.
_TRICKY = [*"\"'{}\\\n\t\0<>`$#%;()", "\u0430", "\u2019", "\uff2f", "\U0001f680", "\u00df",
           "\u2028", '"""', "\\N", "\'\'\'", "{{", "}}"]
TEXT = st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
                | st.sampled_from(_TRICKY), max_size=6).map("".join)
PRIMITIVE_TYPES = ["str", "int", "float", "bool", "decimal", "datetime", "date", "uuid",
                   "bytes", "list[str]", "dict[str, int]", "str | None", "list[list[int]]"]


def mostly(ok: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``ok`` 15 times in 16, so that about half the models pass validate and get compiled
    (hypothesis favours bounds, hence 5 rather than 0)."""
    return st.integers(0, 15).flatmap(lambda n: bad if n == 5 else ok)  # 5: not a bound


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": TEXT, "bool": st.booleans(),
    # base64 in scenarios and containers; a bytes field's own default is any text
    "bytes": mostly(st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode()), TEXT),
    "int": mostly(st.integers(-(2**53) + 1, 2**53 - 1), st.just(2**60)),
    "float": mostly(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5),
                    st.sampled_from([float("nan"), float("inf")])),
    "decimal": mostly(st.sampled_from(["12.50", "-0", "1e999", "0.000000001"]),
                      st.sampled_from(["NaN", "x"])),
    "datetime": mostly(st.just("2026-01-31T12:00:00+00:00"), st.just("nope")),
    "date": mostly(st.just("2026-01-31"), st.just("2026-02-30")),
    "uuid": mostly(st.just("00000000-0000-4000-8000-000000000001"), st.just("u")),
    "list[str]": st.lists(TEXT, max_size=3),
    "dict[str, int]": st.dictionaries(TEXT, st.integers(-3, 3), max_size=2),
    "str | None": TEXT | st.none(), "list[list[int]]": st.just([[1], []]),
}


def pascal(index: int) -> st.SearchStrategy[str]:
    return mostly(st.sampled_from(PASCAL_OK) | st.just(f"Thing{index}") | st.from_regex(
        r"[A-Z][a-z]{1,8}[A-Z][a-z]{0,6}", fullmatch=True), st.sampled_from(PASCAL_BAD))


@st.composite
def fields(draw: st.DrawFn, types: list[str], size: int = 2) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, size))):
        name = draw(mostly(st.sampled_from(FIELDS_OK) | st.from_regex(
            r"[a-z]{1,6}(_[a-z]{1,5})?", fullmatch=True), st.sampled_from(FIELDS_BAD)))
        type_text = draw(st.sampled_from(types))
        if type_text in VALUES and draw(st.booleans()):
            out[name] = {"type": type_text, "default": draw(VALUES[type_text]),
                         "description": draw(TEXT)}
        else:
            out[name] = type_text
    return out


KEY_TYPES = ["str", "int", "bool", "decimal", "datetime", "date", "uuid", "bytes"]


def type_of(spec: Any) -> str:
    return str(spec if isinstance(spec, str) else spec["type"])


@st.composite
def payload(draw: st.DrawFn, field_specs: dict[str, Any]) -> dict[str, Any]:
    """Values for the fields (optional ones sometimes left out), mostly fitting them."""
    return {name: draw(VALUES.get(type_of(spec), st.just(None)))
            for name, spec in field_specs.items()
            if not type_of(spec).endswith("| None") or draw(st.booleans())}


@st.composite
def read_models(draw: st.DrawFn, name: st.SearchStrategy[str], events: list[str],
                event_fields: dict[str, dict[str, Any]], types: list[str]) -> dict[str, Any]:
    """Rows per actor, by a key field of the events (any of their fields: validate refuses
    a key that cannot pick a row), or a single row; a scenario given the events."""
    events = events[-draw(st.integers(1, len(events))):]
    view: dict[str, Any] = {"name": draw(name), "from": events,
                            "fields": draw(fields(types))}
    keys = sorted(set.intersection(*(set(event_fields[event]) for event in events)))
    shape = draw(st.sampled_from(["actor", "single", *(["key"] if keys else [])]))
    if shape == "single":
        view["single"] = True
    elif shape == "key":
        view["key"] = draw(st.sampled_from(keys))
    given = [{event: draw(payload(event_fields[event]))}
             for event in draw(st.lists(st.sampled_from(events), max_size=2))]
    row = draw(payload(view["fields"]))
    if shape == "key":
        key_type = next((type_of(event_fields[e][view["key"]]) for e in events
                         if view["key"] in event_fields[e]), "str")
        row[view["key"]] = draw(VALUES.get(key_type, st.just(None)))
    then = [row] if shape == "single" else draw(st.sampled_from([[], [row]]))
    view["scenarios"] = [{"name": draw(TEXT), "given": given, "then": then}]
    return view


@st.composite
def models(draw: st.DrawFn) -> dict[str, Any]:
    counter = iter(range(1000))
    context: dict[str, Any] = {"name": draw(pascal(next(counter))), "actors": ["User"]}
    value_objects = [draw(pascal(next(counter))) for _ in range(draw(st.integers(0, 2)))]
    enums = [draw(pascal(next(counter))) for _ in range(draw(st.integers(0, 1)))]
    types = PRIMITIVE_TYPES + enums + value_objects + [f"{vo} | None" for vo in value_objects]
    context["value_objects"] = [{"name": vo, "description": draw(TEXT),
                                 "fields": draw(fields(types))} for vo in value_objects]
    context["enums"] = [{"name": enum, "values": draw(st.lists(mostly(
        st.sampled_from(ENUM_OK), st.sampled_from(ENUM_BAD)), min_size=1, max_size=3,
        unique=True))} for enum in enums]
    aggregates: list[dict[str, Any]] = []
    all_events: list[str] = []
    all_commands: list[str] = []
    for _ in range(draw(st.integers(0, 2))):
        events: list[dict[str, Any]] = [
            {"name": draw(pascal(next(counter))), "fields": draw(fields(types)),
             "description": draw(TEXT)} for _ in range(draw(st.integers(0, 2)))]
        commands: list[dict[str, Any]] = [
                    {"name": draw(pascal(next(counter))), "actor": "User",
                     "fields": draw(fields(types)), "description": draw(TEXT),
                     "emits": [e["name"] for e in events][:draw(st.integers(0, 2))]}
                    for _ in range(draw(st.integers(0, 2)))]
        scenarios = [{"name": draw(TEXT), "when": {c["name"]: {
            name: draw(VALUES.get(spec if isinstance(spec, str) else spec["type"],
                                  st.just(None)))
            for name, spec in c["fields"].items()}}, "error": draw(TEXT)}
            for c in commands[:draw(st.integers(0, 1))]]
        aggregates.append({"name": draw(pascal(next(counter))), "description": draw(TEXT),
                           "state": draw(fields(types)), "events": events,
                           "commands": commands, "scenarios": scenarios})
        all_events += [e["name"] for e in events]
        all_commands += [c["name"] for c in commands]
    context["aggregates"] = aggregates
    event_fields = {e["name"]: e["fields"] for a in aggregates for e in a["events"]}
    if draw(st.booleans()):  # an external system reporting an event no aggregate owns
        external: dict[str, Any] = {"name": draw(pascal(next(counter))), "fields": {
            **draw(fields(types)), "ref": draw(st.sampled_from(KEY_TYPES + enums))}}
        context["events"] = [external]
        context["external_systems"] = [{"name": draw(pascal(next(counter))),
                                        "emits": [external["name"]]}]
        all_events.append(external["name"])
        event_fields[external["name"]] = external["fields"]
    with_policy, with_read_model = draw(st.booleans()), draw(st.booleans())
    if all_events and with_read_model:
        context["read_models"] = [draw(read_models(pascal(next(counter)), all_events[-2:],
                                                   event_fields, types))]
    if all_events and all_commands and with_policy:
        policy: dict[str, Any] = {"name": draw(pascal(next(counter))),
                                  "on": all_events[:1], "issues": all_commands[-1:],
                                  "ignore": ["policy-cycle"]}
        if "read_models" in context and draw(st.booleans()):
            policy["reads"] = [context["read_models"][0]["name"]]
        policy["scenarios"] = [{
            "name": draw(TEXT), "when": {all_events[0]: draw(payload(event_fields[
                all_events[0]]))}, "then": []} for _ in range(draw(st.integers(0, 1)))]
        context["policies"] = [policy]
    context["hot_spots"] = [{"text": draw(TEXT)}]
    name = draw(mostly(st.just("shop") | st.from_regex(r"zz[a-z]{1,8}", fullmatch=True),
                       st.sampled_from(MODEL_NAMES_BAD)))
    return {"model": name, "description": draw(TEXT), "contexts": [context]}


# ---- the property ----------------------------------------------------------------------

def run_generated_tests(out: Path, package: str) -> None:
    """Import the package as a user would and run its generated event tests (the scenario
    tests need the stubs filled in, so they are imported, not run)."""
    sys.path.insert(0, str(out))
    try:
        app = importlib.import_module(f"{package}.app")
        app.make_router(InMemoryEventStore())
        read_models = app.make_read_models()
        if inspect.signature(app.make_policies).parameters:
            app.make_policies(read_models)
        else:
            app.make_policies()
        importlib.import_module(f"{package}.tests.test_scenarios")
        events = importlib.import_module(f"{package}.tests.test_events")
        for name, test in inspect.getmembers(events, inspect.isfunction):
            if name.startswith("test_"):
                test()
        # Read-model and policy scenarios run against the pre-filled stubs: they may fail
        # an assertion (the stub does not do what the scenario says yet), nothing else.
        for module in ("test_read_models", "test_policies"):
            if (out / package / "tests" / f"{module}.py").exists():
                tests = importlib.import_module(f"{package}.tests.{module}")
                for name, test in inspect.getmembers(tests, inspect.isfunction):
                    if name.startswith("test_"):
                        with contextlib.suppress(AssertionError, NotImplementedError):
                            test()
    finally:
        sys.path.remove(str(out))


def test_validate_refuses_or_the_generated_package_is_sound(tmp_path: Path) -> None:
    accepted: list[str] = []
    counter = iter(range(10**6))

    @PROFILE
    @given(models())
    def rule_one(data: dict[str, Any]) -> None:
        number = next(counter)
        path = tmp_path / f"model{number}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        try:
            loaded = load_model(path)
        except ModelError as error:
            assert error.errors
            for line in map(str, error.errors):
                assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: \S", line), line
                assert len(line) < 1000
            return
        package = f"hx{number}"
        out = tmp_path / "out"
        write(generate(loaded.model, package), out)
        ruff = subprocess.run([str(BIN / "ruff"), "check", "--config", ROOT / "pyproject.toml",
                               package], cwd=out, capture_output=True, text=True, check=False)
        assert ruff.returncode == 0, ruff.stdout
        run_generated_tests(out, package)
        accepted.append(package)

    rule_one()
    assert accepted, "no generated model passed validate: the strategy is too hostile"
    sample = accepted[:: max(1, len(accepted) // MYPY_SAMPLE)][:MYPY_SAMPLE]
    mypy = subprocess.run([str(BIN / "mypy"), "--strict", "--config-file",
                           ROOT / "pyproject.toml", *sample], cwd=tmp_path / "out",
                          capture_output=True, text=True, check=False)
    assert mypy.returncode == 0, mypy.stdout

