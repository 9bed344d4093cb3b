"""The seed tree: every random number of a run comes from ``(seed, purpose, client, index)``.

Two kinds of streams hang off the tree:

* **Counter-based uniforms** for the world's heterogeneity (base speeds, links, the jitter
  of a client's k-th task, availability periods). ``uniform(purpose, client, k)`` is a pure
  function of its arguments, so a client's k-th draw is the same whatever else happened in
  the run, whichever algorithm runs, however many clients exist and in whatever order the
  draws are made. This is what makes common random numbers (CRN) exact, lets availability
  timelines be generated lazily, and needs no per-client state (populations of 10^6).
  Distributions turn these uniforms into draws by their inverse CDF, so the coupling is
  also monotone across parameter values: in a sweep over a speed spread, a client keeps
  its speed quantile.
* **Generators** (``numpy.random.Generator`` on PCG64) for draws that need a full
  sampling API: dataset synthesis, partitioning, client selection, local training batches.
  Each is seeded by ``SeedSequence(seed, spawn_key=(purpose, *keys))``.

The root of both is :class:`numpy.random.SeedSequence`: a purpose's 64-bit key is
``SeedSequence(seed, spawn_key=(purpose,)).generate_state``. Below the purpose, a client's
stream is SplitMix64 (Steele, Lea, Flood 2014) seeded by the client-th SplitMix64 output
of the purpose key; its k-th output, top 53 bits, gives a uniform in the open interval (0, 1).
"""

from __future__ import annotations

from enum import IntEnum
from array import array
from typing import Callable

import numpy as np

__all__ = ["Purpose", "SeedTree", "BlockUniforms", "ClientUniforms", "splitmix_uniform", "splitmix_ppf",
           "client_states", "splitmix_ppf_from_state"]

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TWO_M53 = 2.0**-53


class Purpose(IntEnum):
    """What a stream is for. The integer values are part of the seed contract: never renumber."""

    COMPUTE = 1  # per-client seconds_per_sample
    LATENCY = 2  # per-client latency_s
    DOWNLINK = 3  # per-client down_mbps
    UPLINK = 4  # per-client up_mbps
    JITTER = 5  # per (client, task k) compute multiplier
    AVAILABILITY = 6  # per (client, period j) availability draws
    SELECTION = 7  # server's client selection
    DATA = 8  # dataset synthesis
    DATA_SIZES = 9  # per-client dataset sizes
    PARTITION = 10  # splitting a pool of samples among clients
    TRAIN = 11  # per (client, task k) local training batches
    MODEL_INIT = 12  # initial global model
    TIMEZONE = 13  # per-client diurnal offset
    SLOWDOWN = 14  # per (client, period j) normal/busy period draws
    SLOWDOWN_FACTOR = 15  # per-client slowdown factor while busy
    TRACE_PROFILES = 16  # which trace entry each client takes its speed and links from
    TRACE_AVAILABILITY = 17  # which trace entry each client takes its availability from
    COUPLING = 18  # noise of the speed-data coupling
    DRIFT = 19  # which clients a drift event affects, and its random permutation
    PLUGIN = 20  # a plugin's private stream, keyed by a hash of its name (Server.rng)
    VALIDATION = 21  # per-client choice of the validation rows among its training rows
    TUNING = 22  # a tuning search's random settings, keyed by a hash of the contestant


