"""A world whose best setting is known in closed form, and a spy on the test rows.

``data`` is a ``dataset: python`` source: clients with labels in [0, 4) of which about half are
the ``majority`` class, and a test set of their own whose rows carry a mark (feature 0 =
``TEST_MARK``). ``Guess`` always predicts class ``guess``, so its accuracy on any rows is exactly
the share of that class there; it appends a line to ``log`` (naming the phase in the environment
variable ``SPY_PHASE``) whenever a batch holds a marked test row.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

TEST_MARK = 1.0e6


def data(majority: int = 0, clients: int = 6, rows: int = 40, test_rows: int = 8, classes: int = 4,
         flip_test: bool = False) -> dict:
    g = np.random.default_rng(1234)

    def labels(n: int) -> np.ndarray:
        y = g.integers(0, classes, n)
        y[g.random(n) < 0.5] = majority
        return y

    x = g.normal(size=(clients * rows, 3)).astype(np.float32)
    y = labels(clients * rows)
    x_test = g.normal(size=(clients * test_rows, 3)).astype(np.float32)
    x_test[:, 0] = TEST_MARK
    y_test = labels(clients * test_rows)
    if flip_test:
        y_test = (y_test + 1) % classes
    return {"x": x, "y": y, "client_id": np.repeat(np.arange(clients), rows), "x_test": x_test, "y_test": y_test,
            "client_id_test": np.repeat(np.arange(clients), test_rows)}


class Guess(nn.Module):
    """Predicts class ``guess`` for every row (its one parameter gets no gradient)."""

    def __init__(self, input_shape, num_classes, guess: int = 0, log: str | None = None) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.guess, self.k, self.log = int(guess), int(num_classes), log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.log is not None and bool((x[..., 0] == TEST_MARK).any()):
            with open(self.log, "a") as f:
                f.write(f"{os.environ.get('SPY_PHASE', '?')}\n")
        hot = nn.functional.one_hot(torch.full((x.shape[0],), self.guess), self.k).to(x.dtype)
        return 5.0 * hot + 0.0 * self.w
