"""The preflight: every branch on made-up runtimes, so that a CPU tests what a GPU would meet."""

import ast
import dataclasses
import math
from types import SimpleNamespace

import pytest

from labs_common import preflight
from labs_common.lab_needs import GPU_HEADROOM_GIB, LABS, MEMORY_SETTINGS, NEEDS, Needs
from labs_common.preflight import PreflightError
from labs_common.profiles import ProfileError, get_profile
from labs_common.runtime import GIB, Runtime

# What Colab's free tier reports: a T4 (torch's total_memory) and 12.7 GB of RAM.
COLAB_T4 = Runtime(in_colab=True, device="cuda", gpu_name="Tesla T4",
                   gpu_memory_bytes=15_828_320_256, compute_capability=(7, 5),
                   ram_bytes=13_605_851_136, free_disk_bytes=80 * GIB,
                   hub_cache_free_bytes=80 * GIB, gpu_free_bytes=15_600_000_000)
COLAB_CPU = Runtime(in_colab=True, device="cpu", ram_bytes=13_605_851_136,
                    free_disk_bytes=80 * GIB, hub_cache_free_bytes=80 * GIB)
LAPTOP = Runtime(in_colab=False, device="cpu", ram_bytes=16 * GIB, free_disk_bytes=50 * GIB,
                 hub_cache_free_bytes=50 * GIB)
SMALL_GPU = Runtime(in_colab=False, device="cuda", gpu_name="NVIDIA GeForce RTX 3070",
                    gpu_memory_bytes=8 * GIB, compute_capability=(8, 6), ram_bytes=32 * GIB,
                    free_disk_bytes=50 * GIB, hub_cache_free_bytes=50 * GIB,
                    gpu_free_bytes=8 * GIB)


