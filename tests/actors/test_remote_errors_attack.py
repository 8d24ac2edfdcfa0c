"""Attacks on the remote error table (wire_errors.py): a hostile or older owner's error
reply makes its caller raise an AetherError, never a crash of another type, and an outage
on the owner stays an outage (TransientError: a ReactionRunner pauses instead of parking)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from aether.cluster.wire import decode_reply, error_reply
from aether.cluster.wire_errors import CommandTimeoutError, RemoteCommandError
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
