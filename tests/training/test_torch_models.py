"""``model.type: torch``: any nn.Module as a flat vector, trained by the same jobs as built-ins."""

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import simfl
from simfl.data import DatasetInfo, FederatedData, load_data
from simfl.errors import ConfigError, PluginError
from simfl.rng import Purpose, SeedTree
from simfl.running.world import check_config, dry_model_bytes
from simfl.training import build_model, make_trainer
from simfl.training.local import SGDConfig
from simfl.training.module_sgd import module_sgd
from simfl.training.torchmodel import ModuleModel, build_module
from tests.conftest import _merge
from tests.training import torch_factories
from tests.training.helpers import TRAIN_BASE, train_run

FACTORIES = "tests.training.torch_factories"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "own_model_and_data"


def torch_model(name, **kwargs):
    return {"type": "torch", "factory": f"{FACTORIES}:{name}", "kwargs": kwargs}


def config_of(**sections):
    sections.setdefault("stop", {"server_updates": 1})
    sections.setdefault("algorithm", {"type": "fedasync", "concurrency": 3})
    return simfl.config_from_dict(_merge(TRAIN_BASE, sections))


def float_state_bytes(module, itemsize):
    """The real size of what travels: every parameter and persistent floating buffer."""
    state = module.state_dict()
    return sum(t.numel() for t in state.values() if t.is_floating_point()) * itemsize


# ------------------------------------------------------------------------ building
def test_factory_gets_dataset_arguments_and_kwargs():
    torch_factories.CALLS.clear()
    cfg = config_of(model=torch_model("recording", width=3))
    build_module(cfg.model, (1, 8, 8), 10, SeedTree(0))
    assert torch_factories.CALLS == [{"input_shape": (1, 8, 8), "num_classes": 10, "width": 3}]
    # a factory that does not take them does not get them
    torch_factories.CALLS.clear()
    build_module(config_of(model=torch_model("no_dataset_arguments", width=5)).model, (1, 8, 8), 10, SeedTree(0))
    assert torch_factories.CALLS == [{"width": 5}]


def test_initial_model_comes_from_the_seed_tree_not_the_global_rng():
    cfg = config_of(model=torch_model("bn_cnn"))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = ModuleModel(build_module(cfg.model, (1, 8, 8), 10, SeedTree(7))[0], (1, 8, 8), torch.float64,
                    torch.device("cpu"), "a").init()
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is untouched
    torch.manual_seed(999)
    b = ModuleModel(build_module(cfg.model, (1, 8, 8), 10, SeedTree(7))[0], (1, 8, 8), torch.float64,
                    torch.device("cpu"), "b").init()
    c = ModuleModel(build_module(cfg.model, (1, 8, 8), 10, SeedTree(8))[0], (1, 8, 8), torch.float64,
                    torch.device("cpu"), "c").init()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the seed is the seed tree's MODEL_INIT draw
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(SeedTree(7).generator(Purpose.MODEL_INIT).integers(2**63)))
        ref = torch_factories.bn_cnn((1, 8, 8), 10).double()
    np.testing.assert_array_equal(a[: sum(p.numel() for p in ref.parameters())],
                                  torch.nn.utils.parameters_to_vector(ref.parameters()).detach().numpy())


def test_vector_layout_trainable_frozen_buffers():
    module = torch_factories.Frozen((1, 8, 8), 10)
    model = ModuleModel(module, (1, 8, 8), torch.float32, torch.device("cpu"), "frozen")
    d = 64
    # trainable: fc.weight, fc.bias, norm.weight, norm.bias; then the frozen scale; then running stats
    assert model.num_trainable == 10 * d + 10 + 2 * d
    assert model.num_params == model.num_trainable + d + 2 * d
    assert model.num_buffers == 2 * d  # num_batches_tracked (integer) and the non-persistent mask stay
    w = model.init()
    np.testing.assert_array_equal(w[model.num_trainable : model.num_trainable + d], module.scale.detach().numpy())
    np.testing.assert_array_equal(w[-2 * d : -d], np.zeros(d))  # running_mean
    np.testing.assert_array_equal(w[-d:], np.ones(d))  # running_var


