"""ReaderProbe: whether a NATS connection still hears what the server sends it.

nats-py's read loop ends for good on a header block it cannot parse (a status line that is
not UTF-8, which anyone allowed to publish on a subject the connection listens to can
send), and the client still says it is connected. Its ``flush()`` then returns at once:
only a message that comes back through the reader proves the connection hears.
"""

from __future__ import annotations

import contextlib

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError


class ReaderProbe:
    """A request to ``subject``, answered by this connection itself (subscribed on first
    use, and kept: a connection probed once is probed again)."""

    def __init__(self, nc: Client, subject: str) -> None:
        self._nc = nc
        self._subject = subject
        self._subscription: Subscription | None = None

    async def __call__(self, timeout: float) -> None:
        """Return once the connection heard its own request and the answer; nats-py's
        TimeoutError when it did not within ``timeout`` seconds."""
        if self._subscription is None:
            async def answer(message: Msg) -> None:
                await message.respond(b"")

            # Written ahead of the request on the same connection: the server has it first.
            self._subscription = await self._nc.subscribe(self._subject, cb=answer)
        await self._nc.request(self._subject, b"", timeout=timeout)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(NatsError):
                await self._subscription.unsubscribe()
            self._subscription = None
