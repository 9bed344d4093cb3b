"""A server link shared by concurrent transfers: processor sharing with per-transfer caps.

Each active transfer gets min(its client's link, its fair share of the server link), where the
fair share is the *max-min* fair share: capacity a capped transfer cannot use is split among
the others (water-filling). Rates are recomputed whenever a transfer starts, ends or is
cancelled; between those moments every rate is constant, so a transfer's remaining bits fall
linearly and the next completion time is known exactly. One SimPy event is scheduled for it;
an obsolete one (rates changed since) is recognized by a generation counter and ignored.
"""

from __future__ import annotations

import math
from functools import partial

import simpy

__all__ = ["SharedLink", "max_min_rates"]

#: A transfer whose remaining bits fall below this fraction of its size counts as done
#: (floating-point residue of rate × time products).
_DONE_FRACTION = 1e-12


def max_min_rates(capacity: float, caps: list[float]) -> list[float]:
    """Max-min fair rates of transfers with ``caps`` sharing ``capacity`` (water-filling).

    Transfers are served in increasing cap order: while a transfer's cap is below the equal
    split of what is left, it gets its cap; the rest share the remainder equally.
    """
    if not caps:
        return []
    if math.isinf(capacity):
        return list(caps)
    order = sorted(range(len(caps)), key=caps.__getitem__)
    rates = [0.0] * len(caps)
    left, n = capacity, len(caps)
    for i, j in enumerate(order):
        share = left / (n - i)
        if caps[j] <= share:
            rates[j] = caps[j]
            left -= caps[j]
        else:
            for k in order[i:]:
                rates[k] = share
            break
    return rates


class _Transfer:
    __slots__ = ("bits", "remaining", "cap", "rate", "done")

    def __init__(self, bits: float, cap: float, done: simpy.Event) -> None:
        self.bits = bits
        self.remaining = bits
        self.cap = cap
        self.rate = 0.0
        self.done = done


class SharedLink:
    """A link of ``capacity_bps`` bits per second shared by transfers (max-min fair).

    Args:
        env: the SimPy environment.
        capacity_bps: the server side's capacity (``inf``: transfers are limited by their
            clients' links only).
    """

    def __init__(self, env: simpy.Environment, capacity_bps: float) -> None:
        self.env = env
        self.capacity = capacity_bps
        self._active: list[_Transfer] = []
        self._updated = 0.0
        self._generation = 0

    @property
    def active(self) -> int:
        """Transfers in progress."""
        return len(self._active)

    def transfer(self, bits: float, cap_bps: float) -> tuple[simpy.Event, _Transfer]:
        """Start sending ``bits`` at most at ``cap_bps``; the event succeeds when they are sent."""
        done = self.env.event()
        t = _Transfer(float(bits), float(cap_bps), done)
        if bits <= 0 or (math.isinf(cap_bps) and math.isinf(self.capacity)):
            done.succeed()
            return done, t
        self._advance()
        self._active.append(t)
        self._reschedule()
        return done, t

    def cancel(self, transfer: _Transfer) -> None:
        """Stop a transfer (its client went offline); the others speed up."""
        if transfer in self._active:
            self._advance()
            self._active.remove(transfer)
            self._reschedule()

    def _advance(self) -> None:
        """Bring every remaining count to now at the current rates."""
        now = self.env.now
        dt = now - self._updated
        if dt > 0:
            for t in self._active:
                t.remaining -= t.rate * dt
        self._updated = now

    def _reschedule(self) -> None:
        rates = max_min_rates(self.capacity, [t.cap for t in self._active])
        for t, r in zip(self._active, rates):
            t.rate = r
        self._generation += 1
        if not self._active:
            return
        delay = min(max(t.remaining, 0.0) / t.rate for t in self._active)
        ev = self.env.timeout(delay)
        ev.callbacks.append(partial(self._complete, self._generation))

    def _complete(self, generation: int, _event=None) -> None:
        if generation != self._generation:
            return  # rates changed since this completion was scheduled
        self._advance()
        finished = [t for t in self._active if t.remaining <= _DONE_FRACTION * t.bits + 1e-9]
        if not finished:  # rounding left a sliver: finish the nearest one
            finished = [min(self._active, key=lambda t: t.remaining / t.rate)]
        for t in finished:
            self._active.remove(t)
            t.done.succeed()
        self._reschedule()

