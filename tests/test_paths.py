"""Where the labs read and write (labs_common.paths): the repository's folders by default,
each one moved by its environment variable."""

from __future__ import annotations

from labs_common import paths


def test_by_default_everything_lives_in_the_repository(monkeypatch):
    for variable in ("LABS_DATA_DIR", "LABS_BUILD_DIR", "LABS_RESULTS"):
        monkeypatch.delenv(variable, raising=False)
    root = paths.REPO_ROOT
    assert (root / "labs_common" / "paths.py").is_file()
    assert paths.data_dir() == root / "data"
    assert paths.tiny_model_dir("flan-t5-tiny") == root / "data/tiny/models/flan-t5-tiny"
    assert paths.results_path() == root / "build" / "labs" / "results.json"
    assert paths.lab2_adapter_dir("tiny") == root / "build" / "adapters" / "tiny" / "lab2-lora"


def test_environment_variables_move_the_data_the_build_and_the_results(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path / "out"))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    assert paths.tiny_dir() == tmp_path / "shipped" / "tiny"
    assert paths.results_path() == tmp_path / "out" / "labs" / "results.json"  # follows the build
    assert paths.lab2_adapter_dir("full") == tmp_path / "out" / "adapters" / "full" / "lab2-lora"
    monkeypatch.setenv("LABS_RESULTS", str(tmp_path / "elsewhere.json"))
    assert paths.results_path() == tmp_path / "elsewhere.json"
