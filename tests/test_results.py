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


def test_a_new_profile_starts_a_new_file(tmp_path):
    path = tmp_path / "results.json"
    results.record_results("lab1", {"x": 1.0}, profile="tiny", path=path)
    results.record_results("lab2", {"y": 2.0}, profile="full", path=path)
    data = results.load_results(path)
    assert data["profile"] == "full" and "lab1" not in data


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
