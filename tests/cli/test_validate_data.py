"""`simfl validate` checks the data, not only its headers (issue 13, item 6): every defect below
passed validation before and failed only in the middle of a run. Each now fails `validate` (and
`run`, before any directory exists) with one line naming the file or key, exit code 2."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

from simfl.cli import main
from tests.data.conftest import IMAGES_MAGIC, LABELS_MAGIC, idx_bytes, random_images, write_idx_split


def _folder(tmp_path, n=60, gz=False, t10k=0):
    folder = tmp_path / "idx"
    folder.mkdir()
    rng = np.random.default_rng(0)
    img, lab = write_idx_split(folder, "train", *random_images(rng, n), gz=gz)
    test = write_idx_split(folder, "t10k", *random_images(rng, t10k), gz=gz) if t10k else (None, None)
    return folder, img, lab, *test


def _config(tmp_path, folder, data="partition: iid, num_clients: 4"):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data: {{dataset: idx, path: {folder}, {data}}}\nalgorithm: {{concurrency: 2}}\n"
                   "stop: {sim_time_s: 2}\n")
    return cfg


def _fails(capsys, cfg, *pieces, tmp_path=None):
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for piece in pieces:
        assert piece in lines[0], lines[0]
    if tmp_path is not None:  # simfl run refuses the same config before writing anything
        out = tmp_path / "out"
        assert main(["run", str(cfg), "--out", str(out)]) == 2
        capsys.readouterr()
        assert not out.exists()
    return lines[0]


def test_a_good_folder_validates(tmp_path, capsys):
    folder, *_ = _folder(tmp_path, t10k=20)
    assert main(["validate", str(_config(tmp_path, folder))]) == 0


def test_truncated_images_body(tmp_path, capsys):
    folder, img, *_ = _folder(tmp_path)
    img.write_bytes(img.read_bytes()[:-100])
    _fails(capsys, _config(tmp_path, folder), img.name, "truncated", f"needs {60 * 28 * 28} data bytes",
           f"has {60 * 28 * 28 - 100}", tmp_path=tmp_path)


def test_truncated_gzipped_images_body(tmp_path, capsys):
    folder, img, *_ = _folder(tmp_path, gz=True)
    raw = gzip.decompress(img.read_bytes())
    img.write_bytes(gzip.compress(raw[:-5]))  # a valid gzip stream, 5 bytes short of what the header says
    _fails(capsys, _config(tmp_path, folder), img.name, "truncated", f"has {60 * 28 * 28 - 5}")


def test_corrupt_gzip_stream(tmp_path, capsys):
    folder, img, *_ = _folder(tmp_path, gz=True)
    data = bytearray(img.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # the header survives, the stream does not
    img.write_bytes(bytes(data))
    _fails(capsys, _config(tmp_path, folder), img.name, "cannot read")


def test_trailing_bytes_after_images(tmp_path, capsys):
    folder, img, *_ = _folder(tmp_path)
    img.write_bytes(img.read_bytes() + b"\0" * 7)
    _fails(capsys, _config(tmp_path, folder), img.name, "trailing bytes", f"has {60 * 28 * 28 + 7}")


def test_truncated_labels_body(tmp_path, capsys):
    folder, _, lab, *_ = _folder(tmp_path)
    lab.write_bytes(lab.read_bytes()[:-3])
    _fails(capsys, _config(tmp_path, folder), lab.name, "truncated", "needs 60 data bytes, file has 57",
           tmp_path=tmp_path)


def test_corrupt_labels_magic(tmp_path, capsys):
    folder, _, lab, *_ = _folder(tmp_path)
    lab.write_bytes((0x0803).to_bytes(4, "big") + lab.read_bytes()[4:])
    _fails(capsys, _config(tmp_path, folder), lab.name, "bad magic number 0x00000803", f"0x{LABELS_MAGIC:08x}")


@pytest.mark.parametrize("bad", [10, 255])
def test_label_out_of_range(tmp_path, capsys, bad):
    folder, _, lab, *_ = _folder(tmp_path)
    labels = np.frombuffer(lab.read_bytes()[8:], dtype=np.uint8).copy()
    labels[17] = bad  # >= the 10 declared classes
    lab.write_bytes(idx_bytes(labels, LABELS_MAGIC))
    _fails(capsys, _config(tmp_path, folder), lab.name, f"label {bad} at index 17", "[0, 10)", tmp_path=tmp_path)


def test_label_out_of_range_in_the_test_split(tmp_path, capsys):
    folder, *_, t_lab = _folder(tmp_path, t10k=20)
    labels = np.frombuffer(t_lab.read_bytes()[8:], dtype=np.uint8).copy()
    labels[-1] = 12
    t_lab.write_bytes(idx_bytes(labels, LABELS_MAGIC))
    _fails(capsys, _config(tmp_path, folder), t_lab.name, "label 12 at index 19")


def test_fewer_labels_than_images(tmp_path, capsys):
    folder, _, lab, *_ = _folder(tmp_path)
    labels = np.frombuffer(lab.read_bytes()[8:], dtype=np.uint8)
    lab.write_bytes(idx_bytes(labels[:50], LABELS_MAGIC))
    _fails(capsys, _config(tmp_path, folder), lab.name, "50 labels", "60 images", tmp_path=tmp_path)


@pytest.mark.parametrize("partition", ["iid", "dirichlet"])
def test_fewer_samples_than_clients(tmp_path, capsys, partition):
    folder, *_ = _folder(tmp_path, n=30)
    line = _fails(capsys, _config(tmp_path, folder, f"partition: {partition}, num_clients: 40"), tmp_path=tmp_path)
    assert "data." in line and ("30" in line or "40" in line), line


def test_fewer_samples_than_shards(tmp_path, capsys):
    folder, *_ = _folder(tmp_path, n=40)  # 10 clients x 5 shards = 50 shards of a 40-sample pool
    line = _fails(capsys, _config(tmp_path, folder, "partition: shards, num_clients: 10, shards_per_client: 5"))
    assert "shards" in line, line


def test_bundled_digits_with_more_clients_than_samples(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("data: {dataset: digits, partition: iid, num_clients: 2000}\nstop: {sim_time_s: 2}\n")
    line = _fails(capsys, cfg)
    assert "1797" in line or "2000" in line, line


def test_size_overflow_is_reported_exactly(tmp_path, capsys):
    """A header whose dimensions multiply past 2**63 names the true byte count, not a wrapped one."""
    folder, img, lab, *_ = _folder(tmp_path)
    huge = 2**32 - 1
    header = IMAGES_MAGIC.to_bytes(4, "big") + np.array([2, huge, huge], dtype=">u4").tobytes()
    img.write_bytes(header + bytes(100))
    lab.write_bytes(idx_bytes(np.zeros(2, np.uint8), LABELS_MAGIC))
    _fails(capsys, _config(tmp_path, folder, "partition: iid, num_clients: 2"),
           img.name, f"needs {math.prod((2, huge, huge))} data bytes", "has 100")


def test_size_overflow_when_loading(tmp_path):
    from simfl.data.idx import read_idx
    from simfl.errors import DataError

    huge = 2**32 - 1
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(IMAGES_MAGIC.to_bytes(4, "big") + np.array([huge, huge, huge], dtype=">u4").tobytes() + bytes(9))
    with pytest.raises(DataError, match=f"needs {huge**3} data bytes, file has 9"):
        read_idx(path, IMAGES_MAGIC)