def _mix_np(z: np.ndarray) -> np.ndarray:
    # uint64 array arithmetic wraps modulo 2^64, exactly like the masked Python version.
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def splitmix_ppf(ppf: Callable[[float], float], key: int, client: int, index: int) -> float:
    """``ppf`` of the ``index``-th uniform of ``client``'s stream under a purpose ``key`` (pure
    Python; ``functools.partial(splitmix_ppf, ppf, key)`` draws a distribution per (client, index)).

    The two SplitMix64 mixes (the same as :func:`_mix_np`) are written out inline: this runs
    once per dispatched task.
    """
    z = (key + (client + 1) * _GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    z = ((z ^ (z >> 31)) + (index + 1) * _GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return ppf((((z ^ (z >> 31)) >> 11) + 0.5) * _TWO_M53)


def splitmix_uniform(key: int, client: int, index: int) -> float:
    """The ``index``-th uniform of ``client``'s stream under a purpose ``key`` (pure Python)."""
    return splitmix_ppf(float, key, client, index)


def client_states(key: int, num_clients: int) -> np.ndarray:
    """Every client's stream state under a purpose ``key`` (the first SplitMix64 mix), as
    ``uint64``: with a client's state, :func:`splitmix_ppf_from_state` draws its index-th value
    with half the arithmetic (the per-task hot path)."""
    clients = np.arange(num_clients, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix_np(np.uint64(key) + (clients + np.uint64(1)) * np.uint64(_GAMMA))


def splitmix_ppf_from_state(ppf: Callable[[float], float], state: int, index: int) -> float:
    """:func:`splitmix_ppf` from a client's precomputed ``state`` (an element of
    :func:`client_states`, as a signed or unsigned 64-bit integer): the same value."""
    z = (state + (index + 1) * _GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return ppf((((z ^ (z >> 31)) >> 11) + 0.5) * _TWO_M53)


def _uniforms_from_states(states: np.ndarray, index: np.ndarray) -> np.ndarray:
    """:func:`splitmix_ppf_from_state`'s uniforms for arrays (broadcast) of states and indices:
    the integer steps wrap modulo 2^64 like the masked Python ones, and the last step rounds the
    same way, so the values are the same bits."""
    with np.errstate(over="ignore"):
        z = _mix_np(states + (index + np.uint64(1)) * np.uint64(_GAMMA))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * _TWO_M53


class ClientUniforms:
    """Many clients' counter streams (:func:`client_states`), drawn ``block`` indices at a time.

    ``values[client * block + k % block]`` is the ``k``-th uniform of ``client``'s stream, the
    same bits as :func:`splitmix_ppf_from_state` hands to its ppf, once :meth:`fill` has run for
    the block holding ``k``: every client's block holding ``start[client]`` (0 by default) is
    filled at creation, in one vectorised pass, and a caller that reaches the end of a block
    calls ``fill(client, k)`` with the next block's first index. At the k-th task of a client
    this replaces about fifteen big-integer operations by a list-like read (the dispatch hot path).

    The block shrinks as clients grow, to hold about ``budget`` values (8 bytes each) in all:
    256 for up to 16,384 clients, 4 at 10^6 (32 MB). Small blocks are refilled in pure Python, large
    ones with numpy.

    Args:
        states: every client's stream state (``uint64``, from :func:`client_states`).
        start: each client's next index (e.g. its tasks so far, on restoring a checkpoint).
        budget: the number of values to hold.
    """

    #: Below this block size a refill computes its values one by one (numpy's call overhead
    #: would cost more than it saves).
    NUMPY_FROM = 16

    def __init__(self, states: np.ndarray, start: np.ndarray | None = None, budget: int = 1 << 22) -> None:
        n = len(states)
        self.block = block = max(1, min(256, budget // max(n, 1)))
        self._states = np.asarray(states, dtype=np.uint64)
        self.values = array("d", bytes(8 * n * block))
        self._matrix = np.frombuffer(self.values, dtype=np.float64).reshape(n, block)  # the array never grows
        first = np.zeros(n, dtype=np.uint64) if start is None else (np.asarray(start, dtype=np.uint64) // block) * block
        offsets = np.arange(block, dtype=np.uint64)
        rows = max(1, (1 << 16) // block)  # in chunks: small temporaries, reused (fresh memory is costly)
        for r in range(0, n, rows):
            self._matrix[r : r + rows] = _uniforms_from_states(self._states[r : r + rows, None],
                                                               first[r : r + rows, None] + offsets)

    def fill(self, client: int, k: int) -> None:
        """Draw ``client``'s uniforms ``k, …, k + block − 1`` (``k`` a multiple of the block)."""
        block = self.block
        if block < self.NUMPY_FROM:
            state, values, row = int(self._states[client]), self.values, client * block
            for j in range(block):
                values[row + j] = splitmix_ppf_from_state(float, state, k + j)
        else:
            self._matrix[client] = _uniforms_from_states(self._states[client], np.arange(k, k + block, dtype=np.uint64))


def _splitmix_uniform_np(key: int, clients: np.ndarray, index: np.ndarray) -> np.ndarray:
    clients = np.asarray(clients, dtype=np.uint64)
    index = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        states = _mix_np(np.uint64(key) + (clients + np.uint64(1)) * np.uint64(_GAMMA))
    return _uniforms_from_states(states, index)


class SeedTree:
    """All randomness of one run, keyed by ``(seed, purpose, client, index)``.

    Args:
        seed: the run's seed (a non-negative integer).
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = int(seed)
        self._keys: dict[int, int] = {}

    def key(self, purpose: Purpose) -> int:
        """The 64-bit key of a purpose, from ``SeedSequence(seed, spawn_key=(purpose,))``."""
        k = self._keys.get(purpose)
        if k is None:
            words = np.random.SeedSequence(self.seed, spawn_key=(int(purpose),)).generate_state(
                2, np.uint32
            )
            k = self._keys[purpose] = (int(words[0]) << 32) | int(words[1])
        return k

    def uniform(self, purpose: Purpose, client: int, index: int = 0) -> float:
        """Uniform in (0, 1): ``client``'s ``index``-th draw for ``purpose``."""
        return splitmix_uniform(self.key(purpose), client, index)

    def uniforms(self, purpose: Purpose, clients, index=0) -> np.ndarray:
        """Vectorized :meth:`uniform`; ``clients`` and ``index`` broadcast together."""
        return _splitmix_uniform_np(self.key(purpose), np.asarray(clients), np.asarray(index))

    def generator(self, purpose: Purpose, *keys: int) -> np.random.Generator:
        """A PCG64 generator seeded by ``SeedSequence(seed, spawn_key=(purpose, *keys))``."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(int(purpose), *map(int, keys)))
        return np.random.Generator(np.random.PCG64(ss))


class BlockUniforms:
    """Sequential uniforms from one generator, drawn in blocks to keep per-draw cost low.

    The sequence is the generator's ``random()`` stream, so it does not depend on the block size.
    """

    __slots__ = ("_rng", "_block", "_buf", "_pos", "_end")

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._pos = 0
        self._end = 0  # len(self._buf)

    def next(self) -> float:
        """The next uniform in [0, 1)."""
        pos = self._pos
        if pos == self._end:
            self._buf = self._rng.random(self._block).tolist()
            self._end = self._block
            pos = 0
        self._pos = pos + 1
        return self._buf[pos]

    def index(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        return min(int(self.next() * n), n - 1)

    def uniforms(self, n: int) -> np.ndarray:
        """The next ``n`` uniforms, in (0, 1), as an array (the same sequence as ``next()``)."""
        taken = self._buf[self._pos : self._pos + n]
        self._pos += len(taken)
        rest = self._rng.random(n - len(taken)) if n > len(taken) else np.empty(0)
        out = np.concatenate([np.asarray(taken, dtype=float), rest])
        return np.maximum(out, 2.0**-54)  # never exactly 0
