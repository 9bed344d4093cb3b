"""File digests and run fingerprints (issue 19, item 4): streamed SHA-256, a per-user cache that
is never wrong, the files a config uses, and how fingerprints are compared."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import simfl
from simfl.identity import filedigest
from simfl.identity.filedigest import DigestCacheWarning, file_sha256, folder_sha256
from simfl.identity.fingerprint import (
    FileFingerprints,
    changed_files,
    combined_fingerprint,
    file_fingerprints,
    mixed_versions,
    module_files,
)

ROOT = Path(__file__).resolve().parents[2]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache in its own folder; ``cache.reads`` lists every file actually read."""
    monkeypatch.setenv("SIMFL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(filedigest, "_cache", filedigest._Cache())
    reads: list[str] = []
    original = filedigest._hash_open_file

    def counting(f):
        reads.append(os.path.basename(f.name))
        return original(f)

    monkeypatch.setattr(filedigest, "_hash_open_file", counting)
    return reads


@pytest.fixture
def settled(monkeypatch):
    """Files look older than SETTLE_S (the clock jumps ahead), so their digests are cached."""
    monkeypatch.setattr(filedigest, "_now_ns", lambda: time.time_ns() + int(2 * filedigest.SETTLE_S * 1e9))


# ------------------------------------------------------------------ digests
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300), block=st.integers(1, 64))
def test_a_streamed_digest_is_the_digest_of_the_bytes(tmp_path_factory, data, block):
    path = tmp_path_factory.mktemp("d") / "f.bin"
    path.write_bytes(data)
    original = filedigest.BLOCK
    filedigest.BLOCK = block  # many blocks, a short last one
    try:
        assert file_sha256(path, cache=False) == sha(data)
    finally:
        filedigest.BLOCK = original


def test_a_file_is_read_block_by_block(tmp_path, monkeypatch):
    """Never the whole file in memory: every read asks for at most BLOCK bytes."""
    monkeypatch.setattr(filedigest, "BLOCK", 1000)
    path = tmp_path / "big.bin"
    data = np.random.default_rng(0).bytes(10_500)
    path.write_bytes(data)
    sizes = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f, self.name = f, f.name

        def readinto(self, buf):
            sizes.append(len(buf))
            return self.f.readinto(buf)

        def fileno(self):
            return self.f.fileno()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(filedigest, "open", lambda *a, **k: Spy(real_open(*a, **k)), raising=False)
    assert file_sha256(path, cache=False) == sha(data)
    assert sizes and max(sizes) == 1000 and len(sizes) == 12  # 10 full blocks, a short one, the empty read


def test_a_folder_digest_is_sha256sum_of_its_sorted_files(tmp_path):
    folder = tmp_path / "leaf"
    (folder / "train").mkdir(parents=True)
    (folder / ".git").mkdir()
    files = {"train/a.json": b"{}", "train/b.json": b"[1]", "meta.txt": b"x"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / ".DS_Store").write_bytes(b"hidden")
    (folder / ".git" / "HEAD").write_bytes(b"hidden")
    lines = "".join(f"{sha(files[n])}  {n}\n" for n in sorted(files))
    assert folder_sha256(folder, cache=False) == (sha(lines.encode()), 3)
    (folder / "train" / "b.json").rename(folder / "train" / "c.json")  # same bytes, another name
    assert folder_sha256(folder, cache=False)[0] != sha(lines.encode())


# ------------------------------------------------------------------ the cache
def test_an_unchanged_file_is_not_read_again(tmp_path, cache, settled):
    path = tmp_path / "data.npz"
    path.write_bytes(b"0123456789")
    assert file_sha256(path) == sha(b"0123456789") and cache == ["data.npz"]
    assert file_sha256(path) == sha(b"0123456789") and cache == ["data.npz"]  # from the cache
    assert (tmp_path / "cache" / "digests.sqlite3").is_file()


def test_a_changed_file_gets_a_new_digest_even_with_its_old_size_and_mtime(tmp_path, cache, settled):
    path = tmp_path / "trace.csv"
    path.write_bytes(b"aaaa")
    old = os.stat(path)
    assert file_sha256(path) == sha(b"aaaa")
    path.write_bytes(b"bbbb")  # same size, new content, new mtime
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 1_000_000_000))
    assert file_sha256(path) == sha(b"bbbb")
    path.write_bytes(b"cccc")  # the old mtime put back: the ctime still moved
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert file_sha256(path) == sha(b"cccc") and cache == ["trace.csv"] * 3


