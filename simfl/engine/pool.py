"""The client pool: per-client state (busy, cool-down, tasks so far), eligibility and dispatch timing.

A client task is fully timed when it is dispatched: its phases come from the client's profile
and the jitter of its k-th task, and its availability timeline says whether the client goes
offline before the upload ends (then the task is lost at that moment).
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from simfl.rng import ClientUniforms
from simfl.scenario.population import Population, transfer_seconds

__all__ = ["ClientPool"]


class ClientPool:
    """The population's clients as the engine dispatches them.

    Args:
        env: the simulation's environment (its clock).
        population: per-client profiles and processes.
        samples_per_task: samples one task of each client processes.
        cooldown_s: a client is not eligible until this long after its task ended.
        model_bytes: bytes of a model download and of an update upload.
    """

    #: What a checkpoint leaves out: rebuilt, equal, from the config (:meth:`attach`).
    _REBUILT = ("population", "_timeline", "idle_means_eligible", "_client_f", "_jitter_ppf", "_jitter_value",
                "_jitter", "_jitter_u", "_jitter_block", "_speed", "always_online")

    def __init__(self, env, population: Population, samples_per_task, cooldown_s: float, model_bytes: int) -> None:
        self.env = env
        n = population.size
        self.busy = np.zeros(n, dtype=bool)
        self.cooldown_s = cooldown_s
        self.ready_at = np.zeros(n) if cooldown_s > 0 else None  # end of each client's cool-down
        self.attach(population, samples_per_task, model_bytes)

    def attach(self, population: Population, samples_per_task, model_bytes: int) -> None:
        """Set what is derived from the population (at creation and on restore).

        Per-client constants are interleaved by client, so that a dispatch reads one cache line of
        each array: ``_client_f`` = [compute at nominal speed, download, upload], ``_client_i`` =
        [tasks dispatched so far, samples]. The task counts are the run's state (checkpointed).
        """
        self.population = population
        self._timeline = population.timeline
        self.always_online = population.timeline.always_online
        #: True when every idle client may be dispatched (always online, no cool-down)
        self.idle_means_eligible = self.always_online and self.ready_at is None
        n = population.size
        self._client_f = _per_client_array("d", n, (
            np.asarray(samples_per_task) * population.seconds_per_sample,
            transfer_seconds(population.latency_s, population.down_mbps, model_bytes),
            transfer_seconds(population.latency_s, population.up_mbps, model_bytes),
        ))
        self._jitter_ppf, states = population.jitter_streams()
        self._jitter_value = states if self._jitter_ppf is None else 1.0
        counts = getattr(self, "_client_i", None)  # restored: the task counts of the checkpoint
        counts = None if counts is None else np.frombuffer(counts, dtype=np.int64)[0::2].copy()
        self._client_i = _per_client_array("q", n, (0 if counts is None else counts, population.num_samples))
        # the jitter's uniforms, drawn a block of tasks ahead per client (the same values)
        self._jitter = None if self._jitter_ppf is None else ClientUniforms(states, counts)
        self._jitter_u = None if self._jitter is None else self._jitter.values
        self._jitter_block = 1 if self._jitter is None else self._jitter.block
        self._speed = population.speed if population.speed is not None and not population.speed.constant else None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in self._REBUILT:
            state.pop(name, None)
        return state

    # ------------------------------------------------------------ eligibility
    def is_eligible(self, client: int) -> bool:
        """Online now and past its cool-down (whether it is idle is ``busy``'s business)."""
        now = self.env.now
        if self.ready_at is not None and self.ready_at[client] > now:
            return False
        return self.always_online or self._timeline.is_online(client, now)

    def eligible_mask(self) -> np.ndarray:
        """Clients that may be dispatched now: idle, online, past their cool-down."""
        mask = ~self.busy
        if not self.always_online:
            mask &= self._timeline.online_mask(self.env.now)
        if self.ready_at is not None:
            mask &= self.ready_at <= self.env.now
        return mask

    def count_eligible(self) -> int:
        """Eligible clients now."""
        return int(self.eligible_mask().sum())

    def next_eligible_time(self) -> float:
        """Earliest time an idle client that is not eligible now becomes eligible (inf: never)."""
        now = self.env.now
        idle = np.flatnonzero(~self.busy)
        if idle.size == 0:
            return math.inf
        if self.ready_at is None:
            later = self._timeline.next_online(idle, now)
        else:
            ready = np.maximum(self.ready_at[idle], now)
            later = np.array([self._timeline.next_online(np.array([c]), float(r))[0] for c, r in zip(idle, ready)])
        later = later[later > now]
        return float(later.min()) if later.size else math.inf

    def expected_task_durations(self) -> np.ndarray:
        """Per client: download + compute at its base speed × E[jitter] + upload (no slowdown)."""
        jitter = float(self.population.jitter.expected)
        per_client = np.frombuffer(self._client_f, dtype=np.float64).reshape(-1, 3)
        return per_client[:, 1] + per_client[:, 0] * jitter + per_client[:, 2]

    def reserve(self, client: int) -> None:
        """Count ``client`` as busy while a round is picked (it is dispatched or released next)."""
        self.busy[client] = True

    def release(self, clients) -> None:
        """Undo :meth:`reserve` (the clients' dispatches, if any, follow)."""
        self.busy[list(clients)] = False

    def free(self, client: int, now: float) -> None:
        """The client's task ended at ``now``: idle, and cooling down if there is a cool-down."""
        self.busy[client] = False
        if self.ready_at is not None:
            self.ready_at[client] = now + self.cooldown_s

    # ---------------------------------------------------------------- timing
    def compute_duration(self, client: int, start: float, work: float) -> float:
        """How long ``work`` seconds of nominal compute take when started at ``start``."""
        if self._speed is None:
            return work
        return self._speed.finish_time(client, start, work) - start

    def draw_work(self, client: int) -> tuple[int, float]:
        """Start the client's next task: busy now; returns ``(k, work)``: its task index and its compute
        at nominal speed (the jitter of its k-th task)."""
        i, c = 3 * client, 2 * client
        ints, ppf = self._client_i, self._jitter_ppf
        k = ints[c]
        ints[c] = k + 1
        self.busy[client] = True
        if ppf is None:
            return k, self._client_f[i] * self._jitter_value
        block = self._jitter_block
        j = k % block
        if not j and k:  # the client's next block of jitter uniforms
            self._jitter.fill(client, k)
        return k, self._client_f[i] * ppf(self._jitter_u[client * block + j])

    def plan(self, client: int, now: float) -> tuple:
        """Start the client's next task at ``now`` (busy now), fully timed: returns ``(k, work, download,
        compute, upload, end, lost, samples)``; ``lost``: offline before the upload ends (at ``end``)."""
        i, c = 3 * client, 2 * client  # draw_work, written out (a hot path)
        ints, floats, ppf = self._client_i, self._client_f, self._jitter_ppf
        k = ints[c]
        ints[c] = k + 1
        self.busy[client] = True
        if ppf is None:
            work = floats[i] * self._jitter_value
        else:
            block = self._jitter_block
            j = k % block
            if not j and k:  # the client's next block of jitter uniforms
                self._jitter.fill(client, k)
            work = floats[i] * ppf(self._jitter_u[client * block + j])
        down, up = floats[i + 1], floats[i + 2]
        compute = work if self._speed is None else self._speed.finish_time(client, now + down, work) - (now + down)
        end = now + down + compute + up
        lost = False
        if not self.always_online:
            offline_at = self._timeline.online_until(client, now)
            if offline_at < end:  # offline before the upload ends: the task is lost then
                end, lost = offline_at, True
        return k, work, down, compute, up, end, lost, ints[c + 1]

    def samples(self, client: int) -> int:
        """Training samples of ``client``."""
        return self._client_i[2 * client + 1]

    def online_until(self, client: int, now: float) -> float:
        """When ``client`` (online at ``now``) goes offline (inf: never)."""
        return math.inf if self.always_online else self._timeline.online_until(client, now)


def _per_client_array(typecode: str, n: int, columns: tuple) -> array:
    """An ``array.array`` of ``n`` rows of ``len(columns)`` values, interleaved by client, filled
    column by column in place (one allocation: at 10^6 clients, temporaries cost page faults)."""
    out = array(typecode, bytes(8 * n * len(columns)))
    view = np.frombuffer(out, dtype=np.float64 if typecode == "d" else np.int64).reshape(n, len(columns))
    for j, column in enumerate(columns):
        view[:, j] = column
    del view  # a live view would pin the array's buffer
    return out
