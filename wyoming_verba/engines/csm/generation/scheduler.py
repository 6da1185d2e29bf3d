"""Who gets a generation slot: only a reply with a sentence ready, and never after a long wait.

A reply waits here, holding nothing, until its first sentence is ready (a stream that sends no
speakable text never takes a slot). A reply that has spoken a sentence and waits for the next one
lends its slot to a reply that is ready; it rebuilds its context in whichever slot it gets next.
A sentence that stays ready for csm.queue_timeout_s without a slot fails its reply with
EngineUnavailableError, so tts.fallback speaks it (or the client gets an Error saying why).
Runs on the generation thread only.
"""

from __future__ import annotations

import logging

from wyoming_verba.engines.base import EngineUnavailableError
from wyoming_verba.engines.csm.generation.reply import END
from wyoming_verba.engines.csm.generation.running import Occupant

_LOGGER = logging.getLogger(__name__)


class WaitingRoom:
    """Replies without a slot, in arrival order."""

    def __init__(self) -> None:
        self._occupants: list[Occupant] = []

    def __len__(self) -> int:
        return len(self._occupants)

    def add(self, occupant: Occupant) -> None:
        """A new reply, or one that lent its slot."""
        self._occupants.append(occupant)

    def remove(self, occupant: Occupant) -> None:
        """It got a slot."""
        self._occupants.remove(occupant)

    def settle(self, now: float, slot_count: int) -> None:
        """End replies that are over (cancelled, or ended with nothing left to say) and fail
        those whose sentence waited too long for a slot."""
        for occupant in list(self._occupants):
            reply = occupant.reply
            if reply.cancelled.is_set() or reply.exhausted:
                self._occupants.remove(occupant)
                reply.deliver(END)
            elif reply.waited_too_long(now):
                self._occupants.remove(occupant)
                reply.deliver(busy_error(slot_count, reply.queue_timeout_s))

    def ready(self) -> list[Occupant]:
        """Replies with a sentence ready, the longest waiting first."""
        ready = [o for o in self._occupants if o.reply.has_sentence]
        return sorted(ready, key=lambda o: o.reply.ready_since)

    @property
    def has_work(self) -> bool:
        """Something here needs the worker: a ready sentence, or a reply that is over."""
        return any(
            o.reply.has_sentence or o.reply.cancelled.is_set() or o.reply.exhausted
            for o in self._occupants
        )

    def end_all(self) -> None:
        """The worker stops: every waiting reply gets END."""
        for occupant in self._occupants:
            occupant.reply.deliver(END)
        self._occupants.clear()


def lender(slots: list[Occupant | None]) -> Occupant | None:
    """The slot holder idle the longest between sentences (nothing queued, not over), if any."""
    idle = [
        o
        for o in slots
        if o is not None
        and not o.generating
        and not o.reply.has_sentence
        and not o.reply.exhausted
        and not o.reply.cancelled.is_set()
    ]
    return min(idle, key=lambda o: o.idle_since, default=None)


def busy_error(slot_count: int, timeout_s: float) -> EngineUnavailableError:
    """What a reply gets when no slot came free in time."""
    _LOGGER.warning(
        "CSM busy: no generation slot came free within %g s (csm.queue_timeout_s; "
        "csm.max_batch = %d)",
        timeout_s,
        slot_count,
    )
    return EngineUnavailableError(
        f"CSM is busy: all {slot_count} generation slots (csm.max_batch) stayed taken for "
        f"{timeout_s:g} s (csm.queue_timeout_s)"
    )
