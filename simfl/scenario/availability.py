"""Client availability: when each client is online.

A config class per kind (``always``, ``onoff``, ``diurnal``) builds a *timeline*: an object
answering, for a population stored as arrays, "is client c online at t?", "when does its
current online period end?" and "when is it next online?". Online periods are half-open,
``[start, end)``: at ``t == end`` the client is offline.

Timelines are generated lazily from counter-based uniforms of the seed tree (purpose
``AVAILABILITY``, index = the client's period or time slot), so a client's timeline depends
only on ``(seed, client)``, never on the algorithm or on which queries were made (queries
may come in any time order); :meth:`Timeline.intervals` recomputes a client's history from
scratch for plots. ``type: trace`` replays intervals from a file (:mod:`simfl.scenario.traces`).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Protocol

import numpy as np
from pydantic import ConfigDict, Field

from simfl.rng import Purpose, SeedTree, splitmix_uniform
from simfl.scenario.distributions import FiniteDistribution, PeriodDistribution, Uniform
from simfl.scenario.renewal import AlternatingRenewal
from simfl.scenario.traces import TraceAvailability
from simfl.strict import StrictModel
from simfl.tagged import tagged_union

__all__ = [
    "Timeline",
    "AlwaysAvailable",
    "OnOffAvailability",
    "DiurnalAvailability",
    "TraceAvailability",
    "AVAILABILITY_MODELS",
    "AvailabilitySpec",
]


class Timeline(Protocol):
    """What the engine asks of an availability model (one object for the whole population)."""

    always_online: bool

    def is_online(self, client: int, t: float) -> bool:
        """Whether ``client`` is online at ``t``."""

    def online_mask(self, t: float) -> np.ndarray:
        """Boolean array over all clients: online at ``t``."""

    def online_until(self, client: int, t: float) -> float:
        """End of the online period containing ``t`` (``client`` must be online at ``t``)."""

    def next_online(self, clients: np.ndarray, t: float) -> np.ndarray:
        """For each of ``clients`` (offline at ``t``), the start of its next online period."""

    def stationary_online_probability(self) -> np.ndarray:
        """Per client, the long-run fraction of time online."""

    def intervals(self, client: int, t_end: float) -> list[tuple[float, float]]:
        """The online periods of ``client`` intersected with ``[0, t_end)``, recomputed."""


class _Section(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlwaysAvailable(_Section):
    """Every client is online all the time."""

    type: Literal["always"] = "always"

    def build(self, tree: SeedTree, num_clients: int) -> "_AlwaysTimeline":
        return _AlwaysTimeline(num_clients)


class OnOffAvailability(_Section):
    """Alternating renewal process: online for ``on_s``, offline for ``off_s``, repeat.

    Started in stationarity: at t = 0 a client is online with probability
    E[on] / (E[on] + E[off]), and the period it is in has the length-biased law with a
    uniform position inside it, so the process is stationary from the start.
    """

    type: Literal["onoff"] = "onoff"
    on_s: PeriodDistribution = Field(description="duration of an online period (seconds)")
    off_s: PeriodDistribution = Field(description="duration of an offline period (seconds)")

    def build(self, tree: SeedTree, num_clients: int) -> "_OnOffTimeline":
        return _OnOffTimeline(self, tree, num_clients)


class DiurnalAvailability(_Section):
    """A daily profile of online probabilities, shifted by a per-client time-zone offset.

    The day is cut into ``len(profile)`` equal slots (24 values = hourly). In each slot of
    its local time a client is online with the profile's probability for that slot,
    independently across slots and clients.
    """

    type: Literal["diurnal"] = "diurnal"
    profile: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        min_length=1, description="online probability per slot of the local day"
    )
    day_s: float = Field(86400.0, gt=0, allow_inf_nan=False, description="length of a simulated day (s)")
    offset_h: FiniteDistribution = Field(
        Uniform(low=0.0, high=24.0), description="per-client time-zone offset in hours (taken mod 24)"
    )

    def build(self, tree: SeedTree, num_clients: int) -> "_DiurnalTimeline":
        return _DiurnalTimeline(self, tree, num_clients)


AVAILABILITY_MODELS = {
    cls.model_fields["type"].default: cls
    for cls in (AlwaysAvailable, OnOffAvailability, DiurnalAvailability, TraceAvailability)
}

AvailabilitySpec = tagged_union(AVAILABILITY_MODELS)


class _AlwaysTimeline:
    always_online = True

    def __init__(self, num_clients: int) -> None:
        self.num_clients = num_clients

    def is_online(self, client: int, t: float) -> bool:
        return True

    def online_mask(self, t: float) -> np.ndarray:
        return np.ones(self.num_clients, dtype=bool)

    def online_until(self, client: int, t: float) -> float:
        return math.inf

    def next_online(self, clients: np.ndarray, t: float) -> np.ndarray:
        return np.full(len(clients), t)

    def stationary_online_probability(self) -> np.ndarray:
        return np.ones(self.num_clients)

    def intervals(self, client: int, t_end: float) -> list[tuple[float, float]]:
        return [(0.0, t_end)]


class _OnOffTimeline:
    """A thin view of an :class:`~simfl.scenario.renewal.AlternatingRenewal` (online = its
    first state) under purpose ``AVAILABILITY``: index 0..2 of a client's stream start it in
    stationarity, index 3.. draw its periods."""

    always_online = False

    def __init__(self, spec: OnOffAvailability, tree: SeedTree, num_clients: int) -> None:
        self.spec = spec
        self.num_clients = num_clients
        self.renewal = AlternatingRenewal(spec.on_s, spec.off_s, tree, Purpose.AVAILABILITY, num_clients)
        self.p_online = self.renewal.stationary_probability()
        # The per-client queries of the engine's hot path go straight to the renewal.
        self.is_online = self.renewal.state
        self.online_until = self.renewal.period_end

    def online_mask(self, t: float) -> np.ndarray:
        return self.renewal.states(t)

    def next_online(self, clients: np.ndarray, t: float) -> np.ndarray:
        next_first = self.renewal.next_first
        out = np.empty(len(clients))
        for i, c in enumerate(clients):
            out[i] = next_first(int(c), t)
        return out

    def stationary_online_probability(self) -> np.ndarray:
        return np.full(self.num_clients, self.p_online)

    def intervals(self, client: int, t_end: float) -> list[tuple[float, float]]:
        # Vectorized inverse CDFs: the same bits as the intervals of earlier versions.
        return self.renewal.intervals(client, t_end, first=True, scalar_ppf=False)


class _DiurnalTimeline:
    """Client c is online in slot n of its local time iff u(AVAILABILITY, c, n) < profile[n mod L],
    where local time = t + offset_c and slots have length day_s / L."""

    always_online = False
    _MAX_SCAN = 1_000_000  # slots scanned for a change before declaring "never"

    def __init__(self, spec: DiurnalAvailability, tree: SeedTree, num_clients: int) -> None:
        self.tree = tree
        self.key = tree.key(Purpose.AVAILABILITY)
        self.profile = np.asarray(spec.profile, dtype=float)
        self._profile = [float(p) for p in spec.profile]
        self._always_on, self._never_on = min(self._profile) >= 1.0, max(self._profile) <= 0.0
        self.num_clients = num_clients
        self.slot_s = spec.day_s / len(self.profile)
        hours = np.mod(spec.offset_h.ppf(tree.uniforms(Purpose.TIMEZONE, np.arange(num_clients))), 24.0)
        self.offset_h = np.asarray(hours, dtype=float) * np.ones(num_clients)
        self.offset_s = self.offset_h * spec.day_s / 24.0

    def _slot(self, client: int, t: float) -> int:
        return int((t + float(self.offset_s[client])) // self.slot_s)

    def _online_in_slot(self, client: int, n: int) -> bool:
        return splitmix_uniform(self.key, client, n) < self._profile[n % len(self._profile)]

    def _slot_start(self, client: int, n: int) -> float:
        return n * self.slot_s - self.offset_s[client]

    def _next_change(self, client: int, t: float, online: bool) -> float:
        n = self._slot(client, t)
        if (online and self._always_on) or (not online and self._never_on):
            return math.inf
        for m in range(n + 1, n + 1 + self._MAX_SCAN):
            if self._online_in_slot(client, m) != online:
                return float(self._slot_start(client, m))
        return math.inf

    def is_online(self, client: int, t: float) -> bool:
        return self._online_in_slot(client, self._slot(client, t))

    def online_mask(self, t: float) -> np.ndarray:
        n = ((t + self.offset_s) // self.slot_s).astype(np.int64)
        u = self.tree.uniforms(Purpose.AVAILABILITY, np.arange(self.num_clients), n)
        return u < self.profile[n % len(self.profile)]

    def online_until(self, client: int, t: float) -> float:
        return self._next_change(client, t, True)

    def next_online(self, clients: np.ndarray, t: float) -> np.ndarray:
        return np.array(
            [t if self.is_online(int(c), t) else self._next_change(int(c), t, False) for c in clients]
        )

    def stationary_online_probability(self) -> np.ndarray:
        return np.full(self.num_clients, float(self.profile.mean()))

    def intervals(self, client: int, t_end: float) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        t = 0.0
        while t < t_end:
            online = self.is_online(client, t)
            nxt = min(self._next_change(client, t, online), t_end)
            if online:
                out.append((t, nxt))
            t = nxt
        return out
