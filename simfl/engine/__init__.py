"""The SimPy engine: client tasks, the server API policies use, event ordering. Never imports torch."""

from simfl.engine.events import EVAL, FLUSH, TASK_END, WAKE, PriorityTimeout
from simfl.engine.protocols import Job, Trainer
from simfl.engine.server import InFlight, OptimizerStep, Policy, Selector, Server, Timer, weighted_delta, weighted_mean
from simfl.engine.settings import EngineSettings, SimulationOutcome
from simfl.engine.simulation import Simulation
from simfl.engine.tasks import Status, Task, TaskLog

__all__ = [
    "Job",
    "Trainer",
    "Policy",
    "Selector",
    "Server",
    "Timer",
    "OptimizerStep",
    "InFlight",
    "weighted_mean",
    "weighted_delta",
    "EngineSettings",
    "Simulation",
    "SimulationOutcome",
    "Status",
    "Task",
    "TaskLog",
    "TASK_END",
    "FLUSH",
    "WAKE",
    "EVAL",
    "PriorityTimeout",
]