def test_a_touched_file_is_read_once_more_and_keeps_its_digest(tmp_path, cache, settled):
    path = tmp_path / "plugin.py"
    path.write_bytes(b"x = 1\n")
    first = file_sha256(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert file_sha256(path) == first and file_sha256(path) == first
    assert cache == ["plugin.py", "plugin.py"]


def test_a_file_just_written_is_not_cached(tmp_path, cache):
    """Two writes within one tick of the filesystem clock leave the same times: a digest is cached
    only once the file's last change is SETTLE_S old."""
    path = tmp_path / "fresh.bin"
    path.write_bytes(b"v1")
    assert file_sha256(path) == sha(b"v1") and file_sha256(path) == sha(b"v1")
    assert cache == ["fresh.bin", "fresh.bin"]


def test_a_cache_that_cannot_be_used_warns_once_and_never_fails(tmp_path, monkeypatch, cache):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SIMFL_CACHE_DIR", str(blocker))
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    with pytest.warns(DigestCacheWarning, match="cannot be used") as caught:
        assert file_sha256(a) == sha(b"A") and file_sha256(b) == sha(b"B") and file_sha256(a) == sha(b"A")
    assert len(caught) == 1


def test_a_corrupt_cache_file_warns_and_hashes(tmp_path, monkeypatch, cache):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "digests.sqlite3").write_bytes(b"this is not a database" * 100)
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with pytest.warns(DigestCacheWarning):
        assert file_sha256(path) == sha(b"data")


HASH_MANY = """
import os, sys, time
from simfl.identity import filedigest
filedigest._now_ns = lambda: time.time_ns() + 10**11
folder = sys.argv[1]
for name in sorted(os.listdir(folder)):
    print(name, filedigest.file_sha256(os.path.join(folder, name)))
"""


