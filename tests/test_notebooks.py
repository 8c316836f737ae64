"""The chapters are committed as source: no outputs, no execution counts, and they are all in the book."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_there_are_chapters():
    assert CHAPTERS, "chapters/ holds no notebook"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_committed_without_outputs(path: Path):
    notebook = json.loads(path.read_text())
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} hold outputs or execution counts; clear them with "
        f"`jupyter nbconvert --clear-output --inplace {path.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_chapter_is_in_the_table_of_contents(path: Path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: chapters/{path.stem}\n" in toc, f"{path.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_first_code_cell_seeds(path: Path):
    notebook = json.loads(path.read_text())
    first_code = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert "seed_everything(" in "".join(first_code["source"]), (
        f"{path.name}: the first code cell should seed every generator with cnnlib.seed_everything"
    )


# A literal seed in a chapter ignores CNN_BOOK_SEED: the chapter would check its claims under one seed only.
HARD_CODED_SEED = re.compile(
    r"seed_everything\(\s*\d|manual_seed\(\s*\d|default_rng\(\s*\d|\bseed\s*=\s*\d|for\s+seed\s+in\s*[(\[]\s*\d"
)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_every_seed_derives_from_the_book_seed(path: Path):
    notebook = json.loads(path.read_text())
    found = [
        f"cell {index}: {line.strip()}"
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if HARD_CODED_SEED.search(line.split("#")[0])
    ]
    assert not found, (
        f"{path.name} seeds with a literal number, which CNN_BOOK_SEED cannot move; use cnnlib.book_seed(k) "
        "(or leave seed= out, which takes the book's seed):\n" + "\n".join(found)
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.name)
def test_progress_bars_go_through_cnnlib(path: Path):
    # tqdm.auto draws a widget, which the built (static, offline) page shows stuck at 0%; cnnlib.progress draws text
    # there (tasks.py book sets CNN_BOOK_PLAIN_PROGRESS) and a widget in JupyterLab.
    notebook = json.loads(path.read_text())
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert not any(re.search(r"\bimport tqdm\b|from tqdm\b", source) for source in sources), (
        f"{path.name} imports tqdm directly; draw progress bars with cnnlib.progress(...)"
    )
