"""A user's ``torch.nn.Module`` as a pure function of one flat vector (``model.type: torch``).

**Building.** The factory named by ``model.factory`` (an import path ``package.module:function``
resolved as plugins are: the config file's folder first, then the Python path) or given to
``simfl.run(config, model=callable)`` is called as::

    factory(input_shape=(C, H, W), num_classes=K, **model.kwargs)

``input_shape`` (one sample's shape, a tuple) and ``num_classes`` are passed only if the
factory accepts them (a parameter of that name, or ``**kwargs``). It returns an ``nn.Module``
mapping a batch ``(n, *input_shape)`` to logits ``(n, num_classes)``; a class works too. It is
called with torch's default (CPU) generator seeded from the seed tree (``Purpose.MODEL_INIT``)
and restored afterwards, so the initial model depends only on the seed and the global RNG is
untouched; the factory must therefore draw its initialization from that generator, as
``nn.Module`` constructors and ``torch.nn.init`` do. The module is then cast to ``train.dtype``
and moved to ``train.device`` (build it on the CPU).

**What travels.** The flat vector is ``[trainable parameters | frozen parameters | floating
buffers]``: parameters with ``requires_grad`` in ``named_parameters()`` order, then those
without, then the floating-point buffers of the module's ``state_dict`` (BatchNorm's
``running_mean``/``running_var``) in ``named_buffers()`` order. Its byte size is the model's
transfer size. Local SGD (with momentum, weight decay, FedProx) moves only the trainable part;
buffers change only through the forward pass in train mode (BatchNorm's running statistics);
frozen parameters never change locally. Every aggregation rule and server optimizer applies to
the whole vector, so buffers aggregate as parameters do (FedAvg: the ``n_k``-weighted mean of
the clients' running statistics; FedAsync: mixed with ``α·s(τ)``; FedBuff: their deltas
buffered). Integer buffers (``num_batches_tracked``) and non-persistent buffers do not travel:
every job and every evaluation starts from the module's initial values.

**Running.** Training calls the module in train mode, evaluation in eval mode, always through
``torch.func.functional_call`` on views of the vector, so the module object holds no state
between jobs. A job's random numbers (dropout) come from torch's generator seeded from the
job's own stream of the seed tree, so a job stays a pure function of (start vector, client,
task index) — see :mod:`simfl.training.module_sgd`.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from simfl.errors import PluginError
from simfl.models.factory import FACTORY_ARGUMENTS, TorchFactory
from simfl.registry import import_object
from simfl.rng import Purpose, SeedTree

__all__ = ["ModuleModel", "TorchFactory", "build_module", "factory_name", "flat_size", "seeded"]

_KEY = "model.factory"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def factory_name(factory: Callable) -> str:
    """``module:qualname`` of a callable (what the manifest records as the model that ran)."""
    module = getattr(factory, "__module__", None) or "?"
    name = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None) or type(factory).__qualname__
    return f"{module}:{name}"


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Torch's default generator(s) for ``device`` seeded with ``seed`` inside, restored after."""
    cuda = device is not None and device.type == "cuda"
    index = (device.index if device.index is not None else torch.cuda.current_device()) if cuda else None
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


def _factory_of(model_cfg, search_path, factory: Callable | None) -> tuple[Callable, str]:
    if factory is not None:
        if not callable(factory):
            raise PluginError(f"{_KEY}: simfl.run(model=...) takes a callable returning a torch.nn.Module, "
                              f"got {type(factory).__name__}")
        return factory, factory_name(factory)
    path = getattr(model_cfg, "factory", None)
    if path is None:
        raise PluginError(f"{_KEY}: model.type torch needs an import path package.module:function "
                          "(or simfl.run(config, model=callable))")
    fn = import_object(path, search_path, _KEY)
    if not callable(fn):
        raise PluginError(f"{_KEY}: {path} is not callable (got {type(fn).__name__})")
    return fn, path


def _call_arguments(fn: Callable, input_shape: tuple[int, ...], num_classes: int, kwargs: dict) -> dict:
    ours = {"input_shape": tuple(input_shape), "num_classes": int(num_classes)}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature (a builtin): pass ours
        return {**ours, **kwargs}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = {k: v for k, v in ours.items() if takes_any or (
        k in params and params[k].kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))}
    assert set(accepted) <= set(FACTORY_ARGUMENTS)
    return {**accepted, **kwargs}