@pytest.mark.parametrize("dtype, itemsize", [("float32", 4), ("float64", 8)])
def test_model_bytes_are_parameters_and_float_buffers(dtype, itemsize):
    model = torch_model("bn_cnn", channels=3)
    run = train_run(model=model, train={"dtype": dtype}, algorithm={"type": "fedasync", "concurrency": 2},
                    stop={"server_updates": 2}, heterogeneity={"network": {"down_mbps": 1.0}})
    real = float_state_bytes(torch_factories.bn_cnn((1, 8, 8), 10, channels=3), itemsize)
    params = sum(p.numel() for p in torch_factories.bn_cnn((1, 8, 8), 10, channels=3).parameters())
    assert real == (params + 2 * 3 + 2 * 16) * itemsize  # + running mean and var of both BatchNorms
    assert run.manifest["model_bytes"] == real == len(run.final_params) * itemsize
    assert run.client_updates.download_s.iloc[0] == real * 8 / 1e6
    # the same size without training, from the factory
    dry = train_run(model=model, train={"dtype": dtype, "enabled": False}, algorithm={"type": "fedasync", "concurrency": 2},
                    stop={"server_updates": 2})
    assert dry.manifest["model_bytes"] == real == dry_model_bytes(dry.config)
    summary = check_config(dry.config)
    assert summary["parameters"] * itemsize == real and summary["buffers"] == 2 * 3 + 2 * 16


# ------------------------------------------------------------------ training math
def plain_pytorch_job(module, w_start, xs, ys, batch, sgd):
    """One job as one would write it by hand: nn.Module in train mode, torch.optim.SGD."""
    model = ModuleModel(module, (1, 8, 8), torch.float64, torch.device("cpu"), "ref")
    p, c = model.split(torch.from_numpy(w_start).clone())  # vector_to_parameters makes views of it
    torch.nn.utils.vector_to_parameters(p, module.parameters())
    floats = [b for b in module.buffers() if b.is_floating_point()]
    torch.nn.utils.vector_to_parameters(c, floats)
    opt = torch.optim.SGD(module.parameters(), lr=sgd.lr, momentum=sgd.momentum, weight_decay=sgd.weight_decay)
    module.train()
    for s in range(0, len(ys), batch):
        opt.zero_grad()
        F.cross_entropy(module(xs[s : s + batch]), ys[s : s + batch]).backward()
        opt.step()
    return np.concatenate([torch.nn.utils.parameters_to_vector(module.parameters()).detach().numpy(),
                           torch.nn.utils.parameters_to_vector(floats).detach().numpy()])


@pytest.mark.parametrize("sgd", [SGDConfig(0.1), SGDConfig(0.05, momentum=0.9, weight_decay=0.01)],
                         ids=["plain", "momentum-wd"])
def test_a_job_is_torch_optim_sgd_on_the_module_with_batchnorm_statistics(sgd):
    module = torch_factories.bn_cnn((1, 8, 8), 10).double()
    model = ModuleModel(module, (1, 8, 8), torch.float64, torch.device("cpu"), "bn")
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(47, 1, 8, 8, dtype=torch.float64, generator=g), torch.randint(0, 10, (47,), generator=g)
    w0 = model.init()
    w0[: model.num_trainable] += 0.01  # not the module's own values: the vector is what counts
    ours = module_sgd(model, torch.from_numpy(w0), xs, ys, 10, sgd).numpy()
    ref = plain_pytorch_job(torch_factories.bn_cnn((1, 8, 8), 10).double(), w0, xs, ys, 10, sgd)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert np.abs(ours[model.num_trainable :] - w0[model.num_trainable :]).max() > 1e-3  # the statistics moved


def test_sgd_moves_neither_buffers_nor_frozen_parameters():
    # BatchNorm with momentum 0 keeps its statistics; weight decay and the proximal term act on
    # the trainable part only
    run = train_run(model=torch_model("Frozen"), train={"weight_decay": 0.1, "prox_mu": 0.5, "momentum": 0.5},
                    algorithm={"type": "fedavg", "clients_per_round": 3}, stop={"server_updates": 3})
    tree = SeedTree(run.config.seed)
    trainer = make_trainer(run.config, load_data(run.config.data, tree), tree)
    trainable, start = trainer.model.num_trainable, trainer.initial_params()
    from simfl.engine.protocols import Job

    job = trainer.train_job(Job(0, 1, 0, start))
    np.testing.assert_array_equal(job[trainable:], start[trainable:])  # exactly, within a job
    assert np.abs(job[:trainable] - start[:trainable]).max() > 1e-3
    # after rounds of weighted means of equal values: up to float rounding
    np.testing.assert_allclose(run.final_params[trainable:], start[trainable:], rtol=1e-15, atol=0)


