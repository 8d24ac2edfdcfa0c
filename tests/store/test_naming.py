from __future__ import annotations

import re

import pytest

from aether import InvalidEventError, StoreConfigError
from aether.store import JetStreamConfig
from aether.store.naming import (
    MAX_NAMESPACE_BYTES,
    MAX_STORE_NAME,
    MAX_STREAM_NAME,
    check_header_value,
    decode_token,
    encode_token,
    sanitize_namespace,
    stream_name,
)
from aether.testing.conformance import ODD_ACTOR_IDS

SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_~-]+$")


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        ("", "events"),
        ("tenant-abc", "tenant-abc_events"),
        ("a.b", "a_b_events"),
        ("a b", "a_b_events"),
        ("*", "__events"),
        (">", "__events"),
        ("x/y\\z\tq", "x_y_z_q_events"),
        ("ünï", "_n__events"),
    ],
)
def test_stream_name_sanitizes_the_namespace(namespace: str, expected: str) -> None:
    assert stream_name("events", namespace) == expected


def test_sanitizing_keeps_allowed_characters() -> None:
    assert sanitize_namespace("Tenant_1-eu") == "Tenant_1-eu"


@pytest.mark.parametrize("name", ["", "a.b", "a b", "*", "x" * (MAX_STORE_NAME + 1)])
def test_bad_store_names_are_refused_with_advice(name: str) -> None:
    with pytest.raises(StoreConfigError, match="namespace"):
        stream_name(name)


def test_the_longest_names_leave_room_for_every_stream_suffix() -> None:
    longest = stream_name("s" * MAX_STORE_NAME, "n" * MAX_NAMESPACE_BYTES)
    assert len(f"{longest}_snapshots") == MAX_STREAM_NAME


@pytest.mark.parametrize(
    ("namespace", "message"),
    [("n" * (MAX_NAMESPACE_BYTES + 1), "over the limit of 64 bytes"),
     ("é" * 33, "namespace of 66 bytes"),
     ("a\udc00", "lone surrogate")],
)
def test_namespaces_past_the_limit_are_refused(namespace: str, message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        stream_name("events", namespace)
    with pytest.raises(StoreConfigError, match=message):
        JetStreamConfig(namespace=namespace)


def test_config_mistakes_are_store_config_errors() -> None:
    with pytest.raises(StoreConfigError, match="replica_count"):
        JetStreamConfig(replica_count=9)


def test_actor_tokens_are_safe_and_distinct() -> None:
    tokens = [encode_token(actor_id) for actor_id in ODD_ACTOR_IDS]
    for actor_id, token in zip(ODD_ACTOR_IDS, tokens, strict=True):
        assert SUBJECT_TOKEN.match(token), token
        assert decode_token(token) == actor_id
    assert len(set(tokens)) == len(tokens)
    assert encode_token("order-123") == "order-123"
    assert encode_token("a.b") != encode_token("a_b")
    assert encode_token("~2E") != encode_token(".")


@pytest.mark.parametrize("value", ["a\r\nNats-Msg-Id: x", "a\nb", "tab\there", "x\x00", " pad"])
def test_header_values_cannot_carry_protocol_text(value: str) -> None:
    with pytest.raises(InvalidEventError):
        check_header_value("event id", value)
