from labs_common import runner


def test_notebooks_are_found_in_order(tmp_path):
    for name in ("lab2_b.ipynb", "lab1_a.ipynb", ".hidden.ipynb", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in runner.notebooks(tmp_path)] == ["lab1_a.ipynb", "lab2_b.ipynb"]


def test_summary_table_shows_seconds_and_headlines():
    results = {
        "profile": "tiny",
        "lab1": {"rouge1": {"no_prompt": 0.12, "zero_shot": 0.31}},
        "lab2": {"rouge1": {"full": 0.5}},
        "seconds": {"lab1": 61.0},
    }
    table = runner.summary_table(results)
    lines = table.splitlines()
    assert lines[0].startswith("profile: tiny")
    assert "lab1" in lines[1] and "61.0 s" in lines[1] and "rouge1.zero_shot=0.310" in lines[1]
    assert "lab2" in lines[2] and "nan s" in lines[2] and "rouge1.full=0.500" in lines[2]
