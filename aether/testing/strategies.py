"""Hypothesis strategies for hostile event input, used by the store conformance suite.

They generate what an adversarial caller could pass to ``Event(...)``: text from all of
Unicode (control characters, NUL, emoji, right-to-left marks and sometimes lone
surrogates), names at and just past every limit, integers and floats past what JSON keeps,
nesting past the depth limit, naive, zoned and odd-offset timestamps. Most of it is valid,
so the stores get exercised; the rest must be refused with an AetherError.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from aether.limits import (
    MAX_ACTOR_ID_BYTES,
    MAX_EVENT_TYPE_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_INT,
    MIN_JSON_INT,
)

_ANY_CHAR = st.characters(codec="utf-8")
_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)

hostile_text = st.one_of(
    st.text(_ANY_CHAR, max_size=24),
    st.text(st.one_of(_ANY_CHAR, _SURROGATE), min_size=1, max_size=4),
    st.sampled_from(["", " ", "a\r\nb", "\x00", ".", "*", ">", "~", "$JS.API", "🙂", "\u202e"]),
)
"""Short text of any kind, lone surrogates included."""

_printable = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S"])
header_text = st.text(_printable, min_size=1, max_size=24)
"""Text that can travel in a NATS header (event ids and types), from all of Unicode."""


def _mostly(
    valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    # Fields are drawn independently, so each must be valid most of the time for whole
    # events to reach the stores often (about two in three do). Not one_of: hypothesis
    # favours its later branches, so hostile values would crowd out the rest. Not 0 or 5
    # for hostile: hypothesis favours the bounds of a range too.
    return st.integers(0, 5).flatmap(lambda pick: hostile if pick == 3 else valid)


_BOUNDARY_IDS = [
    "🙂" * (MAX_ACTOR_ID_BYTES // 4),  # at the limit, every byte escaped in a subject token
    "x" * MAX_ACTOR_ID_BYTES,
    "x" * (MAX_ACTOR_ID_BYTES + 1),
    "🙂" * 340,
    "x" * 4000,
    "a.b",
    "a b",
    "a\tb",
    ">",
]

actor_ids = _mostly(st.text(_ANY_CHAR, min_size=1, max_size=24),
                    st.one_of(hostile_text, st.sampled_from(_BOUNDARY_IDS)))
event_types = _mostly(
    header_text,
    st.one_of(hostile_text, st.sampled_from([
        "T" * MAX_EVENT_TYPE_BYTES, "T" * (MAX_EVENT_TYPE_BYTES + 1), " Lead", "Trail ",
        "Order\nPlaced"])),
)

_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(MIN_JSON_INT, MAX_JSON_INT),
    st.sampled_from([MIN_JSON_INT, MAX_JSON_INT, 0, -1, 2**53 + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 5e-324, 1.7976931348623157e308, 0.1, 1.0]),
    st.text(_ANY_CHAR, max_size=24),
)
_hostile_leaves = st.one_of(
    _json_leaves,
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 2**63, -(2**63) - 1, 10**400]),
    st.integers(),
    st.floats(),
    hostile_text,
)


def _json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(_ANY_CHAR, max_size=12), children, max_size=4),
        ),
        max_leaves=16,
    )


def _nested(depth: int) -> dict[str, Any]:
    inner: Any = "bottom"
    for _ in range(depth - 1):
        inner = [inner]
    return {"deep": inner}


json_data = st.dictionaries(st.text(_ANY_CHAR, max_size=12), _json(_json_leaves), max_size=5)
"""Event data every store must read back exactly."""

hostile_data = _mostly(json_data, st.one_of(
    st.dictionaries(hostile_text, _json(_hostile_leaves), max_size=5),
    st.sampled_from([_nested(MAX_JSON_DEPTH), _nested(MAX_JSON_DEPTH + 1), _nested(3000)]),
))
"""Event data, some of which no store can read back exactly (so Event refuses it)."""

_offsets = st.builds(
    timezone,
    st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda minutes: timedelta(minutes=minutes)),
)
_odd_offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                  max_value=timedelta(hours=23, minutes=59)),
)
timestamps = st.datetimes(timezones=st.one_of(st.just(UTC), _offsets, st.timezones()))
"""Aware timestamps: UTC, any whole-minute offset, IANA zones (DST folds and gaps too)."""
hostile_timestamps = _mostly(
    timestamps, st.one_of(st.datetimes(), st.datetimes(timezones=_odd_offsets))
)
"""Mostly aware timestamps; some naive or with offsets in seconds, which JSON cannot keep."""


@st.composite
def hostile_event_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for ``Event(...)`` but ``version``, which follows the store's latest.
    ``id`` is a suffix: the test puts 32 unique characters before it, so ids never repeat
    by chance (224 more make 256 bytes, the limit)."""
    return {
        "id": draw(_mostly(header_text, st.one_of(hostile_text,
                                                   st.sampled_from(["e" * 224, "e" * 225])))),
        "event_type": draw(event_types),
        "actor_id": draw(actor_ids),
        "data": draw(hostile_data),
        "timestamp": draw(hostile_timestamps),
        "metadata": draw(_mostly(
            st.dictionaries(st.text(_ANY_CHAR, max_size=12), st.text(_ANY_CHAR, max_size=12),
                            max_size=3),
            st.dictionaries(hostile_text, hostile_text, min_size=1, max_size=3),
        )),
    }
