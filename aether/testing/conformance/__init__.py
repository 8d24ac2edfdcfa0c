"""Conformance suites: one per protocol, written once, subclassed by every implementation.

Each suite is a plain class of pytest tests; a subclass provides the fixture the suite names
(``store`` for ``StoreConformance``) and inherits every test.
"""

from aether.testing.conformance.checkpoints import CheckpointConformance
from aether.testing.conformance.feed import FeedConformance
from aether.testing.conformance.sender import SenderConformance
from aether.testing.conformance.store import ODD_ACTOR_IDS, StoreConformance

__all__ = [
    "ODD_ACTOR_IDS",
    "CheckpointConformance",
    "FeedConformance",
    "SenderConformance",
    "StoreConformance",
]
