"""Stopping a loop whose task was cancelled even when the cancellation went missing.

On Python 3.11, ``asyncio.wait_for`` (which nats-py's requests use) returns or times out
instead of raising a cancellation that arrives as it finishes. A background loop that
catches the timeout and tries again then runs on with its task marked cancelled, and
``asyncio.run``, which cancels every task once when the program ends and waits for them,
never returns: a script that failed hung instead of exiting.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """CancelledError when the running task has been asked to cancel (``Task.cancelling``),
    whether or not an await along the way raised it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
