"""docs/references.md keeps up with the citations: every cited author and year has a row there.

A citation is "Author et al. YEAR" (the year optional, a venue word may stand before it:
"Li et al., MLSys 2020"), "A & B YEAR", "A, B & C YEAR" or "A, B, C (YEAR)"; "A & B" without a
year counts too. It is covered when a table row of docs/references.md names the first author and,
when the citation has one, the year.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "references.md"
SCANNED = ("simfl/**/*.py", "docs/*.md", "configs/**/*.yaml", "configs/**/*.md", "configs/**/*.py",
           "examples/**/*.py", "examples/**/*.md", "examples/**/*.yaml", "README.md")

_YEAR = r"(?:\(?\s*(?:[A-Z][\w'.]*\s+)?((?:19|20)\d{2})\)?)?"
_ET_AL = re.compile(r"\b([A-Z][A-Za-z\-]+)\s+et\s+al\.(?:'s)?,?\s*" + _YEAR)
#: Names written "A & B" that are products, not authors.
_NOT_AUTHORS = ("Weights & Biases",)
_GROUP = re.compile(r"\b([A-Z][a-z]+)((?:,\s+[A-Z][a-z]+)*\s*(?:&|,)\s*[A-Z][a-z]+)(?:'s)?,?\s*\(?((?:19|20)\d{2})?\)?")


def citations(text: str) -> set[tuple[str, str | None]]:
    """``(first author, year or None)`` of every citation in ``text`` (whitespace-insensitive)."""
    text = re.sub(r"\s+", " ", text)
    for name in _NOT_AUTHORS:
        text = text.replace(name, "")
    found = {(m.group(1), m.group(2)) for m in _ET_AL.finditer(text)}
    for m in _GROUP.finditer(text):
        if "&" in m.group(2) or m.group(3):  # "A, B" alone is prose; "A & B" or a year makes it a citation
            found.add((m.group(1), m.group(3)))
    return found


def table_rows(markdown: str) -> list[str]:
    """The body rows of every table (header and separator rows left out)."""
    rows, previous = [], ""
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-| :]+\|", line):
            if previous.startswith("|"):
                rows.append(line)
            previous = line
        else:
            previous = line if line.startswith("|") else ""
    return rows


def uncovered(cited: set[tuple[str, str | None]], rows: list[str]) -> set[tuple[str, str | None]]:
    """The citations no row covers (first author as a word, and the year when there is one)."""

    def covers(row: str, author: str, year: str | None) -> bool:
        return bool(re.search(rf"\b{re.escape(author)}\b", row)) and (year is None or re.search(rf"\b{year}\b", row))

    return {(a, y) for a, y in cited if not any(covers(row, a, y) for row in rows)}


def scanned_files() -> list[Path]:
    return sorted({p for pattern in SCANNED for p in ROOT.glob(pattern) if p != REFERENCES})


def test_extractor_reads_every_citation_form():
    text = """FedAdam (Reddi et al. 2021), Reddi et al.'s code, (Li et al., MLSys 2020),
    Hsu, Qi & Brown 2019, Kingma & Ba's t, Xie, Koyejo, Gupta (2019), Efraimidis & Spirakis (2006),
    Stripelis et
    al. 2022, McMahan et al.: shards. Not citations: Kaplan–Meier, "Train, Test", Student-t."""
    assert citations(text) == {
        ("Reddi", "2021"), ("Reddi", None), ("Li", "2020"), ("Hsu", "2019"), ("Kingma", None), ("Xie", "2019"),
        ("Efraimidis", "2006"), ("Stripelis", "2022"), ("McMahan", None),
    }


def test_uncovered_names_a_citation_without_its_row():
    rows = ["| `a.py` | Reddi et al. 2021, Algorithm 2 | code | matches |", "| `b.py` | Hsu et al. 2019 | - | matches |"]
    cited = {("Reddi", "2021"), ("Reddi", None), ("Hsu", "2019"), ("Hsu", "2020"), ("Nobody", None)}
    assert uncovered(cited, rows) == {("Hsu", "2020"), ("Nobody", None)}


def test_table_rows_skip_headers_and_separators():
    md = "text\n\n| a | b |\n|---|---|\n| x | y |\n| z | w |\n\n| c |\n|---|\n| v |\n"
    assert table_rows(md) == ["| x | y |", "| z | w |", "| v |"]


def test_every_citation_has_a_row_in_references():
    rows = table_rows(REFERENCES.read_text())
    missing = {}
    for path in scanned_files():
        for author, year in uncovered(citations(path.read_text(encoding="utf-8")), rows):
            missing.setdefault(f"{author} {year or '(no year)'}", []).append(str(path.relative_to(ROOT)))
    assert not missing, "cited without a row in docs/references.md: " + "; ".join(
        f"{who} in {', '.join(sorted(set(where)))}" for who, where in sorted(missing.items())
    )


@pytest.mark.parametrize("row", table_rows(REFERENCES.read_text()), ids=lambda r: r[:60])
def test_where_column_names_existing_files(row):
    where = row.split("|")[1]
    for path in re.findall(r"`([\w./-]+\.(?:py|md|yaml))`", where):
        assert (ROOT / path).exists(), f"docs/references.md names {path}, which does not exist"
