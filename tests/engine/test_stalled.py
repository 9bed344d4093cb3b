"""The ``stalled`` stop reason: nothing can happen any more (nobody will ever be online again).

Trace availability without ``wrap_s`` leaves a client offline for good after its last
interval. Here three clients are online in [0, 2.5) only and every task takes 1 s, so the
tasks dispatched at t = 2 are lost at 2.5 and the run has nothing left to do from then on.
"""

import json

import numpy as np
import pytest

import simfl
from simfl.engine.simulation import Simulation
from simfl.rng import SeedTree
from simfl.running.world import build_policy, engine_settings
from simfl.scenario.distributions import Constant
from simfl.scenario.population import Population
from simfl.scenario.traces import TraceAvailability
from tests.conftest import make_config
from tests.engine.helpers import LowestIdFirst

OFFLINE_AT = 2.5


@pytest.fixture
def trace_csv(tmp_path):
    path = tmp_path / "online.csv"
    path.write_text("client_id,start_s,end_s\n" + "".join(f"{c},0,{OFFLINE_AT}\n" for c in range(3)))
    return str(path)


def _config(trace_csv, algorithm, every_s=None):
    return make_config(
        data={"num_clients": 3},
        heterogeneity={"availability": {"type": "trace", "path": trace_csv}},
        algorithm=algorithm,
        stop={"sim_time_s": None, "client_updates": 1000},
        eval={"every_s": every_s},
    )


@pytest.mark.parametrize("algorithm, applied", [
    ({"type": "fedasync", "concurrency": 2}, 4),  # t=1: 2 arrive, t=2: 2 arrive, t=2.5: 2 lost
    ({"type": "fedbuff", "concurrency": 2, "buffer_size": 2}, 4),
    ({"type": "fedavg", "clients_per_round": 2}, 4),  # rounds [0, 1], [1, 2]; round [2, ...) loses both
])
def test_run_stalls_when_nobody_will_be_online_again(trace_csv, tmp_path, algorithm, applied):
    res = simfl.run(_config(trace_csv, algorithm), out=tmp_path / "run", progress=False)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["stop_reason"] == "stalled"
    assert manifest["sim_end_s"] == OFFLINE_AT  # the last thing that happened: the losses
    df = res.client_updates
    assert (df.status == "applied").sum() == applied
    lost = df[df.status == "lost_offline"]
    assert lost.dispatch_time_s.tolist() == [2.0, 2.0] and lost.end_time_s.tolist() == [OFFLINE_AT] * 2
    assert res.evals.sim_time_s.tolist() == [0.0, OFFLINE_AT]  # the final evaluation at the stall


def test_nobody_ever_online_stalls_at_zero():
    res = simfl.run(make_config(
        data={"num_clients": 4},
        heterogeneity={"availability": {"type": "diurnal", "profile": [0.0]}},
        algorithm={"type": "fedasync", "concurrency": 2},
        stop={"sim_time_s": None, "server_updates": 10},
    ), progress=False)
    assert res.manifest["stop_reason"] == "stalled"
    assert res.manifest["sim_end_s"] == 0.0
    assert len(res.client_updates) == 0


class _Runaway(RuntimeError):
    pass


def test_periodic_evaluation_does_not_hide_a_stall(trace_csv):
    # The same world as above with eval.every_s = 1: evaluations are not events that can make
    # anything happen, so the run must stall at the same moment as without them.
    config = _config(trace_csv, {"type": "fedasync", "concurrency": 2}, every_s=1.0)
    tree = SeedTree(config.seed)
    population = Population(
        num_samples=np.full(3, 100), seconds_per_sample=np.full(3, 0.005), latency_s=np.zeros(3),
        down_mbps=np.full(3, np.inf), up_mbps=np.full(3, np.inf), jitter=Constant(value=1.0),
        timeline=TraceAvailability(path=trace_csv).build(tree, 3), tree=tree,
    )

    def guard(sim):  # called every 1024 events: stop a run that would never end
        if sim.now > 10_000:
            raise _Runaway(f"still running at t = {sim.now}")

    outcome = Simulation(engine_settings(config, population.num_samples), population, build_policy(config),
                         algorithm=config.algorithm, model_bytes=1000, progress=guard, selector=LowestIdFirst()).run()
    assert outcome.stop_reason == "stalled"
    assert outcome.sim_end_s == OFFLINE_AT
