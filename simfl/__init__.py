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

from typing import TYPE_CHECKING, Any

from simfl.errors import ConfigError, DataError, RunDirError, SimflError
from simfl.version import __version__

if TYPE_CHECKING:
    from simfl.config.load import config_from_dict, load_config
    from simfl.config.schema import Config
    from simfl.running import RunResult, load_run, run
    from simfl.tracking import Callback

#: Names imported on first use, so that ``import simfl`` (and the command line, which must be
#: able to handle Ctrl-C at once) does not pay for pandas, pydantic and the engine up front.
_LAZY = {
    "config_from_dict": "simfl.config.load",
    "load_config": "simfl.config.load",
    "Config": "simfl.config.schema",
    "RunResult": "simfl.running",
    "load_run": "simfl.running",
    "run": "simfl.running.runner",
    "Callback": "simfl.tracking",
}


def __getattr__(name: str) -> Any:
    import importlib
    import importlib.util

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # ``simfl.running`` etc. after ``import simfl``
    else:
        raise AttributeError(f"module 'simfl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
