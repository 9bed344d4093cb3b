"""The base classes ``simfl.api`` exports for methods: a plugin extends FedAsync's loop
(:class:`~simfl.api.AsyncMethod`) instead of copying it, and gets the built-in's behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd

import simfl
from tests.conftest import make_config

#: FedAsync as a plugin: FedAsync's loop from simfl.api, only the rule for one update written out.
ASYNC_RULE = '''
from simfl.api import AsyncMethod, AsyncParams, Field, mix


class AsyncRule(AsyncMethod):
    class Params(AsyncParams):
        alpha: float = Field(0.6, gt=0, le=1, description="mixing weight")

    def apply(self, server, task, tau):
        weight = self.params.alpha * self.staleness(tau)
        params = server.params
        if params is not None:
            params = mix(params, server.results([task])[0], weight)
        server.applied(task, weight)
        server.install(params)
'''

#: AsyncMethod with parameters that hold only ``concurrency``: no staleness function, no limits.
BARE = '''
from simfl.api import AlgorithmParams, AsyncMethod, Field


class Bare(AsyncMethod):
    class Params(AlgorithmParams):
        concurrency: int = Field(3, ge=1, description="tasks in flight")

    def apply(self, server, task, tau):
        assert tau == server.staleness(task)
        server.applied(task, 1.0, staleness=tau)
        server.install(server.params)
'''

WORLD = dict(
    seed=4,
    data={"num_clients": 12},
    heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}},
                   "availability": {"type": "onoff", "on_s": {"dist": "exponential", "mean": 8.0}, "off_s": 2.0}},
    stop={"sim_time_s": 25.0},
    eval={"every_s": 5.0},
)


def _plugin(tmp_path, monkeypatch, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_a_plugin_on_fedasyncs_loop_reproduces_fedasync(tmp_path, monkeypatch):
    """Same tables and model, bit for bit, with losses and staleness drops in the run."""
    mod = _plugin(tmp_path, monkeypatch, "async_rule_plugin", ASYNC_RULE)
    world = {**WORLD, "train": {"enabled": True, "local_steps": 2}}
    params = {"concurrency": 5, "alpha": 0.5, "max_staleness": 3, "staleness": {"type": "hinge", "a": 2, "b": 1}}
    builtin = simfl.run(make_config(**world, algorithm={"type": "fedasync", **params}), progress=False)
    plugin = simfl.run(make_config(**world, algorithm={"type": f"{mod}:AsyncRule", **params}), progress=False)
    for table in ("client_updates", "aggregations", "evals", "clients"):
        pd.testing.assert_frame_equal(getattr(plugin, table), getattr(builtin, table))
    np.testing.assert_array_equal(plugin.final_params, builtin.final_params)
    assert {"lost_offline", "dropped_stale", "applied"} <= set(builtin.client_updates.status)


def test_fedasyncs_loop_needs_only_concurrency(tmp_path, monkeypatch):
    """Without ``staleness`` or ``max_staleness`` keys nothing is dropped and ``concurrency``
    tasks stay in flight; ``apply`` gets each update's staleness."""
    mod = _plugin(tmp_path, monkeypatch, "bare_async_plugin", BARE)
    world = {**WORLD, "train": {"enabled": False}, "heterogeneity": {"compute": WORLD["heterogeneity"]["compute"]}}
    res = simfl.run(make_config(**world, algorithm={"type": f"{mod}:Bare", "concurrency": 3}), progress=False)
    updates = res.client_updates
    assert set(updates.status) == {"applied", "in_flight"} and (updates.status == "in_flight").sum() == 3
    applied = updates[updates.status == "applied"].sort_values("arrival_time_s", kind="stable")
    assert applied.staleness.max() > 0  # tau really varies: 3 tasks in flight, one version per arrival
    assert len(res.aggregations) == len(applied)
