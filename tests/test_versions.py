"""The pure parts of labs_tools.versions: ranges, pytest's and papermill's output, the table."""

import json
from pathlib import Path

import pytest

from labs_tools import versions
from labs_tools.versions import (
    Check,
    Report,
    first_error_line,
    lower_bound,
    newest_requirements,
    oldest_requirements,
    parse_junit,
    parse_pytest_summary,
    pinned_only_deselections,
    read_pins,
    render_table,
    split_requirement,
    upper_bound,
    version_key,
    version_note,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("requirement", "expected"), [
    ("trl>=1.10,<2", ("trl", ">=1.10,<2")),
    ("rouge_score >= 0.1.2", ("rouge_score", ">=0.1.2")),
    ("llm-labs[qlora]>=0.1 ; sys_platform == 'linux'", ("llm-labs", ">=0.1")),
    ("numpy", ("numpy", "")),
])
def test_split_requirement(requirement, expected):
    assert split_requirement(requirement) == expected


@pytest.mark.parametrize(("specifier", "low", "high"), [
    (">=5.23,<6", "5.23", "6"),
    ("<2.15,>=2.4", "2.4", "2.15"),
    ("==0.21.2", "0.21.2", None),
    ("~=1.4", "1.4", None),
    (">1.0", None, None),
    ("<=3", None, None),
    ("", None, None),
])
def test_lower_and_upper_bounds(specifier, low, high):
    assert lower_bound(specifier) == low
    assert upper_bound(specifier) == high


def test_version_key_orders_releases_not_strings():
    assert version_key("2.13.0+cpu") == (2, 13)
    assert version_key("5.0") == version_key("5.0.0") == (5,)
    assert version_key("0.9") < version_key("0.21.2") < version_key("1.0rc1")
    with pytest.raises(ValueError):
        version_key("main")


def test_oldest_keeps_every_range_but_torchs():
    dependencies = {"torch": ">=2.4,<2.15", "transformers": ">=5.23,<6", "numpy": ">=2.0"}
    assert oldest_requirements(dependencies) == ["transformers>=5.23,<6", "numpy>=2.0"]


def test_newest_frees_the_hugging_face_stack_and_pins_the_rest():
    dependencies = {"torch": ">=2.4", "transformers": ">=5.23,<6", "huggingface_hub": ">=1.31",
                    "numpy": ">=2.0", "somethingelse": ">=1"}
    pins = {"transformers": "5.23.0", "huggingface-hub": "2.4.0", "numpy": "2.4.6"}
    assert newest_requirements(dependencies, pins) == [
        "transformers", "huggingface_hub", "numpy==2.4.6", "somethingelse>=1"]


def test_the_project_s_ranges_and_pins_read_as_the_tool_reads_them():
    dependencies = versions.project_dependencies()
    pins = read_pins(ROOT / "requirements.txt")
    assert dependencies["transformers"].startswith(">=")
    assert "torch" not in pins and pins["transformers"].count(".") == 2
    # every direct dependency has a row in the table
    listed = {versions.normalize(name) for name in versions.LIBRARIES}
    assert {versions.normalize(name) for name in dependencies} <= listed
    assert set(versions.HF_STACK) <= set(dependencies)