def fixed_start_trainer(config, start, data=None):
    tree = SeedTree(config.seed)
    trainer = make_trainer(config, data if data is not None else load_data(config.data, tree), tree)
    trainer.initial_params = lambda: start.copy()
    return trainer


@pytest.mark.parametrize("train", [{}, {"momentum": 0.9, "weight_decay": 0.01, "prox_mu": 0.1}],
                         ids=["sgd", "momentum-wd-prox"])
@pytest.mark.parametrize("executor", ["sequential", "batched"])
def test_torch_mlp_is_the_builtin_mlp(train, executor):
    # the built-in mlp and the same network as an nn.Module, from the same start vector
    common = dict(data={"num_clients": 6, "partition": "dirichlet", "quantity_skew": 1.0},
                  train={**train, "executor": executor, "local_epochs": 0.3, "local_steps": None},
                  algorithm={"type": "fedbuff", "concurrency": 4, "buffer_size": 2}, stop={"sim_time_s": 8.0},
                  eval={"every_s": 2.0})
    builtin = train_run(model={"type": "mlp", "hidden": [16]}, **common)
    cfg = config_of(model=torch_model("mlp", hidden=[16]), **common)
    tree = SeedTree(cfg.seed)
    w0 = build_model(builtin.config.model, (1, 8, 8), 10).init(tree.generator(Purpose.MODEL_INIT), np.float64)
    mine = simfl.run(cfg, trainer=fixed_start_trainer(cfg, w0), progress=False)
    assert len(builtin.aggregations) > 5
    np.testing.assert_allclose(mine.final_params, builtin.final_params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(mine.evals.test_loss, builtin.evals.test_loss, rtol=0, atol=1e-10)
    timing = ["client_id", "task_index", "dispatch_time_s", "arrival_time_s", "status"]
    assert mine.client_updates[timing].equals(builtin.client_updates[timing])


def test_fedavg_averages_buffers_like_parameters():
    # one FedAvg round: the new vector, running statistics included, is Σ n_k x_k / Σ n_k of
    # the clients' vectors after their jobs
    res = train_run(model=torch_model("bn_cnn"), data={"num_clients": 4, "partition": "dirichlet"},
                    algorithm={"type": "fedavg", "clients_per_round": 4}, stop={"server_updates": 1})
    cfg = res.config
    tree = SeedTree(cfg.seed)
    trainer = make_trainer(cfg, load_data(cfg.data, tree), tree)
    from simfl.engine.protocols import Job

    w0 = trainer.initial_params()
    rows = res.client_updates.query("status == 'applied'")
    outs = [trainer.train_job(Job(i, int(r.client_id), int(r.task_index), w0)) for i, r in enumerate(rows.itertuples())]
    n = trainer.client_sizes[rows.client_id.to_numpy()].astype(float)
    expected = sum(nk * x for nk, x in zip(n, outs)) / n.sum()
    np.testing.assert_allclose(res.final_params, expected, rtol=0, atol=1e-12)
    assert np.abs(expected - w0)[trainer.model.num_trainable :].max() > 1e-3


# ------------------------------------------------------------- batched executor
def _simfl_records(caplog) -> list:
    """simfl's own log records (another test's tracker thread, still retrying an unreachable server
    in the background, may log through urllib3 meanwhile)."""
    return [r for r in caplog.records if r.name.split(".")[0] == "simfl"]


@pytest.mark.parametrize("algorithm", ["fedavg", "fedasync", "fedbuff"])
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_batchnorm_cnn_batched_equals_sequential(algorithm, dtype, tol, caplog):
    # clients of different sizes (partial last batches, different step counts, a client
    # smaller than a batch): batches are never padded, so BatchNorm sees each job's own batch
    kwargs = dict(
        data={"num_clients": 12, "partition": "dirichlet", "quantity_skew": 1.5},
        model=torch_model("bn_cnn", dense_norm=False),  # a last batch may hold one sample
        train={"dtype": dtype, "momentum": 0.5, "weight_decay": 1e-3, "local_epochs": 0.5, "local_steps": None,
               "batch_size": 16},
        heterogeneity={"compute": {"jitter": {"dist": "exponential", "mean": 1.0}}},
        algorithm={"type": algorithm, "fedavg": {"clients_per_round": 6}, "fedasync": {"concurrency": 6},
                   "fedbuff": {"concurrency": 6, "buffer_size": 3}},
        stop={"sim_time_s": 12.0},
        eval={"every_s": 4.0},
    )
    seq = train_run(**{**kwargs, "train": {**kwargs["train"], "executor": "sequential"}})
    with caplog.at_level(logging.WARNING, logger="simfl"):
        bat = train_run(**{**kwargs, "train": {**kwargs["train"], "executor": "batched"}})
    assert not _simfl_records(caplog) and bat.manifest["executor"] == "batched"  # no fallback
    assert len(seq.aggregations) >= 4
    np.testing.assert_allclose(bat.final_params, seq.final_params, rtol=0, atol=tol)
    np.testing.assert_allclose(bat.evals.test_loss, seq.evals.test_loss, rtol=0, atol=10 * tol)
    assert bat.client_updates.arrival_time_s.equals(seq.client_updates.arrival_time_s)


def token_data(num_clients=4, per_client=40, test_per_client=10, length=6, vocab=12, seed=0):
    """Integer token sequences; the label is the most frequent token class (token mod 3)."""
    rng = np.random.default_rng(seed)

    def draw(n):
        x = rng.integers(0, vocab, size=(n * num_clients, length))
        return x, np.argmax(np.stack([(x % 3 == k).sum(1) for k in range(3)], 1), axis=1).astype(np.int64)

    x, y = draw(per_client)
    x_test, y_test = draw(test_per_client)
    offsets = np.arange(num_clients + 1) * per_client
    test_offsets = np.arange(num_clients + 1) * test_per_client
    return FederatedData(x, y, offsets, x_test, y_test, test_offsets, DatasetInfo((length,), 3))


def lstm_config(cell, executor, dtype="float32"):
    return config_of(
        data={"num_clients": 4},
        model={"type": "torch", "factory": "models:lstm", "kwargs": {"vocab_size": 12, "hidden": 8, "cell": cell}},
        train={"dtype": dtype, "executor": executor, "local_steps": 4, "batch_size": 8, "momentum": 0.5},
        algorithm={"type": "fedasync", "concurrency": 4},
        stop={"sim_time_s": 6.0},
        eval={"every_s": 2.0},
    ).with_search_path([EXAMPLES])


def lstm_run(cell, executor, dtype="float32"):
    cfg = lstm_config(cell, executor, dtype)
    tree = SeedTree(cfg.seed)
    return simfl.run(cfg, trainer=make_trainer(cfg, token_data(), tree), progress=False)


def test_unrolled_lstm_is_nn_lstm():
    import sys

    sys.path.insert(0, str(EXAMPLES))
    try:
        import models
    finally:
        sys.path.remove(str(EXAMPLES))
    torch.manual_seed(0)
    ours = models.UnrolledLSTM(5, 7).double()
    ref = torch.nn.LSTM(5, 7, batch_first=True).double()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    np.testing.assert_allclose(ours(x).detach().numpy(), ref(x)[0][:, -1].detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_lstm_on_token_sequences_batched_equals_sequential(dtype, tol, caplog):
    seq = lstm_run("unrolled", "sequential", dtype)
    with caplog.at_level(logging.WARNING, logger="simfl"):
        bat = lstm_run("unrolled", "batched", dtype)
    assert not _simfl_records(caplog) and bat.manifest["executor"] == "batched"
    assert len(seq.aggregations) > 10
    np.testing.assert_allclose(bat.final_params, seq.final_params, rtol=0, atol=tol)
    assert seq.evals.test_accuracy.iloc[-1] > seq.evals.test_accuracy.iloc[0]


@pytest.mark.parametrize("case", ["nn.LSTM", "control flow", "dropout"])
def test_modules_vmap_cannot_batch_fall_back_with_one_line(case, caplog):
    if case == "nn.LSTM":
        def go(executor):
            return lstm_run("torch", executor)
    else:
        name = "branchy" if case == "control flow" else "dropout_mlp"

        def go(executor):
            return train_run(model=torch_model(name), data={"num_clients": 6}, train={"executor": executor},
                             algorithm={"type": "fedasync", "concurrency": 4}, stop={"sim_time_s": 5.0})
    seq = go("sequential")
    with caplog.at_level(logging.WARNING, logger="simfl"):
        bat = go("batched")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert lines[0].startswith("train.executor: batched cannot run model ") and "one at a time" in lines[0]
    assert bat.manifest["executor"] == "sequential"
    np.testing.assert_array_equal(bat.final_params, seq.final_params)
    assert len(seq.aggregations) > 5


def test_a_batched_result_that_differs_from_sequential_falls_back(caplog):
    # the first batched group is checked against its first job run alone
    with caplog.at_level(logging.WARNING, logger="simfl"):
        res = train_run(model=torch_model("Stateful"), algorithm={"type": "fedasync", "concurrency": 3},
                        stop={"sim_time_s": 2.0})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "its batched result differs from the sequential one by" in lines[0], lines
    assert res.manifest["executor"] == "sequential"


@pytest.mark.parametrize("model", ["bn_cnn", "dropout_mlp"])
def test_same_job_same_update_across_algorithms(model):
    # client c's k-th task trains on the same batches (and, with dropout, the same masks)
    # whichever algorithm dispatched it: from the same start the update is identical
    runs = {
        alg: train_run(model=torch_model(model), data={"num_clients": 6}, train={"executor": "sequential"},
                       algorithm={"type": alg, "fedavg": {"clients_per_round": 6},
                                  "fedbuff": {"concurrency": 6, "buffer_size": 6, "staleness": {"type": "constant"}}},
                       stop={"server_updates": 1})
        for alg in ("fedavg", "fedbuff")
    }
    np.testing.assert_allclose(runs["fedavg"].final_params, runs["fedbuff"].final_params, atol=1e-13)
    again = train_run(model=torch_model(model), data={"num_clients": 6}, train={"executor": "sequential"},
                      algorithm={"type": "fedavg", "clients_per_round": 6}, stop={"server_updates": 1})
    np.testing.assert_array_equal(again.final_params, runs["fedavg"].final_params)


def test_evaluation_runs_in_eval_mode():
    # with dropout the test loss of a model is a number, not a draw: evaluating twice agrees,
    # and equals the module's own eval-mode loss
    cfg = config_of(model=torch_model("dropout_mlp"))
    tree = SeedTree(cfg.seed)
    data = load_data(cfg.data, tree)
    trainer = make_trainer(cfg, data, tree)
    w = trainer.initial_params()
    first, second = trainer.evaluate(w), trainer.evaluate(w)
    assert first == second
    module = torch_factories.dropout_mlp((1, 8, 8), 10).double().eval()
    torch.nn.utils.vector_to_parameters(torch.from_numpy(w), module.parameters())
    with torch.no_grad():
        ref = F.cross_entropy(module(torch.from_numpy(data.x_test).double()), torch.from_numpy(data.y_test)).item()
    assert math.isclose(first["test_loss"], ref, rel_tol=0, abs_tol=1e-12)


# --------------------------------------------------------------- Python callable
def test_run_with_a_callable_records_what_ran(tmp_path):
    base = config_of(stop={"server_updates": 2}, algorithm={"type": "fedasync", "concurrency": 2})
    by_path = simfl.run(config_of(model=torch_model("mlp"), stop={"server_updates": 2},
                                  algorithm={"type": "fedasync", "concurrency": 2}), progress=False)
    res = simfl.run(base, model=torch_factories.mlp, out=tmp_path / "run", progress=False)
    assert res.manifest["model"] == f"{FACTORIES}:mlp"
    assert res.config.model.type == "torch" and res.config.model.factory == f"{FACTORIES}:mlp"
    np.testing.assert_array_equal(res.final_params, by_path.final_params)
    assert simfl.load_run(tmp_path / "run").config == res.config
    # a callable that cannot be imported by name still runs; the config says factory: null
    local = simfl.run(base, model=lambda input_shape, num_classes: torch_factories.mlp(input_shape, num_classes),
                      progress=False)
    assert local.config.model.factory is None and "<lambda>" in local.manifest["model"]
    np.testing.assert_array_equal(local.final_params, by_path.final_params)
    # dry runs size the callable's module
    dry = simfl.run(config_of(train={"enabled": False}, stop={"server_updates": 2}), model=torch_factories.mlp,
                    progress=False)
    assert dry.manifest["model_bytes"] == by_path.manifest["model_bytes"] == (65 * 16 + 17 * 10) * 8


def test_factory_next_to_the_config_file(tmp_path):
    (tmp_path / "my_models.py").write_text((EXAMPLES / "models.py").read_text())
    (tmp_path / "run.yaml").write_text(
        "data: {dataset: digits, partition: iid, num_clients: 4}\n"
        "model: {type: torch, factory: 'my_models:bn_cnn', kwargs: {channels: [4], hidden: 8}}\n"
        "train: {local_steps: 3}\nalgorithm: {type: fedasync, concurrency: 4}\nstop: {sim_time_s: 3}\n"
    )
    cfg = simfl.load_config(tmp_path / "run.yaml")
    res = simfl.run(cfg, progress=False)
    assert res.manifest["model"] == "my_models:bn_cnn" and res.evals.test_accuracy.notna().all()
    assert check_config(cfg)["buffers"] == 2 * 4


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("factory, message", [
    ("no_such_module_xyz:f", "model.factory: no_such_module_xyz:f: no module named 'no_such_module_xyz'"),
    (f"{FACTORIES}:missing", f"model.factory: {FACTORIES}:missing: module {FACTORIES} has no attribute 'missing'"),
    (f"{FACTORIES}:raises", f"model.factory: {FACTORIES}:raises raised ValueError: bad width"),
    (f"{FACTORIES}:not_a_module", f"model.factory: {FACTORIES}:not_a_module returned int, not a torch.nn.Module"),
    (f"{FACTORIES}:wrong_outputs", "expected logits of shape (2, 10)"),
])
def test_bad_factories_are_one_line_errors_naming_the_key(factory, message):
    cfg = config_of(model={"type": "torch", "factory": factory}, stop={"server_updates": 1})
    with pytest.raises(PluginError) as err:
        simfl.run(cfg, progress=False)
    assert message in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("model.factory: ")
    if "wrong_outputs" not in factory:  # found without training too
        with pytest.raises(PluginError, match="^model.factory: "):
            check_config(cfg)


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"^model.factory: expected an import path"):
        config_of(model={"type": "torch", "factory": "not a path"})
    with pytest.raises(ConfigError, match=r"^model.kwargs: num_classes is passed by simfl"):
        config_of(model={"type": "torch", "factory": "a:b", "kwargs": {"num_classes": 3}})
    with pytest.raises(PluginError, match=r"^model.factory: model.type torch needs an import path"):
        simfl.run(config_of(model={"type": "torch"}), progress=False)
    with pytest.raises(PluginError, match=r"^model.factory: simfl.run\(model=...\) takes a callable"):
        simfl.run(config_of(), model=3, progress=False)


# ------------------------------------------------------------------------ device
def test_a_device_that_is_not_present_is_a_one_line_error(monkeypatch):
    from simfl.training.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    cfg = config_of(train={"device": "cuda"})
    for call in (lambda: simfl.run(cfg, progress=False), lambda: check_config(cfg)):
        with pytest.raises(ConfigError, match=r"^train.device: cuda is not present on this machine") as err:
            call()
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"^train.device: mps is not present"):
        resolve_device("mps")
    assert resolve_device("auto") == torch.device("cpu")
    # auto prefers cuda, then mps; mps holds no float64
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    with pytest.raises(ConfigError, match=r"^train.dtype: float64 is not supported on mps"):
        resolve_device("auto", "float64")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    # a dry run trains nowhere: no device needed
    check_config(config_of(train={"device": "cuda", "enabled": False}))