@pytest.fixture(autouse=True)
def build(monkeypatch, tmp_path):
    """Each test with a build folder of its own and no LABS_* variables from outside."""
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    for name in ("LABS_RESULTS", "LABS_PROFILE", "LABS_AS_T4"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def suggested_overrides(message: str) -> dict:
    (line,) = [line for line in message.splitlines() if "settings_overrides = " in line]
    return ast.literal_eval(line.split("settings_overrides = ", 1)[1])


# --------------------------------------------------------------------------- tiny


def test_tiny_on_a_cpu_says_so_in_one_line_and_goes_on():
    report = preflight.check("tiny", "lab2", LAPTOP)
    text = str(report)
    assert "\n" not in text
    assert "lab2 on the tiny profile" in text and "CPU" in text
    assert "about 3 min (estimate)" in text and "16.0 GiB RAM" in text
    assert report.warnings == ()


def test_tiny_in_colab_without_a_gpu_goes_on_too():
    assert "\n" not in str(preflight.check("tiny", "lab1", COLAB_CPU))


def test_tiny_on_a_gpu_shows_the_table():
    lines = str(preflight.check("tiny", "lab3", COLAB_T4)).splitlines()
    assert len(lines) > 5 and any(line.split()[:2] == ["GPU", "Tesla"] for line in lines)


def test_the_profile_comes_from_labs_profile_when_not_given(monkeypatch):
    monkeypatch.setenv("LABS_PROFILE", "full")
    with pytest.raises(PreflightError, match="Change runtime type"):
        preflight.check(None, "lab1", COLAB_CPU)


# --------------------------------------------------------------------------- full: stops


@pytest.mark.parametrize("lab", LABS)
def test_full_in_colab_without_a_gpu_stops_and_says_how_to_switch(lab):
    with pytest.raises(PreflightError) as stop:
        preflight.check("full", lab, COLAB_CPU)
    message = str(stop.value)
    assert isinstance(stop.value, RuntimeError)
    assert f"Lab {lab[-1]} on the full profile needs a GPU" in message
    assert "Runtime → Change runtime type" in message and "T4 GPU" in message
    assert 'profile_name = "tiny"' in message


@pytest.mark.parametrize("lab", ["lab2", "lab3", "lab4"])
def test_full_on_a_small_gpu_stops_and_names_the_settings_to_lower(lab):
    with pytest.raises(PreflightError) as stop:
        preflight.check("full", lab, SMALL_GPU)
    message = str(stop.value)
    assert "settings_overrides" in message and "NVIDIA GeForce RTX 3070" in message
    assert f"{NEEDS['full'][lab].gpu_memory_gib.value:.3g} GiB" in message
    for section, name, _ in MEMORY_SETTINGS[lab]:
        assert f"{section}.{name} (" in message
    # The suggestion is what the parameters cell takes, and it lowers every setting it names.
    suggestion = suggested_overrides(message)
    full = get_profile("full")
    lowered = full.with_settings(**suggestion)
    for section, values in suggestion.items():
        for name, value in values.items():
            assert getattr(getattr(lowered, section), name) == value
            assert value < getattr(getattr(full, section), name)


def test_the_stop_says_the_figure_is_fp32_on_a_gpu_with_bf16():
    with pytest.raises(PreflightError, match="with this GPU's bf16 the lab needs less"):
        preflight.check("full", "lab2", SMALL_GPU)
    old = dataclasses.replace(SMALL_GPU, compute_capability=(7, 5))
    with pytest.raises(PreflightError) as stop:
        preflight.check("full", "lab2", old)
    assert "bf16" not in str(stop.value)


def test_the_stop_follows_the_labs_peak_and_cudas_share():
    need = NEEDS["full"]["lab2"].gpu_memory_gib.value + GPU_HEADROOM_GIB
    enough = dataclasses.replace(SMALL_GPU, gpu_memory_bytes=math.ceil(need * GIB),
                                 gpu_free_bytes=math.ceil(need * GIB))
    preflight.check("full", "lab2", enough)
    short = dataclasses.replace(enough, gpu_memory_bytes=math.ceil(need * GIB) - 2**20)
    with pytest.raises(PreflightError):
        preflight.check("full", "lab2", short)
    # The peak alone would fit: CUDA's own share is what is missing.
    peak_only = dataclasses.replace(
        enough, gpu_memory_bytes=int(NEEDS["full"]["lab2"].gpu_memory_gib.value * GIB) + 2**20)
    with pytest.raises(PreflightError):
        preflight.check("full", "lab2", peak_only)


def test_lab1_fits_a_small_gpu():
    report = preflight.check("full", "lab1", SMALL_GPU)
    assert report.warnings == ()


def test_settings_already_lowered_turn_the_stop_into_a_warning():
    report = preflight.check("full", "lab2", SMALL_GPU,
                             settings_overrides={"lab2": {"batch_size": 4}})
    (warning,) = report.warnings
    assert "lab2.batch_size = 4" in warning and "going on" in warning
    # Lab 3 trains Lab 2's adapter when it finds none: Lab 2's batch counts there too.
    report = preflight.check("full", "lab3", SMALL_GPU,
                             settings_overrides={"lab2": {"batch_size": 2}, "lab1": None})
    assert "lab2.batch_size = 2" in report.warnings[0]


@pytest.mark.parametrize("overrides", [
    None,
    {"lab2": {"full_steps": 10}},  # not a batch size
    {"lab2": {"batch_size": 8}},  # the profile's own value
    {"lab2": {"batch_size": 16}},  # larger
    {"lab3": {"dpo_batch_size": 2}},  # another lab's
    {"lab2": None},
])
def test_overrides_that_lower_no_batch_still_stop(overrides):
    with pytest.raises(PreflightError):
        preflight.check("full", "lab2", SMALL_GPU, settings_overrides=overrides)


# --------------------------------------------------------------------------- full: goes on


def test_full_on_a_colab_t4_goes_on_with_a_table():
    report = preflight.check("full", "lab2", COLAB_T4)
    assert report.warnings == ()
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == "preflight: lab2 on the full profile"
    (gpu,) = [line for line in lines if line.split()[:1] == ["GPU"]]
    assert "Tesla T4, 14.7 GiB, capability 7.5" in gpu and "10.7 GiB at its peak (measured)" in gpu
    (bf16,) = [line for line in lines if line.split()[:1] == ["bf16"]]
    assert "emulated only" in bf16
    assert "about 30 min on a Colab T4 (estimate)" in text
    assert "12.7 GiB" in text  # Colab's RAM, and no warning about it
    assert report.results_file.name == "results-full.json" and "results-full.json" in text
    # every figure's source is printed beside the table
    for field in dataclasses.fields(Needs):
        figure = getattr(NEEDS["full"]["lab2"], field.name)
        assert f"{figure.kind}: {figure.source}" in text


def test_full_on_a_big_gpu_says_bf16_is_real():
    big = dataclasses.replace(SMALL_GPU, gpu_name="NVIDIA A100-SXM4-40GB",
                              gpu_memory_bytes=40 * GIB, gpu_free_bytes=40 * GIB,
                              compute_capability=(8, 0))
    report = preflight.check("full", "lab3", big)
    assert report.warnings == () and "real: trains with bf16 autocast" in str(report)


def test_full_on_a_cpu_outside_colab_warns_that_it_is_slow_and_goes_on():
    report = preflight.check("full", "lab2", dataclasses.replace(LAPTOP, ram_bytes=64 * GIB))
    (warning,) = report.warnings
    assert warning.startswith("no GPU: the full profile runs on this CPU, very slowly")


def test_without_a_gpu_the_labs_gpu_share_comes_on_top_of_its_ram():
    # 16 GiB is enough for Lab 2's host share (7 GiB), not for that and its GPU peak too.
    report = preflight.check("full", "lab2", LAPTOP)
    ram = [w for w in report.warnings if "of RAM" in w]
    assert len(ram) == 1 and "17.7 GiB" in ram[0] and "GPU share included" in ram[0]
    assert not [w for w in preflight.check("full", "lab2", COLAB_T4).warnings if "RAM" in w]


def test_a_gpu_run_as_a_t4_trains_in_fp32():
    as_t4 = dataclasses.replace(COLAB_T4, gpu_name="NVIDIA H200", compute_capability=(9, 0),
                                as_t4=True)
    assert "off, run as a T4" in str(preflight.check("full", "lab2", as_t4))


def test_another_process_holding_the_gpu_is_a_warning():
    busy = dataclasses.replace(COLAB_T4, gpu_free_bytes=3 * GIB)
    (warning,) = preflight.check("full", "lab2", busy).warnings
    assert "only 3.0 GiB" in warning and "another process" in warning
    assert preflight.check("full", "lab1", busy).warnings == ()  # Lab 1 fits in 3 GiB


# --------------------------------------------------------------------------- RAM and disk


def test_low_ram_is_a_warning_not_a_stop():
    report = preflight.check("tiny", "lab1", dataclasses.replace(LAPTOP, ram_bytes=GIB))
    assert len(report.warnings) == 1 and "1.0 GiB of RAM" in report.warnings[0]
    assert str(report).splitlines()[1].startswith("  warning: ")


@pytest.mark.parametrize("field", ["free_disk_bytes", "hub_cache_free_bytes"])
def test_low_disk_is_a_warning_not_a_stop(field):
    runtime = dataclasses.replace(COLAB_T4, **{field: GIB // 2})
    (warning,) = preflight.check("full", "lab3", runtime).warnings
    assert "0.5 GiB free" in warning and "about 4 GiB" in warning
    enough = dataclasses.replace(COLAB_T4, **{field: 5 * GIB})
    assert preflight.check("full", "lab3", enough).warnings == ()


def test_unknown_ram_and_disk_are_shown_as_unknown_without_warnings():
    runtime = Runtime(in_colab=False, device="cpu")
    report = preflight.check("tiny", "lab1", runtime)
    assert report.warnings == () and "unknown RAM" in str(report)


# --------------------------------------------------------------------------- results file


def test_a_results_file_holding_another_profile_stops_before_anything_runs(build, monkeypatch):
    from labs_common.results import record_results

    shared = build / "mine.json"
    record_results("lab1", {"x": 1.0}, profile="tiny", path=shared)
    monkeypatch.setenv("LABS_RESULTS", str(shared))
    with pytest.raises(PreflightError, match="'tiny' profile's results"):
        preflight.check("full", "lab1", COLAB_T4)
    assert preflight.check("tiny", "lab1", LAPTOP).results_file == shared


def test_unknown_labs_and_profiles_are_refused():
    with pytest.raises(ValueError, match="No lab named 'lab5'"):
        preflight.check("tiny", "lab5", LAPTOP)
    with pytest.raises(ProfileError, match="Unknown profile"):
        preflight.check("huge", "lab1", LAPTOP)


def test_the_report_shows_as_text_in_ipython():
    printed = []
    preflight.check("tiny", "lab1", LAPTOP)._repr_pretty_(
        SimpleNamespace(text=printed.append), cycle=False)
    assert printed == [str(preflight.check("tiny", "lab1", LAPTOP))]
