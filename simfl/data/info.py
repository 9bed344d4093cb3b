"""What a model needs to know about a dataset before seeing it (:class:`DatasetInfo`)."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

__all__ = ["DatasetInfo", "INPUT_DTYPE_FLOAT", "INPUT_DTYPE_TOKENS"]

#: ``DatasetInfo.input_dtype`` of feature data (images, vectors): float32 inputs.
INPUT_DTYPE_FLOAT = "float32"
#: ``DatasetInfo.input_dtype`` of sequence data (Sent140/Shakespeare style): int64 token ids.
INPUT_DTYPE_TOKENS = "int64"


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset before seeing it.

    ``input_dtype`` is the contract between the data and a model: ``"float32"`` inputs are
    features (every built-in model takes them); ``"int64"`` inputs are token ids in
    ``[0, vocab_size)`` (sequences: a model needs an embedding, e.g. ``model.type: torch``).
    ``FederatedData.x`` and ``x_test`` have this dtype.
    """

    input_shape: tuple[int, ...]  # one sample: synthetic (60,); digits (1, 8, 8); idx (1, rows, cols)
    num_classes: int  # labels lie in [0, num_classes)
    input_dtype: str = INPUT_DTYPE_FLOAT  # "float32" (features) | "int64" (token ids)
    vocab_size: int | None = None  # int64 inputs: largest token id + 1 (train and test); None for float32

    @property
    def num_features(self) -> int:
        """Number of input values per sample (the flattened input size)."""
        return prod(self.input_shape)

    @property
    def is_sequence(self) -> bool:
        """True for integer token inputs (``input_dtype == "int64"``)."""
        return self.input_dtype == INPUT_DTYPE_TOKENS
