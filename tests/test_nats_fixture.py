from __future__ import annotations

from uuid import uuid4

from nats.aio.client import Client


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
