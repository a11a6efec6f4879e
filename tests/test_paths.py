"""Where the labs write: each profile's results in a file of its own."""

import pytest

from labs_common import paths


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