def build_module(
    model_cfg,
    input_shape: tuple[int, ...],
    num_classes: int,
    tree: SeedTree,
    search_path=(),
    factory: Callable | None = None,
) -> tuple[nn.Module, str]:
    """Call the factory (see the module docstring) under the seed tree's ``MODEL_INIT`` stream.

    Args:
        model_cfg: the ``model`` config section (``factory``, ``kwargs``).
        input_shape: one sample's shape.
        num_classes: number of labels.
        tree: the run's seed tree.
        search_path: folders searched first for the factory's module (``config.search_path``).
        factory: a callable to use instead of ``model_cfg.factory`` (``simfl.run(model=...)``).

    Returns:
        The module (on the CPU, as the factory built it) and the factory's name.

    Raises:
        PluginError: the factory cannot be imported, raises, or returns no ``nn.Module`` (one line
            naming ``model.factory``).
    """
    fn, source = _factory_of(model_cfg, search_path, factory)
    kwargs = _call_arguments(fn, input_shape, num_classes, dict(getattr(model_cfg, "kwargs", {}) or {}))
    seed = int(tree.generator(Purpose.MODEL_INIT).integers(2**63))
    with seeded(seed):
        try:
            module = fn(**kwargs)
        except Exception as exc:
            raise PluginError(f"{_KEY}: {source} raised {_one_line(exc)}") from exc
    if not isinstance(module, nn.Module):
        raise PluginError(f"{_KEY}: {source} returned {type(module).__name__}, not a torch.nn.Module")
    if not any(p.requires_grad for p in module.parameters()):
        raise PluginError(f"{_KEY}: {source} returned a module with no trainable parameters")
    return module, source


def flat_size(
    model_cfg, input_shape: tuple[int, ...], num_classes: int, seed: int, search_path=(), factory: Callable | None = None
) -> tuple[int, int]:
    """Values in the flat vector of a ``type: torch`` model, built from its factory: (total, buffers)."""
    module, _ = build_module(model_cfg, input_shape, num_classes, SeedTree(seed), search_path, factory)
    params, _, buffers, _ = _layout(module)
    total = sum(math.prod(shape) for _, shape in params) + sum(math.prod(shape) for _, shape in buffers)
    return total, sum(math.prod(shape) for _, shape in buffers)


def _layout(module: nn.Module):
    """(parameters in vector order, number trainable, travelling float buffers, integer buffers)."""
    named = list(module.named_parameters())
    params = [(n, tuple(p.shape)) for n, p in named if p.requires_grad]
    trainable = len(params)
    params += [(n, tuple(p.shape)) for n, p in named if not p.requires_grad]
    persistent = set(module.state_dict(keep_vars=True))
    floats = [(n, tuple(b.shape)) for n, b in module.named_buffers() if b.is_floating_point() and n in persistent]
    others = [n for n, b in module.named_buffers() if not (b.is_floating_point() and n in persistent)]
    return params, trainable, floats, others


