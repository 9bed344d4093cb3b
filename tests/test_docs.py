"""The configuration reference is generated from the schema and must be up to date."""

from pathlib import Path

import pytest

from simfl.config.docs import render
from simfl.config.schema import Config

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current():
    assert (ROOT / "docs" / "config.md").read_text() == render(), "run: python -m simfl.config.docs > docs/config.md"


def test_every_key_is_documented():
    def walk(cls):
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"
            ann = field.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)

    walk(Config)


def test_default_factory_fields_render_their_factory_value():
    from pydantic import BaseModel, Field

    from simfl.config.docs import _default

    class Section(BaseModel):
        events: list[int] = Field(default_factory=list, description="d")
        table: dict[str, int] = Field(default_factory=lambda: {"a": 1}, description="d")

    assert [_default(f, False) for f in Section.model_fields.values()] == ["`[]`", "`{a: 1}`"]
    text = render()
    assert "PydanticUndefined" not in text
    assert "| `data.drift` | `[]` |" in text


def test_presets_readme_is_one_table_listing_every_preset():
    import fnmatch
    import re

    lines = (ROOT / "configs" / "README.md").read_text().splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert rows == list(range(rows[0], rows[0] + len(rows))), "the presets table is split by a non-table line"
    named = [name for line in lines[rows[0] + 2 : rows[-1] + 1] for name in re.findall(r"`([^`]+\.yaml)`", line.split("|")[1])]
    presets = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    for name in named:
        assert fnmatch.filter(presets, name), f"configs/README.md names {name}, which matches no preset"
    unlisted = [p for p in presets if not any(fnmatch.fnmatch(p, name) for name in named)]
    assert not unlisted, f"configs/README.md does not list {unlisted}"


@pytest.mark.parametrize("argv, message", [
    (["algorithm", "mymethod:MyAsync"], "no module named 'mymethod'"),
    (["algorithm", "fedasnc"], "did you mean 'fedasync'"),
    (["algorithmz", "fedasync"], "unknown kind 'algorithmz'"),
])
def test_component_docs_on_a_bad_name_is_one_line(argv, message, capsys):
    from simfl.config.docs import main as docs_main

    assert docs_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_no_merge_conflict_markers_are_left_in_the_tree():
    """A merge that committed a file with its conflict markers left in (docs are not imported, so
    nothing else would notice)."""
    markers = ("<<<<<<< ", ">>>>>>> ")
    files = [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("simfl/**/*.py"), *ROOT.glob("tests/**/*.py"),
             *ROOT.glob("examples/**/*"), *ROOT.glob("configs/**/*.yaml")]
    bad = [str(f.relative_to(ROOT)) for f in files if f.is_file() and f.suffix in (".md", ".py", ".yaml")
           and any(line.startswith(markers) for line in f.read_text(encoding="utf-8").splitlines())]
    assert not bad, f"conflict markers left in {', '.join(bad)}"
