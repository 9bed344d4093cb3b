"""Real PyTorch training: flat-vector models, local SGD jobs, evaluation (injected into the engine).

Built-in models (``logreg``, ``mlp``, ``cnn``) are hand-batched flat models
(:mod:`simfl.training.models`); any ``torch.nn.Module`` (``model.type: torch``) is wrapped by
:class:`ModuleModel` (:mod:`simfl.training.torchmodel`) and batched with ``torch.func.vmap``.
"""

from simfl.training.device import resolve_device
from simfl.training.local import SGDConfig, batch_plan, local_sgd
from simfl.training.models import FlatModel, build_model
from simfl.training.torchmodel import ModuleModel, build_module
from simfl.training.trainer import TorchTrainer, make_trainer

__all__ = [
    "FlatModel",
    "build_model",
    "ModuleModel",
    "build_module",
    "resolve_device",
    "SGDConfig",
    "batch_plan",
    "local_sgd",
    "TorchTrainer",
    "make_trainer",
]
