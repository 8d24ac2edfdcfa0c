"""Conformance suites: one per protocol, written once, subclassed by every implementation.

Each suite is a plain class of pytest tests; a subclass provides the fixtures the suite names
(``store`` for ``StoreConformance``; ``bus`` and ``peer`` for ``BroadcasterConformance``) and
inherits every test.
"""

from aether.testing.conformance.bus import ODD_NAMESPACES, BroadcasterConformance
from aether.testing.conformance.checkpoints import CheckpointConformance
from aether.testing.conformance.feed import FeedConformance
from aether.testing.conformance.sender import SenderConformance
from aether.testing.conformance.store import ODD_ACTOR_IDS, StoreConformance

__all__ = [
    "ODD_ACTOR_IDS",
    "ODD_NAMESPACES",
    "BroadcasterConformance",
    "CheckpointConformance",
    "FeedConformance",
    "SenderConformance",
    "StoreConformance",
]
