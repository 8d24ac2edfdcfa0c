"""A snapshot read never shows less than the store saved or saw before.

Direct gets of the snapshot stream are answered by any replica, and a follower may lag the
quorum that acknowledged a save. The lagging follower of the first test is made, as in
test_replica_lag.py, with nats-server's weighted subject mappings: half of the snapshot
stream's direct gets go to a client that answers as a follower frozen at the first state
it saw (no snapshot, or an older one). The second test runs a real 3-node cluster with the
store on a server that does not lead the snapshot stream.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import ActorSnapshot
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer, shut_down, start_cluster
from tests.store.test_store_attack_cluster import create_on_cluster

STORE = "snaplag"  # its snapshot stream is "snaplag_snapshots": the mapping names it
DIRECT = f"$JS.API.DIRECT.GET.{STORE}_snapshots"
MAPPING = f"""
mappings = {{
  "{DIRECT}.>": [
    {{destination: "{DIRECT}.>", weight: 50%}},
    {{destination: "frozen.>", weight: 50%}}
  ]
}}
"""


def snapshot(actor: str, version: int) -> ActorSnapshot:
    return ActorSnapshot(actor_id=actor, version=version, state={"n": version},
                         timestamp=datetime.now(UTC))


@pytest.fixture
async def frozen(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, list[str]]]:
    """A server whose snapshot stream has a follower frozen at the first answer it gave
    for each subject, and the subjects it answered."""
    server = NatsServer(tmp_path, extra_config=MAPPING).start()
    follower = await nats.connect(server.url)
    kept: dict[str, tuple[bytes, dict[str, str]]] = {}
    asked: list[str] = []

    async def answer(message: Msg) -> None:
        subject = message.subject.removeprefix("frozen.")
        asked.append(subject)
        if subject not in kept:  # what the leader holds now, as the direct get would say
            reply = json.loads((await follower.request(
                f"$JS.API.STREAM.MSG.GET.{STORE}_snapshots",
                json.dumps({"last_by_subj": subject}).encode(), timeout=5)).data)
            kept[subject] = _direct_answer(reply)
        data, headers = kept[subject]
        await follower.publish(message.reply, data, headers=headers)

    await follower.subscribe("frozen.>", cb=answer)
    await follower.flush()
    try:
        yield server, asked
    finally:
        await follower.close()
        server.stop()


def _direct_answer(reply: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    """A STREAM.MSG.GET answer in the shape of a direct get's."""
    message = reply.get("message")
    if not isinstance(message, dict):
        return b"", {"Status": "404", "Description": "Message Not Found"}
    headers: dict[str, str] = {}
    for line in base64.b64decode(message.get("hdrs") or b"").decode().split("\r\n")[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip()] = value.strip()
    headers.update({"Nats-Stream": f"{STORE}_snapshots", "Nats-Subject": message["subject"],
                    "Nats-Sequence": str(message["seq"]), "Nats-Time-Stamp": message["time"]})
    return base64.b64decode(message.get("data") or b""), headers


async def test_a_lagging_replica_never_shows_an_older_snapshot_than_saved_or_seen(
        frozen: tuple[NatsServer, list[str]]) -> None:
    server, asked = frozen
    nc: Client = await nats.connect(server.url)
    try:
        store = await JetStreamEventStore.create(nc, STORE)
        shown = []
        for version in range(1, 31):
            actor = f"acct-{version % 3}"  # acct-1 freezes with no snapshot, others later
            await store.save_snapshot(snapshot(actor, version))
            for _ in range(2):
                latest = await store.get_latest_snapshot(actor)
                if latest is None or latest.version != version:
                    shown.append((actor, version, latest and latest.version))
        assert shown == []
        assert asked  # the frozen follower did answer: the store asked the leader instead
        # A store that has seen nothing of an actor may meet the frozen follower's older
        # answer; once it has seen the newest, it never goes back.
        reader = await JetStreamEventStore.create(nc, STORE)
        seen = [await reader.get_latest_snapshot("acct-0") for _ in range(30)]
        versions = [s.version if s else 0 for s in seen]
        assert 30 in versions
        assert set(versions[versions.index(30):]) == {30}
    finally:
        await nc.close()


@pytest.mark.slow
async def test_on_a_cluster_a_store_off_the_leader_reads_its_own_snapshots(
        tmp_path: Path) -> None:
    servers = await asyncio.to_thread(start_cluster, tmp_path, 3)
    clients: list[Client] = []
    try:
        clients.append(admin := await nats.connect(servers=[s.url for s in servers]))
        config = JetStreamConfig(replica_count=3)
        store = await create_on_cluster(admin, config, "snaps")
        info = await admin.jetstream().stream_info(store.snapshot_stream_name)
        assert info.cluster is not None
        follower = next(s for s in servers if s.name != info.cluster.leader)
        clients.append(nc := await nats.connect(follower.url))
        store = await create_on_cluster(nc, config, "snaps")
        busy = await create_on_cluster(admin, config, "snaps")
        went_back = []

        async def check(actor: str, versions: range) -> None:
            for version in versions:
                await store.save_snapshot(snapshot(actor, version))
                latest = await store.get_latest_snapshot(actor)
                if latest is None or latest.version < version:
                    went_back.append((actor, version, latest and latest.version))

        done = asyncio.Event()

        async def keep_busy(index: int) -> None:  # the replicas have other work to apply
            version = 0
            while not done.is_set():  # a flag, not a cancel: nats-py can swallow a cancel
                version += 1
                await busy.save_snapshot(snapshot(f"other-{index}", version))

        others = [asyncio.create_task(keep_busy(i)) for i in range(8)]
        try:
            await asyncio.gather(*(check(f"acct-{i}", range(1, 61)) for i in range(5)))
        finally:
            done.set()
            await asyncio.gather(*others, return_exceptions=True)
        assert went_back == []
    finally:
        await shut_down(clients, servers)
