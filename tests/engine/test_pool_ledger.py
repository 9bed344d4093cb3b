"""The engine's parts: the client pool (timing, busy, cool-down), the ledger (aggregations), and a
server whose methods are the class's own (an IDE can follow a policy's calls)."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np

from simfl.engine.ledger import Ledger
from simfl.engine.server import Server
from tests.engine.helpers import hand_simulation

ROOT = pathlib.Path(__file__).resolve().parents[2] / "simfl"


def test_server_binds_no_callables_in_init():
    sim = hand_simulation([1.0, 2.0], algorithm={"type": "fedasync", "concurrency": 1})
    bound = sorted(name for name, value in vars(sim.server).items() if callable(value))
    assert bound == []
    for name in ("dispatch", "applied", "hold", "install", "select_one", "is_eligible", "reserve"):
        assert name in vars(Server), name  # defined on the class itself


def test_pool_plans_a_task_from_its_clients_profile():
    sim = hand_simulation([3.0, 5.0], algorithm={"type": "fedasync", "concurrency": 1})
    pool = sim.pool
    k, work, down, compute, up, end, lost, samples = pool.plan(1, 2.0)
    assert (k, work, down, compute, up, end, lost, samples) == (0, 5.0, 0.0, 5.0, 0.0, 7.0, False, 100)
    assert pool.busy[1] and not pool.busy[0]
    assert pool.plan(1, 7.0)[:1] == (1,)  # the client's second task
    pool.free(1, 7.0)
    assert not pool.busy[1] and pool.is_eligible(1)


def test_cooldown_keeps_a_freed_client_ineligible_until_it_ends():
    sim = hand_simulation([3.0, 5.0], algorithm={"type": "fedasync", "concurrency": 1, "client_cooldown_s": 4.0})
    pool = sim.pool
    pool.plan(0, 0.0)
    pool.free(0, 0.0)  # ended at t = 0: ready at 4
    assert not pool.idle_means_eligible
    assert not pool.is_eligible(0) and pool.is_eligible(1)
    assert pool.next_eligible_time() == 4.0
    assert list(pool.eligible_mask()) == [False, True]


def test_ledger_counts_the_updates_each_install_applied():
    ledger = Ledger()
    ledger.applied_since = 3
    assert ledger.installed(1, 2.5, {}) == 3
    assert ledger.installed(2, 4.0, {"round": 7}) == 0
    df = ledger.aggregation_frame()
    assert list(df.server_version) == [1, 2] and list(df.num_client_updates) == [3, 0]
    assert list(df.sim_time_s) == [2.5, 4.0]
    assert df["round"].isna().tolist() == [True, False] and int(df["round"][1]) == 7


def test_only_the_task_log_touches_its_private_columns():
    private = re.compile(r"\blog\._[a-z]")
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if p.name != "tasks.py" and private.search(p.read_text())]
    assert offenders == []


def test_server_install_counts_applied_updates_in_a_run():
    sim = hand_simulation([1.0, 2.0], algorithm={"type": "fedasync", "concurrency": 2},
                          stop={"sim_time_s": 6.0, "client_updates": None})
    out = sim.run()
    agg = out.aggregations
    assert (agg.num_client_updates == 1).all()  # FedAsync: one update per version
    assert list(agg.server_version) == list(range(1, len(agg) + 1))
    assert len(agg) == (out.client_updates.status == "applied").sum()
    assert math.isclose(sim.server.now, 6.0) or sim.server.now <= 6.0
    assert np.array_equal(sim.server.busy, sim.pool.busy)
