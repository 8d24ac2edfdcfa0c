"""Conformance suites: one per protocol, written once, subclassed by every implementation.

Each suite is a plain class of pytest tests; a subclass provides the fixtures the suite names
(``store`` for ``StoreConformance``; ``bus`` and ``peer`` for ``BroadcasterConformance``) and
inherits every test.
"""

from aether.testing.conformance.bus import ODD_NAMESPACES, BroadcasterConformance
from aether.testing.conformance.store import ODD_ACTOR_IDS, StoreConformance

__all__ = ["ODD_ACTOR_IDS", "ODD_NAMESPACES", "BroadcasterConformance", "StoreConformance"]
