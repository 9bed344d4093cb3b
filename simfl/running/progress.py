"""Progress display on a terminal: simulated progress toward the stop condition.

Quiet when stderr is not a terminal (tqdm's ``disable=None``), so logs and CI stay clean.
"""

from __future__ import annotations

from tqdm import tqdm  # the console bar: tqdm.auto warns in a Jupyter kernel without ipywidgets

__all__ = ["SimulationProgress"]


class SimulationProgress:
    """A tqdm bar over the run's primary stop criterion (simulated seconds, or update counts).

    Args:
        stop: the ``stop`` config section.
        label: shown before the bar.
        enabled: True/False to force; None = only on a terminal.
    """

    def __init__(self, stop, label: str = "simfl", enabled: bool | None = None) -> None:
        if stop.sim_time_s is not None:
            self._measure, total, unit = (lambda sim: sim.now), stop.sim_time_s, "sim s"
        elif stop.client_updates is not None:
            self._measure, total, unit = (lambda sim: sim.client_updates), stop.client_updates, "updates"
        else:
            self._measure, total, unit = (lambda sim: sim.version), stop.server_updates, "versions"
        disable = None if enabled is None else not enabled
        self._bar = tqdm(total=total, unit=unit, desc=label, disable=disable, leave=False, dynamic_ncols=True)
        self._total = total

    def __call__(self, sim) -> None:
        value = min(float(self._measure(sim)), float(self._total))
        self._bar.update(value - self._bar.n)
        self._bar.set_postfix(version=sim.version, updates=sim.client_updates, refresh=False)

    def close(self) -> None:
        """Remove the bar."""
        self._bar.close()