def test_read_pins_refuses_a_range(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# a comment\nnumpy==2.4.6  # why\n\n")
    assert read_pins(path) == {"numpy": "2.4.6"}
    path.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        read_pins(path)


def test_pytest_summary_line():
    text = ("....F\n=== short test summary info ===\nFAILED tests/test_a.py::test_x\n"
            "\x1b[31m34 failed, 283 passed, 54 warnings, 2 errors in 532.58s (0:08:52)\x1b[0m\n")
    assert parse_pytest_summary(text) == {"passed": 283, "failed": 34, "errors": 2,
                                          "skipped": 0, "deselected": 0}
    assert parse_pytest_summary("1 error in 9.92s")["errors"] == 1
    assert parse_pytest_summary("370 passed, 1 skipped, 1 deselected in 540.1s") == {
        "passed": 370, "failed": 0, "errors": 0, "skipped": 1, "deselected": 1}
    with pytest.raises(ValueError):
        parse_pytest_summary("ImportError while loading conftest\n3 passed tests earlier\n")


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_a" name="test_ok" time="0.1"/>
<testcase classname="tests.test_a" name="test_skip" time="0"><skipped message="no GPU"/></testcase>
<testcase classname="tests.test_data" name="test_load" time="0.2">
  <error message="collection failure">Traceback (most recent call last):
E   ImportError: pyarrow requires NumPy 2.0 or newer, found 1.26.0</error></testcase>
<testcase classname="tests.test_ppo" name="test_step[seq2seq]" time="1.0">
  <failure message="TypeError: set_adapter() got an unexpected keyword argument">x</failure>
</testcase>
<testcase classname="tests.test_ppo" name="test_other" time="0.1"/>
</testsuite></testsuites>"""


def test_junit_counts_and_first_failure():
    counts, first = parse_junit(JUNIT)
    assert counts == {"passed": 2, "failed": 1, "errors": 1, "skipped": 1, "deselected": 0}
    assert first == ("tests/test_data.py::test_load: "
                     "ImportError: pyarrow requires NumPy 2.0 or newer, found 1.26.0")


def test_junit_with_everything_passing_has_no_first_failure():
    counts, first = parse_junit('<testsuite><testcase classname="tests.test_a" name="t"/>'
                                "</testsuite>")
    assert counts["passed"] == 1 and first is None


def test_first_error_line_takes_the_cause():
    papermill = (
        "Executing notebook\nTraceback (most recent call last):\n"
        "papermill.exceptions.PapermillExecutionError: \n"
        "---------------------------------------------------------------------------\n"
        'Exception encountered at "In [12]":\n'
        "\x1b[0;31mTypeError\x1b[0m: GRPOConfig.__init__() got an unexpected keyword\n")
    assert first_error_line(papermill) == (
        "TypeError: GRPOConfig.__init__() got an unexpected keyword")
    uv = ("Resolved 10 packages\n  × No solution found when resolving dependencies:\n"
          "  ╰─▶ Because trl==1.10.0 depends on datasets>=4.7.0 ...\n")
    assert first_error_line(uv) == "× No solution found when resolving dependencies:"
    assert first_error_line("all good\n3 passed in 1.0s\n") is None
    assert len(first_error_line("ValueError: " + "x" * 500, limit=50)) == 50


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("lab*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_lab_checks_its_claims_only_when_its_parameter_says_so(notebook):
    """A shortened run passes check_claims=False; each lab must honour it in its one check."""
    cells = json.loads(notebook.read_text())["cells"]
    parameters = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1 and "check_claims = True" in "".join(parameters[0]["source"])
    checks = ["".join(c["source"]) for c in cells
              if c["cell_type"] == "code" and "claims.check(" in "".join(c["source"])]
    assert len(checks) == 1 and "enforce=check_claims and" in checks[0]
    assert not any("assert " in "".join(c["source"]) and 'profile.name == "tiny"'
                   in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_the_short_lab3_settings_exist():
    from labs_common.profiles import get_profile

    profile = get_profile("tiny").with_settings(**versions.LAB3_SHORT)  # unknown names raise
    assert profile.lab3.ppo_steps == 2 and profile.lab2.lora_steps == 4


def test_pinned_only_tests_are_left_out_unless_transformers_is_the_pin():
    pins = {"transformers": "5.23.0"}
    assert pinned_only_deselections({"transformers": "5.23"}, pins) == {}
    assert pinned_only_deselections({"transformers": "5.25.0"}, pins) == (
        versions.PINNED_ONLY_TESTS)
    for test in versions.PINNED_ONLY_TESTS:  # each still names a real test
        path, name = test.split("::")
        assert f"def {name}(" in (ROOT / path).read_text()


@pytest.mark.parametrize(("specifier", "version", "note"), [
    (">=5.23,<6", "5.23.0", "5.23.0 (the lower bound)"),
    (">=5.23,<6", "5.25.0", "5.25.0"),
    (">=1.10,<2", "2.1.0", "2.1.0 (above the range)"),
    (">=2.0", "1.26.0", "1.26.0 (below the range)"),
    (None, "26.0.1", "26.0.1"),
    (">=2.0", None, "not installed"),
])
def test_version_note(specifier, version, note):
    assert version_note(specifier, version) == note


def test_version_note_says_whether_it_is_the_newest_release():
    assert version_note(">=5.23,<6", "5.24.0", "5.25.0") == (
        "5.24.0 (not the newest release, 5.25.0)")
    assert version_note(">=5.23,<6", "5.23.0", "5.23.0") == (
        "5.23.0 (the lower bound; the newest release)")
    assert version_note(">=1.10,<2", "2.1.0", "2.1.0") == (
        "2.1.0 (above the range; the newest release)")


def test_resolver_reason():
    text = ("  × No solution found when resolving dependencies:\n"
            "  ╰─▶ Because only kernels<=0.17.2 is available and transformers>=5.25.0 depends "
            "on kernels>=0.19.1,<0.20, we can conclude that transformers>=5.25.0 cannot be used.\n"
            "      And because you require transformers==5.25.0, we can conclude ...\n")
    assert versions.resolver_reason(text).startswith(
        "Because only kernels<=0.17.2 is available and transformers>=5.25.0 depends")
    piped = ("error: No solution found when resolving dependencies\n"
             "  cause: Because only kernels<=0.17.2 is available and transformers>=5.25.0 ...\n")
    assert versions.resolver_reason(piped) == (
        "Because only kernels<=0.17.2 is available and transformers>=5.25.0 ...")
    assert versions.resolver_reason("Would install 3 packages") is None


def test_pip_index_output():
    text = ("WARNING: pip index is currently an experimental command.\n"
            "transformers (5.25.0)\nAvailable versions: 5.25.0, 5.24.0\n")
    assert versions.parse_pip_index(text) == "5.25.0"
    assert versions.parse_pip_index("ERROR: No matching distribution found for nothing") is None


def test_table_lists_every_library_and_every_check():
    report = Report(end="oldest", date="2026-12-03", python="3.11.7", seconds=600,
                    ranges={"torch": ">=2.4,<2.15", "numpy": ">=2.0"},
                    installed={"torch": "2.13.0+cpu", "numpy": "2.0.0", "pyarrow": "26.0.1"},
                    checks=[Check("install", True, "ok", 95.0),
                            Check("unit tests", False, "283 passed, 34 failed", 540.0,
                                  "tests/test_ppo.py::t: TypeError: a | b")],
                    notes=["torch stays at 2.13.0."])
    table = render_table(report)
    lines = table.splitlines()
    assert "| torch | >=2.4,<2.15 | 2.13.0+cpu (the CPU wheel, kept) |" in lines
    assert "| numpy | >=2.0 | 2.0.0 (the lower bound) |" in lines
    assert "| pyarrow | (not direct) | 26.0.1 |" in lines
    assert "| trl | (not direct) | not installed |" in lines
    assert "| install | ok (95 s) |  |" in lines
    assert ("| unit tests | 283 passed, 34 failed (9.0 min) | "
            "tests/test_ppo.py::t: TypeError: a \\| b |") in lines
    assert lines[-1] == "* torch stays at 2.13.0."
    # a row per library and per check, and the two tables' heading and rule rows
    assert sum(line.startswith("| ") for line in lines) == len(versions.LIBRARIES) + 2 + 4
    assert not report.ok


def test_pytest_result_names_only_what_occurred():
    assert versions.pytest_result({"passed": 3, "failed": 0}) == "3 passed, 0 failed"
    assert versions.pytest_result({"passed": 3, "failed": 1, "errors": 2, "skipped": 0,
                                   "deselected": 1}) == (
        "3 passed, 1 failed, 2 errors, 1 deselected")
