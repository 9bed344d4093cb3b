"""The seed tree: pure, keyed draws; uniform and uncorrelated across clients and indices."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simfl.rng import (BlockUniforms, ClientUniforms, Purpose, SeedTree, client_states, splitmix_ppf_from_state,
                       splitmix_uniform)

N = 100_000


@given(
    seed=st.integers(0, 2**32),
    purpose=st.sampled_from(list(Purpose)),
    client=st.integers(0, 2**40),
    index=st.integers(0, 2**40),
)
def test_scalar_and_vector_draws_agree(seed, purpose, client, index):
    tree = SeedTree(seed)
    scalar = tree.uniform(purpose, client, index)
    vector = tree.uniforms(purpose, np.array([client]), np.array([index]))[0]
    assert scalar == vector
    assert 0.0 < scalar < 1.0


def test_draws_are_pure_functions_of_their_key():
    a, b = SeedTree(3), SeedTree(3)
    # order of queries and other draws in between do not matter
    first = a.uniform(Purpose.JITTER, 5, 7)
    a.uniforms(Purpose.JITTER, np.arange(1000), 3)
    assert a.uniform(Purpose.JITTER, 5, 7) == first == b.uniform(Purpose.JITTER, 5, 7)
    assert SeedTree(4).uniform(Purpose.JITTER, 5, 7) != first
    assert a.uniform(Purpose.AVAILABILITY, 5, 7) != first


def test_uniformity_chi_square():
    u = SeedTree(0).uniforms(Purpose.JITTER, np.arange(N), 0)
    counts = np.histogram(u, bins=100, range=(0, 1))[0]
    chi2 = ((counts - N / 100) ** 2 / (N / 100)).sum()
    # chi-square with 99 degrees of freedom: mean 99, sd sqrt(198) ≈ 14; 6 sd is generous
    assert abs(chi2 - 99) < 6 * math.sqrt(198)


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (1, 1)])
def test_neighbouring_streams_are_uncorrelated(shift):
    tree = SeedTree(11)
    clients = np.arange(N)
    index = np.arange(N) % 97
    a = tree.uniforms(Purpose.JITTER, clients, index)
    b = tree.uniforms(Purpose.JITTER, clients + shift[0], index + shift[1])
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < 5 / math.sqrt(N)  # sd of a null correlation is 1/sqrt(n)


def test_purposes_are_uncorrelated():
    tree = SeedTree(0)
    a = tree.uniforms(Purpose.COMPUTE, np.arange(N), 0)
    b = tree.uniforms(Purpose.LATENCY, np.arange(N), 0)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(N)


def test_splitmix_reference_value():
    # SplitMix64 (Steele et al. 2014) seeded with 0 first outputs 0xe220a8397b1dcdaf;
    # our client stream with key = -GAMMA (mod 2^64) and client 0 starts from seed 0's mix.
    gamma = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1
    first = 0xE220A8397B1DCDAF
    # key + 1*gamma = 0 → s = mix(0) = 0; the stream's index-0 draw is then mix(gamma) = first output of SplitMix64(0)
    assert splitmix_uniform((-gamma) & mask, 0, 0) == ((first >> 11) + 0.5) * 2.0**-53


def test_generators_are_keyed():
    tree = SeedTree(1)
    x = tree.generator(Purpose.TRAIN, 3, 4).random(5)
    np.testing.assert_array_equal(x, SeedTree(1).generator(Purpose.TRAIN, 3, 4).random(5))
    assert not np.array_equal(x, tree.generator(Purpose.TRAIN, 4, 3).random(5))


def test_block_uniforms_do_not_depend_on_block_size():
    a = BlockUniforms(np.random.default_rng(5), block=3)
    b = BlockUniforms(np.random.default_rng(5), block=1000)
    assert [a.next() for _ in range(10)] == [b.next() for _ in range(10)]


def test_negative_seed_rejected():
    with pytest.raises(ValueError):
        SeedTree(-1)


@given(
    key=st.integers(0, 2**64 - 1),
    starts=st.lists(st.integers(0, 2**40), min_size=1, max_size=12),
    budget=st.integers(1, 4000),
    steps=st.integers(1, 700),
)
def test_client_uniforms_are_the_scalar_draws_block_after_block(key, starts, budget, steps):
    """Whatever the block size (scalar or numpy refills) and wherever each client starts (a
    restored checkpoint), walking a client's tasks reads the same bits as the scalar draw."""
    states = client_states(key, len(starts))
    cu = ClientUniforms(states, np.array(starts), budget=budget)
    block = cu.block
    assert block == max(1, min(256, budget // len(starts)))
    for client, start in enumerate(starts):
        k = start
        for _ in range(min(steps, 3 * block + 2)):
            if k % block == 0 and k != start:
                cu.fill(client, k)
            assert cu.values[client * block + k % block] == splitmix_ppf_from_state(float, int(states[client]), k)
            k += 1