def test_processes_share_the_cache(tmp_path, monkeypatch):
    """Several processes hash into one cache at once: all digests right, no warning."""
    folder = tmp_path / "files"
    folder.mkdir()
    rng = np.random.default_rng(1)
    expected = {}
    for i in range(40):
        data = rng.bytes(int(rng.integers(1, 5000)))
        (folder / f"f{i:02d}").write_bytes(data)
        expected[f"f{i:02d}"] = sha(data)
    env = {**os.environ, "SIMFL_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-W", "error", "-c", HASH_MANY, str(folder)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and err == "", err
        assert dict(line.split() for line in out.splitlines()) == expected


# ------------------------------------------------------------------ modules
def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_a_plugin_module_covers_its_packages_and_the_local_modules_it_imports(tmp_path, monkeypatch):
    root = tmp_path / "project"
    _write(root / "fp_pkg" / "__init__.py", "")
    _write(root / "fp_pkg" / "rules.py", """
        import numpy as np
        from simfl.api import Policy
        from . import helpers
        if False:
            from .sub.deep import thing
    """)
    _write(root / "fp_pkg" / "helpers.py", "import fp_top_util\n")
    _write(root / "fp_pkg" / "sub" / "__init__.py", "")
    _write(root / "fp_pkg" / "sub" / "deep.py", "thing = 1\n")
    _write(root / "fp_pkg" / "unused.py", "")
    _write(root / "fp_top_util.py", "import json\n")
    _write(root / "fp_unrelated.py", "")
    monkeypatch.syspath_prepend(str(root))
    importlib.import_module("fp_pkg.rules")
    files = module_files("fp_pkg.rules")
    assert sorted(files.values()) == ["fp_pkg/__init__.py", "fp_pkg/helpers.py", "fp_pkg/rules.py",
                                      "fp_pkg/sub/__init__.py", "fp_pkg/sub/deep.py", "fp_top_util.py"]
    assert all(Path(p).is_file() and Path(p).is_relative_to(root) for p in files)


def test_a_module_without_a_file_is_not_covered():
    assert module_files("sys") == {} and module_files("not_loaded_at_all") == {}


def test_an_installed_module_is_covered_without_its_imports():
    files = module_files("yaml")  # a package in site-packages: only its own modules are followed
    assert files and all(rel.startswith("yaml/") for rel in files.values())


# ------------------------------------------------------------------ what a config uses
PLUGINS = '''
from simfl.api import AlgorithmParams, Field, InFlight, Policy, StalenessFunction


class Rule(Policy):
    class Params(AlgorithmParams):
        concurrency: int = Field(3, ge=1, description="tasks in flight")

    def __init__(self, params):
        self.flight = InFlight(params.concurrency)

    def start(self, server):
        self.flight.refill(server)

    def on_arrivals(self, server, updates):
        for task in updates:
            server.applied(task, 1.0)
        self.flight.refill(server)


class Flat(StalenessFunction):
    def __call__(self, staleness):
        return 1.0 + 0 * staleness
'''


def test_a_config_names_its_plugins_data_and_traces(tmp_path):
    (tmp_path / "fp_every_kind.py").write_text(PLUGINS)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 3)).astype(np.float32), y=rng.integers(0, 2, 40),
             client_id=np.repeat(np.arange(4), 10))
    (tmp_path / "p.csv").write_text("client_id,seconds_per_sample,latency_s,down_mbps,up_mbps\na,0.01,0.1,10,1\n")
    (tmp_path / "av.csv").write_text("client_id,start_s,end_s\na,0,100\n")
    config = simfl.config_from_dict({
        "data": {"dataset": "arrays", "path": str(tmp_path / "d.npz")},
        "train": {"enabled": False},
        "heterogeneity": {"profiles": {"path": str(tmp_path / "p.csv"), "replace": True},
                          "availability": {"type": "trace", "path": str(tmp_path / "av.csv"), "replace": True}},
        "algorithm": {"type": "fedbuff", "concurrency": 2, "buffer_size": 2, "staleness": {"type": "fp_every_kind:Flat"}},
    }, search_path=[tmp_path])
    fps = file_fingerprints(config)
    assert list(fps) == ["algorithm.staleness.type", "data.path", "heterogeneity.availability.path",
                         "heterogeneity.profiles.path"]
    assert fps["algorithm.staleness.type"]["files"] == ["fp_every_kind.py"]
    assert fps["algorithm.staleness.type"]["sha256"] == sha(f"{sha(PLUGINS.encode())}  fp_every_kind.py\n".encode())
    assert fps["data.path"] == {"path": str(tmp_path / "d.npz"), "sha256": sha((tmp_path / "d.npz").read_bytes())}
    assert fps["heterogeneity.profiles.path"]["sha256"] == sha((tmp_path / "p.csv").read_bytes())
    # a built-in method with the plugin as its method: both keys
    mixed = config.model_copy(update={"algorithm": simfl.config_from_dict(
        {"train": {"enabled": False}, "algorithm": {"type": "fp_every_kind:Rule"}}, search_path=[tmp_path]).algorithm})
    assert "algorithm.type" in file_fingerprints(mixed)
    assert file_fingerprints(simfl.config_from_dict({})) == {}


SOURCE = """
import numpy as np
from fp_shared_helpers import SIZE


def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(SIZE, 3)).astype(np.float32), "y": rng.integers(0, 2, SIZE),
            "client_id": np.arange(SIZE) % 3}
"""

FACTORY = """
from fp_shared_helpers import SIZE


def net(input_shape, num_classes, width=SIZE):
    import torch

    return torch.nn.Linear(input_shape[0], num_classes)
"""


def test_a_config_names_its_model_factory_and_data_source(tmp_path):
    (tmp_path / "fp_src.py").write_text(SOURCE)
    (tmp_path / "fp_models.py").write_text(FACTORY)
    (tmp_path / "fp_shared_helpers.py").write_text("SIZE = 30\n")
    config = simfl.config_from_dict({
        "data": {"dataset": "python", "source": "fp_src:data"},
        "model": {"type": "torch", "factory": "fp_models:net"},
        "algorithm": {"concurrency": 2},
    }, search_path=[tmp_path])
    fps = file_fingerprints(config)
    assert list(fps) == ["data.source", "model.factory"]
    assert fps["data.source"]["files"] == ["fp_shared_helpers.py", "fp_src.py"]
    assert fps["model.factory"]["files"] == ["fp_models.py", "fp_shared_helpers.py"]
    assert fps["model.factory"]["path"] == str(tmp_path / "fp_models.py")
    lines = sorted((name, sha((tmp_path / name).read_bytes())) for name in ("fp_models.py", "fp_shared_helpers.py"))
    assert fps["model.factory"]["sha256"] == sha("".join(f"{d}  {n}\n" for n, d in lines).encode())


