"""The ledger: what a run records — the task log, the aggregations, the evaluations and the counters."""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from simfl.engine.tasks import Task, TaskLog

__all__ = ["Ledger", "eval_columns"]


def eval_columns(split: str = "test") -> list[str]:
    """The columns of the evals table when the model is evaluated on ``split``."""
    return ["sim_time_s", "server_version", "client_updates", f"{split}_loss", f"{split}_accuracy"]


class Ledger:
    """The run's records, written as events happen and turned into tables at the end.

    Attributes:
        log: one row per dispatched task (``client_updates.parquet``).
        held: updates held (buffered) and not applied yet, by task id.
        applied_since: updates applied since the last installed model.
        client_updates: updates received by the server (arrived, whatever their fate).
        counters: counts a policy keeps for the manifest (e.g. FedAvg's ``abandoned_rounds``).
        evals: one row per evaluation.
    """

    def __init__(self) -> None:
        self.log = TaskLog()
        self.held: dict[int, Task] = {}
        self.applied_since = 0
        self.client_updates = 0
        self.counters: dict[str, int] = {}
        self.evals: list[dict] = []
        self.last_eval: tuple[float, int] | None = None
        # the aggregations table, by column (one row per installed version); a policy's extra
        # columns are kept by row, only for the rows that have them
        self._agg_version, self._agg_time, self._agg_count = array("q"), array("d"), array("q")
        self._agg_extra: dict[int, dict] = {}

    def installed(self, version: int, now: float, extra: dict) -> int:
        """Record an installed model; returns the number of updates it applied."""
        count = self.applied_since
        if extra:
            self._agg_extra[len(self._agg_version)] = extra
        self._agg_version.append(version)
        self._agg_time.append(now)
        self._agg_count.append(count)
        self.applied_since = 0
        return count

    def count(self, name: str, n: int) -> None:
        """Add ``n`` to the manifest counter ``name`` (checked by the caller)."""
        self.counters[name] = self.counters.get(name, 0) + int(n)

    def evals_frame(self, split: str) -> pd.DataFrame:
        """``evals.parquet``."""
        return pd.DataFrame(self.evals, columns=None if self.evals else eval_columns(split))

    def aggregation_frame(self) -> pd.DataFrame:
        """``aggregations.parquet``: one row per installed version, with a policy's extra columns."""
        # views of the arrays, not copies (the run is over; they no longer grow)
        df = pd.DataFrame(
            {
                "server_version": np.frombuffer(self._agg_version, np.int64),
                "sim_time_s": np.frombuffer(self._agg_time, np.float64),
                "num_client_updates": np.frombuffer(self._agg_count, np.int64),
            },
            copy=False,
        )
        if self._agg_extra:  # policy-specific columns (e.g. FedAvg's round), absent where a row has none
            rows = list(self._agg_extra)
            extra = pd.DataFrame([self._agg_extra[r] for r in rows], index=rows).reindex(df.index)
            df = pd.concat([df, extra], axis=1)
        if "round" in df:
            df["round"] = df["round"].astype("Int64")
        return df
