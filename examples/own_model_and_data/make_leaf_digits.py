"""Write a small LEAF-format dataset with a natural per-writer split, generated from scikit-learn's
bundled 8x8 digits (nothing is downloaded).

Each "writer" (a LEAF user) gets, as in FEMNIST:

* a skewed label mix: label proportions ~ Dirichlet(alpha) (small alpha: a few favourite digits);
* a size of its own: lognormal around ``--mean-samples`` (some writers wrote much more);
* a style of its own: every image of the writer is shifted by the same (dy, dx) in {-1, 0, 1}
  pixels and drawn with the same pen pressure (intensity factor in [0.6, 1]).

Digits are dealt without replacement, so no image appears twice. Every writer's samples are
split by sample (LEAF's default): ``--test-fraction`` of them (at least one) go to
``test/``, the rest to ``train/``. Inputs are flattened 64-pixel vectors in [0, 1] (as FEMNIST's
784), labels the digits 0-9. The output is deterministic for a given ``--seed``.

Usage::

    python examples/own_model_and_data/make_leaf_digits.py            # -> leaf_digits/ next to this file
    python examples/own_model_and_data/make_leaf_digits.py --out data/leaf_digits --writers 40

then in a config (``bn_cnn_leaf.yaml`` reads the default output)::

    data: {dataset: leaf, path: leaf_digits, num_clients: null, partition: natural}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

NUM_CLASSES = 10
#: Where the script writes by default: ``leaf_digits/`` next to it, the ``data.path`` of bn_cnn_leaf.yaml.
DEFAULT_OUT = Path(__file__).resolve().parent / "leaf_digits"


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images / 16.0, bunch.target.astype(np.int64)


def _style(images: np.ndarray, shift: tuple[int, int], pressure: float) -> np.ndarray:
    """Shift every image by ``shift`` pixels (zeros enter at the edge) and scale its intensity."""
    out = np.zeros_like(images)
    dy, dx = shift
    h, w = images.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out * pressure


def make_writers(
    writers: int = 40,
    mean_samples: float = 30.0,
    alpha: float = 0.5,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> tuple[dict, dict]:
    """The LEAF train and test objects ``{"users", "num_samples", "user_data"}``.

    Raises:
        ValueError: more samples asked for than the 1,797 digits (fewer writers or samples).
    """
    rng = np.random.default_rng(seed)
    images, labels = _digits()
    sizes = np.maximum(2, np.round(mean_samples * rng.lognormal(-0.125, 0.5, size=writers))).astype(int)
    if sizes.sum() > len(labels):
        raise ValueError(f"{writers} writers x ~{mean_samples} samples need {sizes.sum()} digits; there are {len(labels)}")
    left = [list(rng.permutation(np.flatnonzero(labels == k))) for k in range(NUM_CLASSES)]
    train = {"users": [], "num_samples": [], "user_data": {}}
    test = {"users": [], "num_samples": [], "user_data": {}}
    for w in range(writers):
        mix = rng.dirichlet(np.full(NUM_CLASSES, alpha))
        shift = (int(rng.integers(-1, 2)), int(rng.integers(-1, 2)))
        pressure = float(rng.uniform(0.6, 1.0))
        taken = []
        for _ in range(sizes[w]):
            live = np.array([len(q) > 0 for q in left])
            p = np.where(live, mix, 0.0)
            p = p / p.sum() if p.sum() > 0 else live / live.sum()
            taken.append(left[int(rng.choice(NUM_CLASSES, p=p))].pop())
        taken = np.array(taken)
        x = _style(images[taken], shift, pressure).reshape(len(taken), -1)
        y = labels[taken]
        n_test = max(1, int(test_fraction * len(taken)))
        is_test = np.zeros(len(taken), dtype=bool)
        is_test[rng.choice(len(taken), n_test, replace=False)] = True
        name = f"w{w:04d}"
        for part, rows in ((train, ~is_test), (test, is_test)):
            part["users"].append(name)
            part["num_samples"].append(int(rows.sum()))
            part["user_data"][name] = {
                "x": np.round(x[rows], 4).tolist(),
                "y": y[rows].tolist(),
            }
    return train, test


def _split_files(obj: dict, files: int) -> list[dict]:
    """One LEAF object per file, users dealt in order (LEAF's data come in several files)."""
    bounds = np.linspace(0, len(obj["users"]), files + 1).astype(int)
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        users = obj["users"][a:b]
        out.append({"users": users, "num_samples": obj["num_samples"][a:b],
                    "user_data": {u: obj["user_data"][u] for u in users}})
    return out


def write_leaf(out: str | Path, files: int = 1, **kwargs) -> Path:
    """Write ``out/train/*.json`` and ``out/test/*.json``; ``kwargs`` go to :func:`make_writers`."""
    out = Path(out)
    train, test = make_writers(**kwargs)
    for split, obj in (("train", train), ("test", test)):
        (out / split).mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(_split_files(obj, files)):
            (out / split / f"digits_writers_{i}_{split}.json").write_text(json.dumps(part))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (train/ and test/ inside; default: leaf_digits/ next to this script)")
    parser.add_argument("--writers", type=int, default=40, help="number of writers (LEAF users)")
    parser.add_argument("--mean-samples", type=float, default=30.0, help="mean samples per writer")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration of a writer's label mix")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of each writer's samples in test/")
    parser.add_argument("--files", type=int, default=1, help="JSON files per split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = write_leaf(args.out, files=args.files, writers=args.writers, mean_samples=args.mean_samples,
                     alpha=args.alpha, seed=args.seed, test_fraction=args.test_fraction)
    print(f"wrote {out}/train and {out}/test: {args.writers} writers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