def test_a_path_that_does_not_exist_is_recorded_without_a_digest(tmp_path):
    config = simfl.config_from_dict({"data": {"path": str(tmp_path / "nothing")}})  # synthetic ignores it
    assert file_fingerprints(config) == {"data.path": {"path": str(tmp_path / "nothing"), "sha256": None,
                                                       "error": "no such file or folder"}}


def test_one_planning_pass_hashes_each_path_once(tmp_path, cache):
    (tmp_path / "p.csv").write_text("client_id,seconds_per_sample,latency_s,down_mbps,up_mbps\na,0.01,0.1,10,1\n")
    files = FileFingerprints()
    for seed in range(5):
        files(simfl.config_from_dict({"seed": seed, "heterogeneity": {"profiles": {"path": str(tmp_path / "p.csv"),
                                                                                   "replace": True}}}))
    assert cache == ["p.csv"]


def test_a_loaded_module_keeps_the_digest_of_the_code_that_runs(tmp_path, monkeypatch):
    """Edited while loaded: the process still runs the old code, so it reports the old digest;
    after a reload, the new one."""
    (tmp_path / "fp_loaded.py").write_text(PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = simfl.config_from_dict({"train": {"enabled": False}, "algorithm": {"type": "fp_loaded:Rule"}})
    before = file_fingerprints(config)["algorithm.type"]["sha256"]
    (tmp_path / "fp_loaded.py").write_text(PLUGINS + "\n# edited\n")
    assert file_fingerprints(config)["algorithm.type"]["sha256"] == before
    importlib.reload(sys.modules["fp_loaded"])
    config = simfl.config_from_dict({"train": {"enabled": False}, "algorithm": {"type": "fp_loaded:Rule"}})
    assert file_fingerprints(config)["algorithm.type"]["sha256"] != before


# ------------------------------------------------------------------ comparing
def test_changed_files():
    a = {"algorithm.type": {"sha256": "1"}, "data.path": {"sha256": "2"}}
    assert changed_files(a, a) == []
    assert changed_files(a, {**a, "data.path": {"sha256": "3"}}) == ["data.path"]
    assert changed_files(None, a) == ["algorithm.type", "data.path"]  # recorded by an older simfl: unverifiable
    assert changed_files(None, {}) == []  # a run without user files
    assert changed_files({"data.path": {"sha256": None}}, {"data.path": {"sha256": None}}) == []


def test_combined_fingerprint():
    a = {"algorithm.type": {"sha256": "1"}, "data.path": {"sha256": "2"}}
    assert combined_fingerprint(None) is None and combined_fingerprint({}) is None
    assert combined_fingerprint(a) == combined_fingerprint(dict(reversed(a.items())))
    assert len(combined_fingerprint(a)) == 12
    assert combined_fingerprint(a) != combined_fingerprint({**a, "data.path": {"sha256": "3"}})


def test_mixed_versions_names_the_file_its_versions_and_runs():
    def m(digest, path="/p/rules.py"):
        return {"fingerprints": {"algorithm.type": {"path": path, "sha256": digest}}}

    manifests = {"r1": m("a" * 64), "r2": m("a" * 64), "r3": m("b" * 64), "r4": m("c" * 64, "/p/other.py"), "r5": {}}
    lines = mixed_versions(manifests)
    assert lines == [f"warning: algorithm.type (/p/rules.py): 2 versions across 3 runs: {'a' * 12} in 2 (r1, r2); "
                     f"{'b' * 12} in 1 (r3); rerunning simfl sweep recomputes the runs whose files changed"]
    assert mixed_versions({"r1": m("a" * 64), "r2": m("a" * 64)}) == []
