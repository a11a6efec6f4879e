"""What each lab needs (labs_common.lab_needs): every figure has a source, measured ones are the
benchmarks' own, and the settings to lower exist and size batches."""

import dataclasses
import re
from pathlib import Path

from labs_common.lab_needs import LABS, MEMORY_SETTINGS, NEEDS, REFERENCE_HARDWARE
from labs_common.profiles import PROFILE_NAMES, get_profile

ROOT = Path(__file__).resolve().parents[1]


def test_every_profile_and_lab_has_figures_with_their_source():
    assert set(NEEDS) == set(PROFILE_NAMES) == set(REFERENCE_HARDWARE)
    for profile in PROFILE_NAMES:
        assert set(NEEDS[profile]) == set(LABS)
        for needs in NEEDS[profile].values():
            for field in dataclasses.fields(needs):
                figure = getattr(needs, field.name)
                assert figure.value > 0 and len(figure.source) > 10


def test_lab4_is_estimates_only():
    for profile in PROFILE_NAMES:
        needs = NEEDS[profile]["lab4"]
        assert not any(getattr(needs, f.name).measured for f in dataclasses.fields(needs))


def test_measured_figures_are_the_benchmarks_own():
    """A figure marked measured must appear, with its unit, in benchmarks/README.md."""
    benchmarks = (ROOT / "benchmarks" / "README.md").read_text()
    measured = [getattr(needs, f.name) for profile in NEEDS.values() for needs in profile.values()
                for f in dataclasses.fields(needs) if getattr(needs, f.name).measured]
    assert measured  # Lab 2's peak, at least
    for figure in measured:
        assert re.search(rf"\b{figure.value:.2f} GiB", benchmarks), figure


def test_the_settings_to_lower_exist_and_size_batches():
    full = get_profile("full")
    assert set(MEMORY_SETTINGS) == set(LABS)
    for lab, settings in MEMORY_SETTINGS.items():
        assert settings, lab
        for section, name, what in settings:
            value = getattr(getattr(full, section), name)
            assert isinstance(value, int) and value >= 2 and "batch" in name, (lab, name)
            assert what
