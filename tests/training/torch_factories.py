"""Model factories for the ``type: torch`` tests (named ``tests.training.torch_factories:NAME``)."""

import torch
from torch import nn

CALLS = []


def mlp(input_shape, num_classes, hidden=(16,)):
    """The built-in ``mlp`` as an nn.Module (same layout: each layer's weight, then its bias)."""
    widths = [int(torch.tensor(input_shape).prod()), *hidden]
    layers = [nn.Flatten()]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], num_classes))
    return nn.Sequential(*layers)


def bn_cnn(input_shape, num_classes, channels=4, momentum=0.1, dense_norm=True):
    """conv → BatchNorm2d → ReLU → pool → dense → BatchNorm1d (unless ``dense_norm`` is false:
    it cannot train on a batch of one sample) → ReLU → dense."""
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, channels, 3, padding=1), nn.BatchNorm2d(channels, momentum=momentum), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(channels * (h // 2) * (w // 2), 16),
        nn.BatchNorm1d(16, momentum=momentum) if dense_norm else nn.Identity(), nn.ReLU(), nn.Linear(16, num_classes),
    )


class Frozen(nn.Module):
    """A linear model with a frozen feature scale and a BatchNorm whose statistics never move."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        d = int(torch.tensor(input_shape).prod())
        self.scale = nn.Parameter(torch.rand(d) + 0.5, requires_grad=False)
        self.norm = nn.BatchNorm1d(d, momentum=0.0)
        self.register_buffer("mask", torch.ones(d), persistent=False)  # does not travel
        self.fc = nn.Linear(d, num_classes)

    def forward(self, x):
        return self.fc(self.norm(x.flatten(1) * self.scale * self.mask))


def branchy(input_shape, num_classes):
    """Data-dependent control flow: vmap cannot batch it."""

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)

        def forward(self, x):
            h = self.fc(x.flatten(1))
            return h if h.mean() > 0 else -h

    return Branchy()


def dropout_mlp(input_shape, num_classes):
    d = int(torch.tensor(input_shape).prod())
    return nn.Sequential(nn.Flatten(), nn.Linear(d, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, num_classes))


def recording(**kwargs):
    """Takes anything; records what it was called with."""
    CALLS.append(kwargs)
    return nn.Linear(int(torch.tensor(kwargs["input_shape"]).prod()), kwargs["num_classes"])


def no_dataset_arguments(width):
    CALLS.append({"width": width})
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def raises(input_shape, num_classes):
    raise ValueError("bad width\nsecond line")


def not_a_module(input_shape, num_classes):
    return 42


def wrong_outputs(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes + 1))


class Stateful(nn.Module):
    """Keeps Python state across calls (impure): batched and sequential results differ."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(x.flatten(1)) * self.calls
