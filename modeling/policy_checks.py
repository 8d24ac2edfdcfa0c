"""Checks of what a policy reads and of its scenarios (given events, when an event, then
the commands it dispatches), each problem at its own location; and that the streams an
external system records in are its own.

A policy scenario's messages are written like an aggregate scenario's, ``{Name: {field:
value}}``, with one optional lowercase key beside the name: ``actor`` on an event (the
stream it is recorded in) and ``to`` on a command (the actor it is sent to). Element
names are PascalCase, so those keys never clash with one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import JsonValue

from modeling.identity import MAX_ACTOR_ID_BYTES, id_prefix, id_value_problem
from modeling.names import short, shown, snake_case
from modeling.source import Path, Severity
from modeling.types import Aggregate, EventDef, Model, Policy, PolicyScenario
from modeling.values import DeclaredTypes, payload_problems

if TYPE_CHECKING:
    from modeling.index import Entry, Kind, ModelIndex

ACTOR_KEY = "actor"
TARGET_KEY = "to"
MAX_ACTOR_ID = 255
"""Longest actor id a scenario may write (well within every backend's limit)."""


class Checker(Protocol):
    """What these checks need of modeling/validate.py's checker."""

    model: Model
    index: ModelIndex
    types: DeclaredTypes

    def report(self, path: Path, message: str, code: str, severity: Severity = "error",
               at_key: bool = False) -> None: ...

    def resolve(self, path: Path, name: str, what: str, *kinds: Kind) -> Entry | None: ...

    def what_it_is(self, name: str, expected: str) -> str: ...


@dataclass(frozen=True)
class Message:
    """One event or command of a policy scenario, taken apart."""

    name: str
    payload: Mapping[str, JsonValue]
    address: str | None  # the `actor` of an event, the `to` of a command


def split_message(message: Mapping[str, JsonValue], extra: str) -> Message | tuple[str | None, str]:
    """The message, or where in it (a key, or None for the whole) and what is wrong with
    its shape; ``extra`` is the lowercase key allowed beside the name (``actor``/``to``)."""
    for key in message:
        if key[:1].islower() and key != extra:
            other = ("beside an event write `actor: <actor id>` (the stream it is recorded "
                     "in); `to:` goes beside a command in `then`" if extra == ACTOR_KEY else
                     "beside a command write `to: <actor id>` (where it is sent); `actor:` "
                     "goes beside an event in `given` or `when`")
            return key, f"unknown key {shown(key)} here: {other}"
    names = [key for key in message if key != extra]
    if len(names) != 1:
        return None, (f"write exactly one name here, as `{{Name: {{field: value}}}}`, with "
                      f"`{extra}: ...` beside it if needed")
    name = names[0]
    payload = message[name]
    if not isinstance(payload, dict):
        return name, (f"the fields of {shown(name)} are a mapping `{{field: value}}` (or "
                      f"null for none)")
    address = message.get(extra)
    if extra in message and not _is_actor_id(address):
        return extra, (f"`{extra}` is an actor id: text of 1 to {MAX_ACTOR_ID} printable "
                       f"characters (at most {MAX_ACTOR_ID_BYTES} bytes of UTF-8), such as "
                       f"`{extra}: order-o1`")
    return Message(name, payload, address if isinstance(address, str) else None)


def _is_actor_id(value: JsonValue) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ACTOR_ID and value.isprintable() \
        and len(value.encode("utf-8", "surrogatepass")) <= MAX_ACTOR_ID_BYTES


def read_models_read(model: Model, policy: Policy) -> dict[str, list[str]]:
    """The events each read model ``policy`` reads is fed from, by read model name."""
    declared = {rm.name: rm.from_ for c in model.contexts for rm in c.read_models}
    return {name: declared[name] for name in policy.reads if name in declared}


def command_owners(model: Model) -> dict[str, Aggregate]:
    return {command.name: aggregate for c in model.contexts for aggregate in c.aggregates
            for command in aggregate.commands}


def event_owners(model: Model) -> dict[str, tuple[EventDef, Aggregate | None]]:
    """Event name -> its definition and the aggregate that records it (None for an event of
    a context: an external system's or another's)."""
    owners: dict[str, tuple[EventDef, Aggregate | None]] = {
        e.name: (e, a) for c in model.contexts for a in c.aggregates for e in a.events}
    owners.update({e.name: (e, None) for c in model.contexts for e in c.events})
    return owners


def check_policies(checker: Checker) -> None:
    _check_external_streams(checker)
    for c, context in enumerate(checker.model.contexts):
        for i, policy in enumerate(context.policies):
            path: Path = ("contexts", c, "policies", i)
            _check_reads(checker, path, policy)
            for s, scenario in enumerate(policy.scenarios):
                _ScenarioCheck(checker, policy, (*path, "scenarios", s)).run(scenario)


def _check_external_streams(checker: Checker) -> None:
    """An external system records in streams ``<system_snake_case>-<key>``
    (aether/external.py): no aggregate's actor ids may share that prefix."""
    prefixes = {id_prefix(a): a.name for c in checker.model.contexts for a in c.aggregates
                if a.id is not None}
    for c, context in enumerate(checker.model.contexts):
        for i, system in enumerate(context.external_systems):
            owner = prefixes.get(snake_case(system.name))
            if system.emits and owner is not None:
                checker.report(("contexts", c, "external_systems", i, "name"),
                               f"external system {short(system.name)} records its events in "
                               f"streams `{snake_case(system.name)}-<key>`, the actor ids of "
                               f"aggregate {short(owner)} too: give {short(owner)} another "
                               f"`id_prefix`", "duplicate")


def _check_reads(checker: Checker, path: Path, policy: Policy) -> None:
    first: dict[str, int] = {}
    for r, name in enumerate(policy.reads):
        if name in first:
            checker.report((*path, "reads", r),
                           f"policy {short(policy.name)} reads {shown(name)} twice (also item "
                           f"{first[name] + 1} of `reads`); name each read model once",
                           "duplicate")
            continue
        first[name] = r
        checker.resolve((*path, "reads", r), name,
                        f"policy {short(policy.name)} reads read model", "read_model")


class _ScenarioCheck:
    def __init__(self, checker: Checker, policy: Policy, path: Path) -> None:
        self.checker, self.policy, self.path = checker, policy, path
        self.reads = read_models_read(checker.model, policy)
        self.owners = command_owners(checker.model)

    def run(self, scenario: PolicyScenario) -> None:
        name = short(self.policy.name)
        if scenario.then is None:
            self.checker.report((*self.path, "name"),
                                f"scenario {shown(scenario.name)} of policy {name} does not say "
                                f"what the policy dispatches: add `then:` the commands, or "
                                f"`then: []` for none", "bad-scenario")
        for g, message in enumerate(scenario.given):
            self.given((*self.path, "given", g), message)
        self.when((*self.path, "when"), scenario.when)
        for t, message in enumerate(scenario.then or []):
            self.then((*self.path, "then", t), message)

    def split(self, path: Path, message: Mapping[str, JsonValue], extra: str) -> Message | None:
        split = split_message(message, extra)
        if isinstance(split, tuple):
            key, problem = split
            self.checker.report(path if key is None else (*path, key), problem,
                                "bad-scenario", at_key=key is not None)
            return None
        return split

    def payload(self, path: Path, message: Message) -> None:
        index = self.checker.index
        known = index.events.get(message.name) or index.commands.get(message.name)
        if known is None:
            return
        problems = payload_problems(message.payload, known[0].fields, self.checker.types,
                                    message.name)
        for field, problem in problems:
            where = (*path, message.name) if field is None else (*path, message.name, field)
            self.checker.report(where, problem, "bad-scenario")
        owner = known[1]
        too_long = None if problems else id_value_problem(owner, message.payload,
                                                          known[0].fields)
        if too_long is not None and owner is not None:
            self.checker.report((*path, message.name, str(owner.id)), too_long, "bad-scenario")

    def given(self, path: Path, raw: Mapping[str, JsonValue]) -> None:
        message = self.split(path, raw, ACTOR_KEY)
        if message is None:
            return
        name = short(self.policy.name)
        if message.name not in self.checker.index.events:
            self.unknown(path, message.name, "event", "an event")
            return
        if not self.reads:
            self.checker.report((*path, message.name),
                                f"policy {name} reads no read models, so the given event "
                                f"{short(message.name)} feeds nothing: declare what it reads "
                                f"(`reads: [...]`) or remove `given`", "bad-scenario",
                                at_key=True)
            return
        if not any(message.name in events for events in self.reads.values()):
            self.checker.report((*path, message.name),
                                f"given event {short(message.name)} is read by none of the read "
                                f"models policy {name} reads ({', '.join(self.reads)}); `given` "
                                f"feeds them: name an event they read from", "bad-scenario",
                                at_key=True)
            return
        self.payload(path, message)

    def when(self, path: Path, raw: Mapping[str, JsonValue]) -> None:
        message = self.split(path, raw, ACTOR_KEY)
        if message is None:
            return
        if message.name not in self.policy.on:
            self.checker.report((*path, message.name),
                                f"`when` names {shown(message.name)}"
                                f"{self.checker.what_it_is(message.name, 'event')}, but policy "
                                f"{short(self.policy.name)} reacts to "
                                f"{', '.join(self.policy.on)}: `when` is one of those events",
                                "unknown-reference", at_key=True)
            return
        self.payload(path, message)

    def then(self, path: Path, raw: Mapping[str, JsonValue]) -> None:
        message = self.split(path, raw, TARGET_KEY)
        if message is None:
            return
        if message.name not in self.policy.issues:
            self.checker.report((*path, message.name),
                                f"`then` names {shown(message.name)}"
                                f"{self.checker.what_it_is(message.name, 'command')}, but policy "
                                f"{short(self.policy.name)} issues "
                                f"{', '.join(self.policy.issues)}: `then` lists those of them "
                                f"it dispatches", "unknown-reference", at_key=True)
            return
        owner = self.owners.get(message.name)
        if message.address is None and owner is not None and owner.id is None:
            self.checker.report((*path, message.name),
                                f"command {short(message.name)} goes to aggregate "
                                f"{short(owner.name)}, which declares no `id`, so the scenario "
                                f"must say where: write `to: <actor id>` beside it (e.g. "
                                f"`to: {snake_case(owner.name)}-1`)", "bad-scenario",
                                at_key=True)
        self.payload(path, message)

    def unknown(self, path: Path, name: str, kind: str, expected: str) -> None:
        self.checker.report((*path, name), f"{shown(name)} is not {expected}"
                            f"{self.checker.what_it_is(name, kind)}", "unknown-reference",
                            at_key=True)


def addresses(messages: Sequence[Mapping[str, JsonValue]], extra: str) -> Iterator[Message]:
    """The well-formed messages of a validated scenario (for code generation)."""
    for raw in messages:
        message = split_message(raw, extra)
        assert isinstance(message, Message), message  # validated before code generation
        yield message
