"""Datasets built by a Python function (``dataset: python``, ``data.source: package.module:function``).

The function is imported like a plugin (the config file's folder first, then the Python path),
called with ``data.source_kwargs`` and must return one of

* a mapping with ``x``, ``y`` and optionally ``client_id``, ``x_test``, ``y_test``,
  ``client_id_test`` (array-likes, as in an ``.npz``: see :mod:`simfl.data.arrays`);
* a tuple ``(x, y)``, ``(x, y, client_id)`` or ``(x, y, client_id, x_test, y_test)``
  (``client_id`` may be None);
* a torch ``Dataset`` of ``(x, y)`` items with its client ids: ``(dataset, client_id)`` or
  ``(dataset, client_id, test_dataset)``, or a mapping with ``dataset``, ``client_id`` and
  optionally ``test_dataset``, ``client_id_test`` (torch is imported only then).

The result must be deterministic: it is computed once per process and cached. A failing import
or call is a one-line :class:`~simfl.errors.PluginError` naming ``data.source``; a malformed
result a one-line :class:`~simfl.errors.DataError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from simfl.data.dataset import SourceDataset, common_arguments
from simfl.data.source import Source, make_source
from simfl.errors import DataError, PluginError

if TYPE_CHECKING:
    from simfl.config.schema import DataConfig

__all__ = ["Python", "load_python", "ARRAY_KEYS", "DATASET_KEYS"]

#: Keys of a mapping of arrays.
ARRAY_KEYS = ("x", "y", "client_id", "x_test", "y_test", "client_id_test")
#: Keys of a mapping holding torch datasets.
DATASET_KEYS = ("dataset", "client_id", "test_dataset", "client_id_test")
_KEY = "data.source"


def load_python(
    source: str,
    kwargs: Mapping[str, Any] | None = None,
    search_path: Iterable[str] = (),
    input_dtype: str = "auto",
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Source:
    """Call ``source`` and check what it returns (see the module docstring).

    Raises:
        PluginError: the function cannot be imported, is not callable, or raised.
        DataError: it returned something malformed.
    """
    from simfl.registry import import_object

    fn = import_object(source, search_path, _KEY)
    if not callable(fn):
        raise PluginError(f"{_KEY}: {source} is not callable (got {type(fn).__name__})")
    try:
        result = fn(**dict(kwargs or {}))
    except Exception as exc:  # the user's function raised
        raise PluginError(f"{_KEY}: {source}() raised {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    origin = f"{_KEY} {source}"
    arrays = _arrays(origin, result)
    return make_source(origin, **arrays, input_dtype=input_dtype, num_classes=num_classes, input_shape=input_shape)


def _is_torch_dataset(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.utils.data") and c.__name__ == "Dataset" for c in type(obj).__mro__)


def _arrays(origin: str, result: Any) -> dict:
    if isinstance(result, Mapping):
        if "dataset" in result:
            unknown = [k for k in result if k not in DATASET_KEYS]
            if unknown:
                raise DataError(f"{origin}: unknown key {unknown[0]!r} (allowed with a dataset: {', '.join(DATASET_KEYS)})")
            return _from_datasets(origin, result["dataset"], result.get("client_id"), result.get("test_dataset"),
                                  result.get("client_id_test"))
        unknown = [k for k in result if k not in ARRAY_KEYS]
        if unknown:
            raise DataError(f"{origin}: unknown key {unknown[0]!r} (allowed: {', '.join(ARRAY_KEYS)}, or dataset)")
        missing = [k for k in ("x", "y") if k not in result]
        if missing:
            raise DataError(f"{origin}: the returned mapping has no {' or '.join(missing)}")
        return {k: result[k] for k in ARRAY_KEYS if result.get(k) is not None}
    if isinstance(result, tuple) and result and _is_torch_dataset(result[0]):
        if len(result) not in (2, 3):
            raise DataError(f"{origin}: returned a dataset tuple of {len(result)} items; expected (dataset, client_id[, test_dataset])")
        return _from_datasets(origin, result[0], result[1], result[2] if len(result) == 3 else None, None)
    if _is_torch_dataset(result):
        return _from_datasets(origin, result, None, None, None)
    if isinstance(result, tuple) and len(result) in (2, 3, 5):
        keys = ("x", "y", "client_id", "x_test", "y_test")[: len(result)]
        return {k: v for k, v in zip(keys, result) if v is not None}
    what = f"a tuple of {len(result)} items" if isinstance(result, tuple) else type(result).__name__
    raise DataError(
        f"{origin}: returned {what}; expected a mapping with x and y, a tuple (x, y[, client_id[, x_test, y_test]]), "
        "or a torch Dataset with client ids"
    )


def _from_datasets(origin: str, train, client_id, test, client_id_test) -> dict:
    x, y = _stack(origin, train, "dataset")
    out = {"x": x, "y": y}
    if client_id is not None:
        out["client_id"] = client_id
    if test is not None:
        out["x_test"], out["y_test"] = _stack(origin, test, "test_dataset")
        if client_id_test is not None:
            out["client_id_test"] = client_id_test
    return out


def _stack(origin: str, dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(x, y)`` item of a torch ``Dataset`` as two arrays."""
    import torch  # only a torch Dataset gets here

    try:
        n = len(dataset)
    except TypeError:
        raise DataError(f"{origin}: {name} has no len(); simfl needs a map-style torch Dataset") from None
    xs, ys = [], []
    for i in range(n):
        item = dataset[i]
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise DataError(f"{origin}: {name}[{i}] is not an (x, y) pair")
        xi, yi = item
        xs.append(xi.numpy() if isinstance(xi, torch.Tensor) else np.asarray(xi))
        ys.append(int(yi.item()) if isinstance(yi, torch.Tensor) else yi)
    if not xs:
        raise DataError(f"{origin}: {name} is empty")
    shapes = {a.shape for a in xs}
    if len(shapes) > 1:
        first = xs[0].shape
        i = next(i for i, a in enumerate(xs) if a.shape != first)
        raise DataError(f"{origin}: {name}[{i}] has shape {xs[i].shape} but {name}[0] has {first}")
    return np.stack(xs), np.asarray(ys)


class Python(SourceDataset):
    """``data.dataset: python``: the arrays the function ``data.source`` returns."""

    def read(self, cfg: DataConfig) -> Source:
        """Call ``data.source`` with ``data.source_kwargs``."""
        return load_python(cfg.source, cfg.source_kwargs, cfg.search_path, **common_arguments(cfg))

    def cache_key(self, cfg: DataConfig) -> tuple:
        """The folders searched first for the function's module (the config file's folder)."""
        return cfg.search_path
