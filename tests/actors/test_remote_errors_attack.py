"""Attacks on the remote error table (wire_errors.py): a hostile or older owner's error
reply makes its caller raise an AetherError, never a crash of another type, and an outage
on the owner stays an outage (TransientError: a ReactionRunner pauses instead of parking)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.cluster.wire import decode_reply, error_reply
from aether.cluster.wire_errors import _SPECS, Check, CommandTimeoutError, RemoteCommandError
from aether.errors import AetherError, TransientError
from aether.retry import is_transient

ACTOR = "counter-1"


def reply(error: dict[str, Any]) -> bytes:
    return json.dumps({"format": 1, "error": error}).encode()


def raised(payload: bytes) -> AetherError:
    """What the caller raises (or the router is handed) for an owner's reply."""
    try:
        result = decode_reply(payload, ACTOR, "cmd-1")
    except AetherError as exc:
        return exc
    assert isinstance(result, RemoteCommandError)
    return result


def timeout_fields(**change: Any) -> dict[str, Any]:
    return {"actor_id": ACTOR, "shard": 3, "command_id": "cmd-1", "timeout": 2.0,
            "reason": "no owner", **change}


@pytest.mark.parametrize("timeout", [10**400, -(10**400), 10**309])
def test_a_huge_integer_timeout_is_refused_not_an_overflow(timeout: int) -> None:
    # JSON integers are unbounded; math.isfinite(10**400) raises OverflowError.
    error = raised(reply({"kind": "failed", "type": "CommandTimeoutError", "message": "late",
                          "fields": timeout_fields(timeout=timeout)}))
    assert isinstance(error, AetherError)
    pickle.loads(pickle.dumps(error))
    assert str(error)


@pytest.mark.parametrize("fields", [
    None,  # an owner from before the fields existed
    timeout_fields(command_id="c" * 700),  # fields that do not fit their row
    timeout_fields(timeout=float("nan")),
    timeout_fields(actor_id=None),
])
def test_a_command_timeout_whose_fields_do_not_fit_is_still_an_outage(
        fields: dict[str, Any] | None) -> None:
    error: dict[str, Any] = {"kind": "failed", "type": "CommandTimeoutError",
                             "message": "no answer in time"}
    if fields is not None:
        error["fields"] = fields
    rebuilt = raised(reply(error))
    assert is_transient(rebuilt), rebuilt
    assert "no answer in time" in str(rebuilt)


class PaymentGatewayDown(TransientError):
    """A user's outage error, raised by a command handler on the owner."""


def test_a_users_transient_error_on_the_owner_is_an_outage_for_the_caller() -> None:
    rebuilt = raised(error_reply(PaymentGatewayDown("the gateway did not answer")))
    assert is_transient(rebuilt), rebuilt
    assert "PaymentGatewayDown" in str(rebuilt) and "the gateway did not answer" in str(rebuilt)
    pickle.loads(pickle.dumps(rebuilt))


def test_an_owner_timeout_with_fields_comes_back_as_itself() -> None:
    exc = CommandTimeoutError(ACTOR, 3, "cmd-1", 2.0, "no owner")
    rebuilt = raised(error_reply(exc))
    assert type(rebuilt) is CommandTimeoutError and rebuilt.shard == 3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10)


def field_values(check: Check) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, st.integers(-(10**500), 10**500), st.sampled_from(
        [ACTOR, "\ud800", "x" * 5000, ["\udfff"], [ACTOR] * 1001, 1e308, -0.0]))


@st.composite
def hostile_errors(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(_SPECS)) | st.text(max_size=10))
    spec = _SPECS.get(name)
    error: dict[str, Any] = {
        "kind": draw(st.sampled_from(["domain", "moved", "invalid", "failed"]) | st.text()),
        "type": name, "message": draw(st.text(max_size=50) | st.just("\ud800" * 9000))}
    if spec is not None and spec.fields and draw(st.booleans()):
        error["fields"] = {n: draw(field_values(c)) for n, c in spec.fields}
    elif draw(st.booleans()):
        error["fields"] = draw(json_values)
    return error


@settings(max_examples=300, deadline=None)
@given(hostile_errors())
def test_any_forged_error_reply_is_a_bounded_printable_picklable_aether_error(
        error: dict[str, Any]) -> None:
    try:
        payload = reply(error)
    except ValueError:  # json cannot write it (a surrogate is fine; inf is not refused)
        return
    raised_error = raised(payload)
    text = str(raised_error)
    assert len(text) < 30_000
    text.encode()  # printable, loggable
    again = pickle.loads(pickle.dumps(raised_error))
    assert type(again) is type(raised_error) and str(again) == text
