"""``simfl docs [KIND [NAME]]``: the config reference, a kind's names, one component's keys (a plugin too)."""

import subprocess
import sys
import textwrap

import pytest

import simfl.registry as registry
from simfl.cli import main
from simfl.config.docs import render

PLUGIN = textwrap.dedent('''
    from simfl.api import Field, StalenessFunction


    class LinearCutoff(StalenessFunction):
        """s(tau) = max(floor, 1 - slope tau): a linear fall to a floor."""

        slope: float = Field(0.25, gt=0, description="weight lost per version of staleness")
        floor: float = Field(0.1, gt=0, le=1, description="the smallest weight")

        def __call__(self, tau):
            return max(self.floor, 1.0 - self.slope * tau)
''')


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_plugins_keys_are_its_fields_defaults_and_descriptions(tmp_path, capsys):
    (tmp_path / "my_rules.py").write_text(PLUGIN)
    code, out, err = _run(["docs", "staleness", "my_rules:LinearCutoff", "--dir", str(tmp_path)], capsys)
    assert code == 0 and err == ""
    assert out.startswith("## `my_rules:LinearCutoff`\n\ns(tau) = max(floor, 1 - slope tau): a linear fall to a floor.")
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert rows == ["| `slope` | `0.25` | weight lost per version of staleness |",
                    "| `floor` | `0.1` | the smallest weight |"]


def test_the_plugin_is_found_in_the_current_folder_by_default(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_rules.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["docs", "algorithm.staleness", "my_rules:LinearCutoff"], capsys)
    assert code == 0 and "| `floor` |" in out


@pytest.mark.parametrize("kind", list(registry.KINDS))
def test_a_kind_lists_every_registered_name(kind, capsys):
    code, out, _ = _run(["docs", kind], capsys)
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert listed == registry.names(kind)


def test_the_config_key_names_its_kind(capsys):
    code, by_key, _ = _run(["docs", registry.KINDS["selection"], "oort"], capsys)
    assert code == 0 and "| `cut_off` |" in by_key
    assert by_key == _run(["docs", "selection", "oort"], capsys)[1]


def test_no_argument_is_the_whole_reference(capsys):
    code, out, _ = _run(["docs"], capsys)
    assert code == 0 and out == render()


@pytest.mark.parametrize("argv, message", [
    (["docs", "stalness"], "KIND: unknown kind 'stalness' (did you mean 'staleness'?)"),
    (["docs", "staleness", "polynomiall"], "did you mean 'polynomial'?"),
    (["docs", "staleness", "nowhere_mod:X"], "no module named 'nowhere_mod'"),
    (["docs", "staleness", "my_rules:Nope"], "my_rules:Nope"),
    (["docs", "staleness", "my_rules:LinearCutoff", "--dir", "missing-folder"], "--dir missing-folder: not a folder"),
])
def test_a_bad_kind_or_name_is_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "my_rules.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("simfl docs: error: ") and message in err


def test_the_console_command_prints_no_traceback(tmp_path):
    """The real process: a module that raises at import is one line too."""
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    proc = subprocess.run([sys.executable, "-m", "simfl.cli", "docs", "staleness", "broken:X", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "boom at import" in proc.stderr