class ModuleModel:
    """A module evaluated on views of a flat vector ``w = [trainable | constant]``.

    ``constant`` holds frozen parameters and floating buffers; training passes the two parts
    separately (``p`` requires gradients, ``c`` is updated in place by BatchNorm in train mode).

    Args:
        module: the built module (cast to ``dtype`` and moved to ``device`` here).
        input_shape: one sample's shape.
        dtype: the parameter dtype (``train.dtype``).
        device: where it runs (``train.device``).
        source: the factory's name (for messages).
    """

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                 source: str) -> None:
        self.module = module.to(device=device, dtype=dtype)
        self.input_shape = tuple(input_shape)
        self.source = source
        self.device = device
        params, trainable, floats, others = _layout(self.module)
        self._names = [n for n, _ in params] + [n for n, _ in floats]
        self._shapes = [s for _, s in params] + [s for _, s in floats]
        self._sizes = [math.prod(s) for s in self._shapes]
        self._num_entries_p = trainable
        #: length of the trainable part of the vector
        self.num_trainable = sum(self._sizes[:trainable])
        #: length of the whole vector (what travels)
        self.num_params = sum(self._sizes)
        #: floating buffer values in the vector
        self.num_buffers = sum(math.prod(s) for _, s in floats)
        state = dict(self.module.named_parameters())
        state.update(self.module.named_buffers())
        with torch.no_grad():
            self._initial = torch.cat([state[n].detach().reshape(-1) for n in self._names]).cpu().numpy()
        #: buffers that do not travel (integer counters, non-persistent), at their initial values
        self._fixed = {n: state[n].detach().clone() for n in others}

    def init(self) -> np.ndarray:
        """The module's initial values as a flat vector (a copy)."""
        return self._initial.copy()

    def split(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trainable and constant parts of ``w`` (last dimension), as views."""
        return w[..., : self.num_trainable], w[..., self.num_trainable :]

    def fixed(self, batch: int | None = None) -> dict[str, torch.Tensor]:
        """Fresh copies of the buffers that do not travel (stacked ``batch`` times if given)."""
        if batch is None:
            return {n: t.clone() for n, t in self._fixed.items()}
        return {n: t.unsqueeze(0).expand(batch, *t.shape).clone() for n, t in self._fixed.items()}

    def buffers(self, c: torch.Tensor) -> list[torch.Tensor]:
        """The constant part ``c`` (``(N_c,)`` or a stack ``(B, N_c)``) as separate, contiguous
        tensors of the module's shapes (copies). The module may update them in place; each is
        its own tensor because, under ``vmap``, an in-place update of a strided view of one
        stacked tensor does not reach that tensor."""
        lead = c.shape[:-1]
        parts = c.split(self._sizes[self._num_entries_p :], dim=-1)
        return [t.reshape(*lead, *s).clone() for t, s in zip(parts, self._shapes[self._num_entries_p :])]

    @staticmethod
    def join(p: torch.Tensor, buffers: list[torch.Tensor]) -> torch.Tensor:
        """The vector(s) ``[p | buffers]`` (inverse of :meth:`split` + :meth:`buffers`)."""
        lead = p.shape[:-1]
        return torch.cat([p, *(b.reshape(*lead, -1) for b in buffers)], dim=-1)

    def state(self, p: torch.Tensor, buffers: list[torch.Tensor], fixed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The module's state: views of ``p`` (one model, unbatched), ``buffers`` and ``fixed``."""
        views = p.split(self._sizes[: self._num_entries_p])
        out = {n: v.view(s) for n, v, s in zip(self._names, views, self._shapes)}
        out.update(zip(self._names[self._num_entries_p :], buffers))
        out.update(fixed)
        return out

    def call(self, p: torch.Tensor, buffers: list[torch.Tensor], fixed: dict[str, torch.Tensor],
             x: torch.Tensor) -> torch.Tensor:
        """Outputs of one model on a batch ``x`` (in whatever mode the module is); the module may
        update ``buffers`` and ``fixed`` in place (BatchNorm in train mode)."""
        return functional_call(self.module, self.state(p, buffers, fixed), (x,))

    @contextlib.contextmanager
    def mode(self, training: bool) -> Iterator[None]:
        """The module in train (or eval) mode inside; its previous mode after."""
        before = self.module.training
        self.module.train(training)
        try:
            yield
        finally:
            self.module.train(before)

    def forward(self, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch ``x`` under the vector ``w``, in eval mode (evaluation, client losses)."""
        p, c = self.split(w)
        with self.mode(False):
            return self.call(p, self.buffers(c), self.fixed(), x)

    def check_outputs(self, x: torch.Tensor, num_classes: int) -> None:
        """Raise a one-line :class:`PluginError` unless a batch of ``x`` gives ``(n, num_classes)`` logits."""
        w = torch.from_numpy(self._initial).to(self.device)
        try:
            with torch.no_grad():
                out = self.forward(w, x)
        except Exception as exc:
            raise PluginError(f"{_KEY}: {self.source}: the module's forward failed on a batch of shape "
                              f"{tuple(x.shape)}: {_one_line(exc)}") from exc
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x), num_classes):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise PluginError(f"{_KEY}: {self.source}: the module gives {got} for a batch of {len(x)} samples; "
                              f"expected logits of shape ({len(x)}, {num_classes})")
