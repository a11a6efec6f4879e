"""What the notebooks' code must and must not do, read from their source (no execution)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("lab*.ipynb"))


def code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    return "".join(cell["source"])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_showcases_take_distinct_dialogues_not_the_first_test_rows(notebook):
    """DialogSum's test split repeats each dialogue three times: its first rows repeat."""
    for source in code_cells(notebook):
        assert not re.search(r"\[\"test\"\]\.select\(range\(", source), source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_lab_takes_the_hub_folder_and_settings_from_its_parameters(notebook):
    cell = parameters_cell(notebook)
    assert 'hub_dir = os.environ.get("LABS_HUB_DIR")' in cell
    assert "settings_overrides = None" in cell
    lab = notebook.name.split("_")[0]
    assert any(f'session.start("{lab}", profile_name, hub_dir, settings_overrides, seed)' in s
               for s in code_cells(notebook))


def test_no_lab_offers_a_checkpoint_that_ships_only_pickled_weights():
    for notebook in NOTEBOOKS:
        text = notebook.read_text()
        assert "truocpham/flan-dialogue-summary-checkpoint" not in text
        assert "use_published_checkpoint" not in text


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_is_short_enough_to_read_as_one_step(notebook):
    """A lesson shows one step per cell; logic longer than this belongs in labs_common."""
    for source in code_cells(notebook):
        lines = [line for line in source.splitlines() if line.strip()]
        assert len(lines) <= 32, f"{len(lines)} lines:\n{source}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_section_records_its_own_figures_and_the_last_one_saves_them(notebook):
    """No cell gathers the whole lab's numbers at the end: sections call lab.record."""
    sources = code_cells(notebook)
    assert sum("lab.record(" in s for s in sources) >= 4
    assert sum("lab.save_results()" in s for s in sources) == 1
    assert not any("record_results(" in s for s in sources)
