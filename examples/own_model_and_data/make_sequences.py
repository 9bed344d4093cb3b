"""Write a small ``arrays`` dataset of token sequences with a natural per-user split (generated,
nothing is downloaded), for the LSTM of ``models.py``.

Each class ``k`` is a first-order Markov chain over ``--vocab`` tokens: from token ``t`` the next
token is ``t + step_k (mod vocab)`` with probability ``--signal``, else uniform. The step of a
class (``1 + k`` here) is visible only in the *order* of the tokens, so a bag of tokens tells
nothing and a model must read the sequence. Each user (a client) has a size of its own (lognormal
around ``--mean-samples``) and a skewed label mix (Dirichlet ``--alpha``); ``--test-fraction``
of every user's sequences (at least one) go to the test split, with their user id.

The ``.npz`` holds ``x`` (n, T) int64 token ids, ``y``, ``client_id`` and ``x_test``, ``y_test``,
``client_id_test``: ``data: {dataset: arrays, path: sequences.npz}`` reads it (integer inputs
are token ids, ``data.input_dtype: auto``). :func:`sequences` returns the same arrays, so
``data: {dataset: python, source: "make_sequences:sequences"}`` works without a file.

Usage::

    python examples/own_model_and_data/make_sequences.py     # -> sequences.npz next to this file
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: Where the script writes by default: the ``data.path`` of lstm_sequences.yaml.
DEFAULT_OUT = Path(__file__).resolve().parent / "sequences.npz"


def _chains(rng: np.random.Generator, labels: np.ndarray, length: int, vocab: int, signal: float) -> np.ndarray:
    """One sequence per label: ``x[t+1] = x[t] + 1 + label (mod vocab)`` w.p. ``signal``, else uniform."""
    n = len(labels)
    x = np.empty((n, length), dtype=np.int64)
    x[:, 0] = rng.integers(0, vocab, n)
    follow = rng.random((n, length - 1)) < signal
    noise = rng.integers(0, vocab, (n, length - 1))
    for t in range(1, length):
        x[:, t] = np.where(follow[:, t - 1], (x[:, t - 1] + 1 + labels) % vocab, noise[:, t - 1])
    return x


def sequences(
    users: int = 30,
    mean_samples: float = 40.0,
    classes: int = 4,
    length: int = 12,
    vocab: int = 16,
    signal: float = 0.6,
    alpha: float = 0.5,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The arrays ``{x, y, client_id, x_test, y_test, client_id_test}`` (deterministic in ``seed``)."""
    if classes >= vocab:
        raise ValueError(f"classes ({classes}) must be fewer than vocab ({vocab}): the steps 1..classes must differ mod vocab")
    rng = np.random.default_rng(seed)
    sizes = np.maximum(2, np.round(mean_samples * rng.lognormal(-0.125, 0.5, size=users))).astype(int)
    y = np.concatenate([rng.choice(classes, size=s, p=rng.dirichlet(np.full(classes, alpha))) for s in sizes])
    client = np.repeat(np.arange(users), sizes)
    x = _chains(rng, y, length, vocab, signal)
    is_test = np.zeros(len(y), dtype=bool)
    start = 0
    for s in sizes:
        is_test[start + rng.choice(s, max(1, int(test_fraction * s)), replace=False)] = True
        start += s
    train = ~is_test
    return {"x": x[train], "y": y[train], "client_id": client[train],
            "x_test": x[is_test], "y_test": y[is_test], "client_id_test": client[is_test]}


def write_npz(out: str | Path = DEFAULT_OUT, **kwargs) -> Path:
    """Write :func:`sequences` (``kwargs`` go to it) to ``out`` (a ``.npz``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **sequences(**kwargs))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output .npz (default: sequences.npz next to this script)")
    parser.add_argument("--users", type=int, default=30, help="number of users (clients)")
    parser.add_argument("--mean-samples", type=float, default=40.0, help="mean sequences per user")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--length", type=int, default=12, help="tokens per sequence")
    parser.add_argument("--vocab", type=int, default=16, help="vocabulary size (token ids 0..vocab-1)")
    parser.add_argument("--signal", type=float, default=0.6, help="probability that a token follows its class's step")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration of a user's label mix")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of each user's sequences in the test split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = write_npz(args.out, users=args.users, mean_samples=args.mean_samples, classes=args.classes,
                    length=args.length, vocab=args.vocab, signal=args.signal, alpha=args.alpha,
                    test_fraction=args.test_fraction, seed=args.seed)
    print(f"wrote {out}: {args.users} users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
