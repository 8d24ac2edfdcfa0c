"""What a reaction runner does when something fails: retry, wait, park or halt.

Three kinds of failure, three answers:

- A handler raised (a bug, a payload it cannot take, a command the sender refused as
  invalid): retried ``RetryPolicy.attempts`` times with exponential backoff, then the event
  is parked (``on_exhausted="park"``) and the runner goes on, or the runner halts.
- The infrastructure did not answer (``aether.errors.TransientError``: the store or NATS
  down, a cluster shard with no owner yet, a command that timed out): nothing is wrong with
  the event, so it is neither counted as a failure nor parked. The runner pauses and tries
  the same event again, waiting ``RetryPolicy.delay`` (capped at ``max_backoff``) between
  tries, for as long as the outage lasts; its position does not move meanwhile.
- The feed holds a record that is not an event (aether/feed.py, UndecodableEventError):
  retrying cannot help, so it is parked at once, for the runner as a whole, and the runner
  goes on (or halts, if so configured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aether.errors import AetherError, TransientError


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing handler is tried on one event, and what happens then."""

    attempts: int = 5
    backoff: float = 0.1
    """Seconds before the first retry; doubled for each further one. Outages (transient
    errors) wait the same way, for ever, never longer than ``max_backoff``."""
    max_backoff: float = 10.0
    on_exhausted: Literal["park", "halt"] = "park"

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")

    def delay(self, attempt: int) -> float:
        # The exponent is capped so a long outage's count cannot overflow the float.
        return float(min(self.max_backoff, self.backoff * 2 ** (min(attempt, 60) - 1)))


def is_transient(error: BaseException) -> bool:
    """True for an outage (wait and retry the same event), False for a failure (count it)."""
    return isinstance(error, TransientError)


class RunnerHalted(AetherError):
    """A handler kept failing (or the feed held a record that is not an event) and the
    runner is configured to halt rather than park."""

    def __init__(self, runner: str, handler: str, position: int, error: BaseException) -> None:
        self.runner, self.handler, self.position = runner, handler, position
        self.error = error
        super().__init__(
            f"reaction runner {runner!r} halted: {handler} failed on the event at position "
            f"{position}: {described(error)}; fix the handler and start the runner again (it "
            f"resumes at that event), or configure RetryPolicy(on_exhausted='park')"
        )

    def __reduce__(self) -> tuple[type[RunnerHalted], tuple[str, str, int, BaseException]]:
        return (type(self), (self.runner, self.handler, self.position, self.error))


MAX_PARKED_ERROR = 2000
"""Characters of a handler's error kept with a parked event. The record must fit one
message of the checkpoint store (a NATS server's max_payload, 1 MiB by default) beside the
event itself; an error whose text is a whole response body or a big repr would not, and the
runner, unable to park, stopped instead of going on."""


def described(error: BaseException) -> str:
    """``repr(error)``, cut to MAX_PARKED_ERROR characters."""
    text = repr(error)
    if len(text) <= MAX_PARKED_ERROR:
        return text
    return f"{text[:MAX_PARKED_ERROR]}... ({len(text)} characters in all)"
