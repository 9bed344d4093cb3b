"""Sweep files: expansion counts, stable ids, clear errors."""

import textwrap

import pytest

from simfl.sweep.spec import expand_sweep, load_sweep, run_id_of
from simfl.errors import ConfigError

BASE = {"data": {"num_clients": 12}, "train": {"enabled": False}, "stop": {"sim_time_s": 5}}


def _sweep(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_grid_zip_seeds_counts_and_order(tmp_path):
    (tmp_path / "base.yaml").write_text("data: {num_clients: 12}\ntrain: {enabled: false}\n")
    p = _sweep(tmp_path, """
        base: base.yaml
        grid:
          algorithm.type: [fedavg, fedasync, fedbuff]
          heterogeneity.compute.seconds_per_sample: [0.01, {dist: lognormal, median: 0.01, sigma: 1}]
        zip:
          algorithm.fedasync.concurrency: [2, 4, 8]
          algorithm.fedbuff.concurrency: [2, 4, 8]
          algorithm.fedavg.clients_per_round: [2, 4, 8]
        seeds: [3, 7]
    """)
    spec, base = load_sweep(p)
    runs = expand_sweep(spec, base)
    assert len(runs) == 3 * 2 * 3 * 2
    assert len({r.run_id for r in runs}) == len(runs)
    # grid product outermost, then zip, then seeds
    assert [r.seed for r in runs[:4]] == [3, 7, 3, 7]
    assert [r.point["algorithm.fedasync.concurrency"] for r in runs[:6]] == [2, 2, 4, 4, 8, 8]
    # each method takes its own section's value: one config, a one-key switch of method
    for r in runs:
        alg = r.config.algorithm
        size = alg.clients_per_round if alg.type == "fedavg" else alg.concurrency
        assert size == r.point["algorithm.fedasync.concurrency"]
    assert runs[0].config.heterogeneity.compute.seconds_per_sample.expected == 0.01
    assert runs[-1].config.algorithm.type == "fedbuff" and runs[-1].config.seed == 7


def test_ids_are_stable_and_depend_only_on_the_resolved_config(tmp_path):
    text = """
        base: {data: {num_clients: 12}, train: {enabled: false}}
        grid: {algorithm.type: [fedavg, fedasync]}
        seeds: 3
    """
    a = expand_sweep(*load_sweep(_sweep(tmp_path, text, "a.yaml")))
    b = expand_sweep(*load_sweep(_sweep(tmp_path, text, "b.yaml")))  # another name, same runs
    assert [r.run_id for r in a] == [r.run_id for r in b]
    # the same config written explicitly has the same id; another seed has another
    c = expand_sweep(*load_sweep(_sweep(tmp_path, """
        base: {data: {num_clients: 12}, train: {enabled: false}, algorithm: {type: fedavg}, seed: 0}
    """, "c.yaml")))
    assert c[0].run_id == a[0].run_id
    assert run_id_of(a[0].config) == a[0].run_id and len(a[0].run_id) == 12


def test_seed_count(tmp_path):
    runs = expand_sweep(*load_sweep(_sweep(tmp_path, "base: {train: {enabled: false}}\nseeds: 4\n")))
    assert [r.seed for r in runs] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("base: {}\ngrid: {algorithm.type: [fedavg, fedavgg]}\n", "sweep point algorithm.type=fedavgg: algorithm.type"),
        ("base: {}\ngrid: {algorithm.concurency: [1, 2]}\n", "did you mean 'concurrency'"),
        ("base: {}\ngrid: {algorithm.type: []}\n", "has no values"),
        ("base: {}\nzip: {algorithm.concurrency: [1, 2], algorithm.buffer_size: [1]}\n", "one length"),
        ("base: {}\nseeds: 0\n", "seeds"),
        ("base: {}\nseeds: [1, 1]\n", "distinct"),
        ("base: {}\ntargets: [1.5]\n", "(0, 1]"),
        ("base: {}\ngrid: {seed: [1, 2]}\n", "'seeds'"),
        ("base: nowhere.yaml\n", "no such config file nowhere.yaml"),
        ("base: {}\ngird: {algorithm.type: [fedavg]}\n", "did you mean 'grid'"),
        ("base: {}\ngrid: {algorithm.type: [fedavg, fedavg]}\n", "give the same run"),
    ],
)
def test_bad_sweep_files(tmp_path, text, expected):
    with pytest.raises(ConfigError) as exc:
        expand_sweep(*load_sweep(_sweep(tmp_path, text)))
    assert expected in str(exc.value)
    assert len(str(exc.value).splitlines()) == 1


def test_label_names_points_without_changing_configs(tmp_path):
    runs = expand_sweep(*load_sweep(_sweep(tmp_path, """
        base: {train: {enabled: false}, data: {num_clients: 12}}
        zip:
          label: [plain, over-selected]
          algorithm.type: [fedavg, fedavg]
          algorithm.over_selection: [0.0, 0.2]
    """)))
    assert [r.point["label"] for r in runs] == ["plain", "over-selected"]
    assert [r.config.algorithm.over_selection for r in runs] == [0.0, 0.2]


def test_variants_name_points_and_set_only_their_keys(tmp_path):
    runs = expand_sweep(*load_sweep(_sweep(tmp_path, """
        base: {train: {enabled: false}, data: {num_clients: 12}}
        grid: {heterogeneity.compute.jitter: [1.0, 2.0]}
        variants:
          plain: {algorithm.type: fedavg}
          over-selected: {algorithm.type: fedavg, algorithm.over_selection: 0.2}
          buffered: {algorithm.type: fedbuff, algorithm.buffer_size: 3}
        seeds: 2
    """)))
    assert len(runs) == 2 * 3 * 2
    assert [r.point["label"] for r in runs[:6]] == ["plain", "plain", "over-selected", "over-selected", "buffered", "buffered"]
    by_label = {r.point["label"]: r for r in runs if r.seed == 0 and r.config.heterogeneity.compute.jitter.expected == 1.0}
    assert by_label["plain"].config.algorithm.over_selection == 0.0
    assert by_label["over-selected"].config.algorithm.over_selection == 0.2
    assert by_label["buffered"].config.algorithm.buffer_size == 3
    assert "algorithm.over_selection" not in by_label["plain"].point  # only what the variant sets


@pytest.mark.parametrize(
    "text, expected",
    [
        ("variants: {a: {algorithm.type: fedavg}}\nzip: {label: [x]}\n", "drop 'label'"),
        ("variants: {a: {seed: 1}}\n", "cannot be set by a variant"),
        ("variants: {a: [1, 2]}\n", "variants.a: must be a valid dictionary"),
        ("variants: {a: {algorithm.type: fedavg}}\ngrid: {algorithm.type: [fedbuff]}\n", "both in variants and grid"),
        ("variants: {a: {algorithm.type: fedbuff, algorithm.over_selection: 0.2}}\n",
         "'over_selection' is not a key of fedbuff"),
    ],
)
def test_bad_variants(tmp_path, text, expected):
    with pytest.raises(ConfigError) as exc:
        expand_sweep(*load_sweep(_sweep(tmp_path, "base: {train: {enabled: false}}\n" + text)))
    assert expected in str(exc.value)
