"""Where the labs read and write (labs_common.paths): the repository's folders by default,
each one moved by its environment variable, and each profile's results in a file of its own."""

from __future__ import annotations

import pytest

from labs_common import paths


def test_by_default_everything_lives_in_the_repository(monkeypatch):
    for variable in ("LABS_DATA_DIR", "LABS_BUILD_DIR", "LABS_RESULTS"):
        monkeypatch.delenv(variable, raising=False)
    root = paths.REPO_ROOT
    assert (root / "labs_common" / "paths.py").is_file()
    assert paths.data_dir() == root / "data"
    assert paths.tiny_model_dir("flan-t5-tiny") == root / "data/tiny/models/flan-t5-tiny"
    assert paths.results_path("tiny") == root / "build" / "labs" / "results-tiny.json"
    assert paths.lab2_adapter_dir("tiny") == root / "build" / "adapters" / "tiny" / "lab2-lora"


def test_environment_variables_move_the_data_and_the_build(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path / "out"))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    assert paths.tiny_dir() == tmp_path / "shipped" / "tiny"
    assert paths.lab2_adapter_dir("full") == tmp_path / "out" / "adapters" / "full" / "lab2-lora"


def test_each_profile_has_its_own_results_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    assert paths.results_path("tiny") == tmp_path / "labs" / "results-tiny.json"
    assert paths.results_path("full") == tmp_path / "labs" / "results-full.json"


def test_labs_results_overrides_the_file_whatever_the_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_RESULTS", str(tmp_path / "run.json"))
    assert paths.results_path("tiny") == paths.results_path("full") == tmp_path / "run.json"
    monkeypatch.setenv("LABS_RESULTS", "")  # set but empty: as if unset
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    assert paths.results_path("full") == tmp_path / "labs" / "results-full.json"


@pytest.mark.parametrize("name", ["", None, "../tiny", "full/x", "Full", ".hidden"])
def test_a_results_file_is_named_only_after_a_profile_name(name):
    with pytest.raises(ValueError, match="Not a profile name"):
        paths.results_path(name)