@pytest.mark.parametrize("model", [{"type": "cnn", "channels": [4], "hidden": 8}, torch_model("bn_cnn")],
                         ids=["builtin", "torch"])
def test_auto_on_a_cpu_machine_is_cpu_with_identical_results(model, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    runs = [train_run(model=model, train={"device": device}, algorithm={"type": "fedasync", "concurrency": 3},
                      stop={"sim_time_s": 3.0}, eval={"every_s": 1.0}) for device in ("cpu", "auto")]
    np.testing.assert_array_equal(runs[0].final_params, runs[1].final_params)
    assert runs[0].evals.equals(runs[1].evals)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
@pytest.mark.parametrize("executor", ["sequential", "batched"])
@pytest.mark.parametrize("model", [{"type": "mlp", "hidden": [16]}, torch_model("bn_cnn")], ids=["builtin", "torch"])
def test_cuda_gives_the_cpu_results_up_to_rounding(model, executor):
    runs = [train_run(model=model, train={"device": device, "executor": executor},
                      algorithm={"type": "fedasync", "concurrency": 3}, stop={"sim_time_s": 3.0})
            for device in ("cpu", "cuda")]
    assert runs[1].final_params.dtype == np.float64  # parameters come back as CPU numpy vectors
    np.testing.assert_allclose(runs[1].final_params, runs[0].final_params, rtol=0, atol=1e-8)
