"""Text forms of dates, datetimes and uuids that generated code reads one way everywhere.

Generated code reads such a text with Python's parsers in one place (a scalar default is
``datetime.date.fromisoformat("...")``, a scenario value likewise) and with pydantic's in
another (a list or value-object default is ``kit.Field(default=[...],
validate_default=True)``, a stored payload is decoded by the event's class). The two
disagree: Python takes ``20260131``, ISO week dates and ``{`` before a uuid's hex, pydantic
takes ``2026-01-31T00:00:00`` as a date and ``1700000000`` as a datetime. A text is
accepted only when both read it, to the same value; a datetime must also be aware with an
offset in whole minutes, the only offsets JSON keeps (``aether.limits.check_timestamp``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from functools import cache

from pydantic import TypeAdapter, ValidationError

from modeling.names import shown

FORMS = {
    "date": 'dates as YYYY-MM-DD, such as "2026-01-31"',
    "datetime": 'datetimes as YYYY-MM-DDTHH:MM:SS with an offset, such as '
                '"2026-01-31T12:00:00+00:00"',
    "uuid": 'uuids as 32 hex digits in groups of 8-4-4-4-12, such as '
            '"5f0c2d1e-9a3b-4c7d-8e6f-0a1b2c3d4e5f"',
}
_PYTHON: dict[str, Callable[[str], object]] = {
    "date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat, "uuid": uuid.UUID}
_TYPES: dict[str, type] = {"date": dt.date, "datetime": dt.datetime, "uuid": uuid.UUID}


@cache
def _adapter(name: str) -> TypeAdapter[object]:
    return TypeAdapter(_TYPES[name])


def text_problem(text: str, name: str) -> str | None:
    """None when ``text`` is a ``name`` ("date", "datetime" or "uuid") that Python and
    pydantic both read, to the same value; else what is wrong and what to write."""
    try:
        ours = _PYTHON[name](text)
    except ValueError:
        return f"{shown(text)} is not a valid {name}; write {FORMS[name]}"
    if isinstance(ours, dt.datetime):
        offset = ours.utcoffset()
        if offset is None:
            # Stored timestamps are aware; a naive one would compare unequal (or fail) there.
            return (f"{shown(text)} has no time zone; datetimes are aware (events store "
                    f"aware timestamps): write {shown(text + '+00:00')} or another offset")
        if offset.seconds % 60 or offset.microseconds:
            return (f"{shown(text)} has a UTC offset that is not a whole number "
                    f"of minutes: JSON keeps offsets as +HH:MM and would lose the rest; "
                    f"write the time in UTC (+00:00) or with an offset of whole minutes")
    try:
        theirs = _adapter(name).validate_python(text)
    except ValidationError:
        return f"{shown(text)} is not a valid {name}; write {FORMS[name]}"
    if ours != theirs or type(ours) is not type(theirs):
        return (f"{shown(text)} reads as different {name}s in different places; write "
                f"{FORMS[name]}")
    return None
