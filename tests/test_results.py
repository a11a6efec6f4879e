import json
import math

import pytest

from labs_common import results


def test_record_merges_labs_and_nested_figures(tmp_path):
    path = tmp_path / "results.json"
    results.record_results(
        "lab1", {"rouge1": {"no_prompt": 0.1}}, profile="tiny", seed=0, path=path
    )
    results.record_results("lab1", {"rouge1": {"zero_shot": 0.3}}, profile="tiny", path=path)
    results.record_results(
        "lab2", {"rouge1": {"full": 0.5}}, profile="tiny", seconds=12.34, path=path
    )
    data = json.loads(path.read_text())
    assert data["profile"] == "tiny"
    assert data["lab1"]["rouge1"] == {"no_prompt": 0.1, "zero_shot": 0.3}
    assert data["lab2"]["rouge1"]["full"] == 0.5
    assert data["seconds"]["lab2"] == 12.3
    assert data["meta"]["lab1"]["seed"] == 0
    assert "transformers" in data["meta"]["lab1"]["versions"]


@pytest.fixture
def build(monkeypatch, tmp_path):
    """A build folder of its own, with each profile's default results file."""
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    return tmp_path


def test_a_full_run_leaves_the_tiny_results_in_place(build):
    for lab in ("lab1", "lab2", "lab3"):
        results.record_results(lab, {"rouge1": {"x": 0.25}}, profile="tiny", seconds=60)
    tiny_file = build / "labs" / "results-tiny.json"
    before = tiny_file.read_bytes()
    results.record_results("lab1", {"rouge1": {"x": 0.5}}, profile="full", seconds=600)
    assert tiny_file.read_bytes() == before
    tiny = results.load_results(profile="tiny")
    assert tiny["profile"] == "tiny"
    assert [tiny[lab]["rouge1"]["x"] for lab in ("lab1", "lab2", "lab3")] == [0.25] * 3
    full = results.load_results(build / "labs" / "results-full.json")
    assert full["profile"] == "full" and full["lab1"]["rouge1"]["x"] == 0.5
    assert "lab2" not in full and full["seconds"] == {"lab1": 600.0}


def test_labs_results_names_the_file_of_a_run(build, monkeypatch):
    chosen = build / "elsewhere" / "mine.json"
    monkeypatch.setenv("LABS_RESULTS", str(chosen))
    results.record_results("lab2", {"y": 2.0}, profile="full")
    assert results.load_results(chosen)["lab2"] == {"y": 2.0}
    assert results.load_results(profile="full") == results.load_results(chosen)
    assert not (build / "labs").exists()


def test_a_file_holding_another_profile_is_refused_not_replaced(build, monkeypatch):
    path = build / "shared.json"
    results.record_results("lab1", {"x": 1.0}, profile="tiny", path=path)
    before = path.read_bytes()
    with pytest.raises(results.ResultsError, match="'tiny' profile's results"):
        results.record_results("lab1", {"x": 2.0}, profile="full", path=path)
    monkeypatch.setenv("LABS_RESULTS", str(path))
    with pytest.raises(results.ResultsError, match="Unset LABS_RESULTS"):
        results.record_results("lab2", {"y": 2.0}, profile="full")
    assert path.read_bytes() == before


def test_loading_needs_a_file_or_a_profile(build):
    assert results.load_results(profile="full") == {}
    with pytest.raises(TypeError, match="path or a profile"):
        results.load_results()


def test_numpy_and_torch_scalars_become_plain_numbers(tmp_path):
    import numpy as np
    import torch

    entry = results.record_results(
        "lab1",
        {"a": np.float32(0.5), "b": torch.tensor(2), "ci": (np.float64(-1), 1)},
        profile="tiny",
        path=tmp_path / "r.json",
    )
    assert entry == {"a": 0.5, "b": 2, "ci": [-1.0, 1]}


def test_non_finite_figures_are_refused(tmp_path):
    with pytest.raises(ValueError, match="non-finite"):
        results.record_results("lab1", {"a": math.nan}, profile="tiny", path=tmp_path / "r.json")


def test_flatten_and_format():
    figures = {"rouge1": {"full": 0.123456, "lora": 0.1}, "seeds": [0.11111, 2]}
    assert results.flatten(figures) == {
        "rouge1.full": 0.123456,
        "rouge1.lora": 0.1,
        "seeds": [0.11111, 2],
    }
    text = results.format_results(figures)
    assert "rouge1.full  0.1235" in text and "[0.1111, 2]" in text
