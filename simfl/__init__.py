"""simfl: discrete-event simulation of federated learning under device heterogeneity.

Compare synchronous (FedAvg) and asynchronous (FedAsync, FedBuff) training in simulated
wall-clock time, with every client's compute, network and availability modelled as
stochastic processes and every random draw keyed by (seed, purpose, client) so that all
algorithms face the same world.

Typical use::

    import simfl
    config = simfl.load_config("configs/flagship.yaml", ["algorithm.type=fedavg"])
    result = simfl.run(config)
    result.evals.plot(x="sim_time_s", y="test_accuracy")
"""

from simfl.version import __version__

from simfl.config.load import config_from_dict, load_config
from simfl.config.schema import Config
from simfl.errors import ConfigError, DataError, RunDirError, SimflError
from simfl.runner import RunResult, load_run, run
from simfl.tracking import Callback

__all__ = [
    "__version__",
    "Config",
    "load_config",
    "config_from_dict",
    "run",
    "load_run",
    "RunResult",
    "Callback",
    "SimflError",
    "ConfigError",
    "DataError",
    "RunDirError",
]
