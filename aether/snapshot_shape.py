"""The shape of an aggregate's state, recorded with each snapshot.

A snapshot is the state as JSON at some version. When the state class changes (a field
renamed, added or retyped), an old snapshot may still validate against the new class and
be silently mis-read (a renamed field read as its default). So every snapshot carries a
fingerprint of the state class's shape, and the Repository restores only a snapshot of
the current shape; any other (or one without a fingerprint) is skipped and the aggregate
replays its events, which the event registry upcasts, instead.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

SNAPSHOT_SHAPE = "$aether_shape"
"""Key of the state shape's fingerprint in a snapshot's state (see ``state_shape``)."""


_SHAPES: dict[type[BaseModel], str] = {}


def state_shape(state_type: type[BaseModel]) -> str:
    """A fingerprint of a state class's shape (its JSON schema). A snapshot records it; one
    taken with another shape (a field renamed, added or retyped since) is not restored,
    the aggregate is rebuilt from its events instead, so an old snapshot is never
    mis-read as the new state."""
    shape = _SHAPES.get(state_type)
    if shape is None:
        try:
            schema = json.dumps(state_type.model_json_schema(mode="serialization"),
                                sort_keys=True)
        except Exception:  # a type with no JSON Schema: its fields' annotations, then
            schema = repr({name: str(field.annotation)
                           for name, field in state_type.model_fields.items()})
        shape = _SHAPES[state_type] = hashlib.sha256(schema.encode()).hexdigest()[:32]
    return shape
