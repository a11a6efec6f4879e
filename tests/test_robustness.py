"""The robustness run's pure parts: variant environments, the claims table, error lines."""

from __future__ import annotations

from pathlib import Path

from labs_tools import robustness


def _record(name, margins, errors=None):
    return {"name": name, "labs": {"lab2": {"error": (errors or {}).get("lab2")}},
            "claims": [{"lab": "lab2", "name": claim, "statement": claim, "value": margin,
                        "threshold": 0.0, "condition": ">= 0", "margin": margin,
                        "holds": margin >= 0} for claim, margin in margins.items()]}


def test_a_variant_sets_exactly_the_numerics_variables_it_names(tmp_path):
    base = {"PATH": "/bin", "ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "8"}
    env = robustness.variant_environment(robustness.VARIANTS["threads-1"], tmp_path, base)
    assert env["OMP_NUM_THREADS"] == "1" and "ATEN_CPU_CAPABILITY" not in env
    assert env["PATH"] == "/bin" and env["LABS_PROFILE"] == "tiny"
    assert env["LABS_RESULTS"] == str(tmp_path / "results.json")
    ci = robustness.variant_environment(robustness.VARIANTS["ci"], tmp_path, base)
    assert {k: ci.get(k) for k in robustness.NUMERICS_VARIABLES} == {
        "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": None}
    mkl = robustness.variant_environment(robustness.VARIANTS["mkl-compatible"], tmp_path, base)
    assert mkl["MKL_CBWR"] == "COMPATIBLE" and "ATEN_CPU_CAPABILITY" not in mkl


def test_the_ci_variant_is_how_make_test_runs_the_notebooks():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if x.startswith("OTHER_NUMERICS :="))
    settings = dict(item.split("=") for item in line.split(":=", 1)[1].split())
    assert settings == dict(robustness.VARIANTS["ci"].env)


def test_the_matrix_covers_threads_instruction_sets_mkl_and_three_seeds():
    variants = robustness.VARIANTS.values()
    assert {v.env.get("OMP_NUM_THREADS") for v in variants} >= {"1", "2"}
    assert {v.env.get("ATEN_CPU_CAPABILITY") for v in variants} >= {None, "default", "avx2"}
    assert any(v.env.get("MKL_CBWR") == "COMPATIBLE" for v in variants)
    assert len({v.seed for v in variants}) >= 3


def test_summary_keeps_each_variants_margin_and_the_smallest():
    records = [_record("a", {"x": 0.2, "y": 0.1}), _record("b", {"x": 0.05, "y": -0.02})]
    summary = robustness.summarize(records)
    assert summary["lab2.x"]["smallest"] == {"margin": 0.05, "variant": "b"}
    assert summary["lab2.x"]["holds_everywhere"]
    assert not summary["lab2.y"]["holds_everywhere"]
    table = robustness.markdown_table(records, summary)
    assert "| `lab2.y` | >= 0 | +0.100 | -0.020 **fails** | -0.020 (b) |" in table


def test_a_lab_that_stopped_is_listed_under_the_table():
    records = [_record("a", {"x": 0.2}, errors={"lab2": "AssertionError: too small"})]
    table = robustness.markdown_table(records, robustness.summarize(records))
    assert "- a lab2: AssertionError: too small" in table


def test_the_first_line_of_a_failed_notebook_is_its_assertion():
    error = Exception("---------\nTraceback\n  cell 53\nAssertionError: PPO should cut it\n")
    assert robustness._first_line(error) == "AssertionError: PPO should cut it"
    assert robustness._first_line(Exception("")) == "Exception"


def test_labs_are_found_in_order_and_by_prefix():
    names = [p.name for p in robustness.lab_notebooks()]
    assert names == sorted(names) and all(n.startswith("lab") for n in names)
    assert [p.name[:4] for p in robustness.lab_notebooks(["lab2"])] == ["lab2"]
    assert isinstance(robustness.variant_dir(Path("/x"), robustness.VARIANTS["seed-7"]), Path)
