"""Test support for Aether and for projects built on it, shipped as a pytest plugin.

- ``NatsServer``, ``start_cluster``, ``running_nats_server``: real nats-server processes
  (JetStream on, temporary store dir, free loopback ports).
- The pytest plugin ``aether.testing.plugin`` (registered under the ``aether`` entry point, so
  installing ``aether[testing]`` activates it) provides fixtures for a server, a cluster and a
  store per backend: see docs/testing.md.
- ``aether.testing.conformance``: the suites every backend must pass, written once; a third
  party proves its own store with ``class TestMyStore(StoreConformance)``.
"""

from aether.testing.factories import make_event
from aether.testing.servers import (
    NatsServer,
    free_port,
    nats_server_binary,
    running_nats_server,
    shut_down,
    start_cluster,
)

__all__ = [
    "NatsServer",
    "free_port",
    "make_event",
    "nats_server_binary",
    "running_nats_server",
    "shut_down",
    "start_cluster",
]
