"""Inputs that used to be accepted silently are one-line errors (issue 21, item 7)."""

from __future__ import annotations

import pytest

from simfl.cli import main
from simfl.plots.style import resolve_style


@pytest.mark.parametrize("command", ["run", "validate"])
def test_dry_run_does_not_hide_a_bad_train_enabled(command, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  enabled: maybe\n")
    args = [command, str(cfg), "--dry-run"] + (["--out", str(tmp_path / "run")] if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.enabled: 'maybe' is not true or false" in err
    assert not (tmp_path / "run").exists()
    # the same through --set, and a good value still runs as a dry run
    cfg.write_text("train:\n  enabled: true\n")
    assert main(["validate", str(cfg), "--set", "train.enabled=sometimes", "--dry-run"]) == 2
    assert "train.enabled: 'sometimes'" in capsys.readouterr().err
    assert main(["validate", str(cfg), "--dry-run"]) == 0


def test_a_file_that_is_not_a_style_is_refused(tmp_path):
    bad = tmp_path / "bad.mplstyle"
    bad.write_text("hello world\nnot_a_key: 3\n")
    with pytest.raises(ValueError, match="not a matplotlib style file: Missing colon"):
        resolve_style(str(bad))
    good = tmp_path / "good.mplstyle"
    good.write_text("axes.grid: True\nlines.linewidth: 2\n")
    assert resolve_style(str(good)) == str(good)


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    """simfl sweep on a full disk: the OSError of writing the lock file is one line, not a traceback."""
    import errno
    import os

    import simfl.results.sweepdir

    sweep = tmp_path / "s.yaml"
    sweep.write_text("base:\n  data: {num_clients: 12}\n  stop: {sim_time_s: 2}\ngrid:\n  algorithm.type: [fedasync]\n"
                     "seeds: 1\n")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(simfl.results.sweepdir.os, "write", full)
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--dry-run"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and err.startswith("simfl sweep: error:")
