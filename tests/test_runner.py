from labs_tools import runner


def test_notebooks_are_found_in_order(tmp_path):
    for name in ("lab2_b.ipynb", "lab1_a.ipynb", ".hidden.ipynb", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in runner.notebooks(tmp_path)] == ["lab1_a.ipynb", "lab2_b.ipynb"]


def test_summary_table_shows_minutes_gpu_memory_and_headlines():
    results = {
        "profile": "tiny",
        "lab1": {"rouge1": {"no_prompt": 0.12, "zero_shot": 0.31}},
        "lab2": {"rouge1": {"full": 0.5}},
        "lab4": {"dpo": {"toxicity_mean": {"before": 0.4, "after": 0.1}}},
        "seconds": {"lab1": 90.0},
        "meta": {"lab2": {"gpu_peak_bytes": 3 * 2**30}},
    }
    table = runner.summary_table(results)
    lines = table.splitlines()
    assert lines[0].startswith("profile: tiny")
    assert "lab1" in lines[1] and "1.5 min" in lines[1] and "rouge1.zero_shot=0.310" in lines[1]
    assert "GiB" not in lines[1]
    assert "lab2" in lines[2] and "nan min" in lines[2] and "3.0 GiB peak" in lines[2]
    assert "rouge1.full=0.500" in lines[2]
    assert "dpo.toxicity_mean.before=0.400  dpo.toxicity_mean.after=0.100" in lines[3]


def test_download_commands_cover_every_repository(capsys):
    assert runner.main(["--download-commands", "--hub-dir", "/srv/hub"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all(line.startswith("hf download ") for line in lines)
    assert any("--repo-type dataset" in line and "knkarthick/dialogsum" in line
               for line in lines)


def test_the_rehearsal_runs_lab4_then_lab3_before_lab2_so_their_fallbacks_run(tmp_path):
    from pathlib import Path

    paths = [Path(f"{name}.ipynb") for name in ("lab1_a", "lab2_b", "lab3_c", "lab4_d")]
    assert [p.stem for p in runner.rehearsal_order(paths)] == [
        "lab1_a", "lab4_d", "lab3_c", "lab2_b"]


def test_the_summary_names_the_profiles_own_results_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    first = runner.summary_table({"profile": "full"}).splitlines()[0]
    assert first == f"profile: full   results: {tmp_path / 'labs' / 'results-full.json'}"


def test_a_full_run_of_one_lab_leaves_the_tiny_results_in_place(monkeypatch, tmp_path, capsys):
    from labs_common import results

    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("LABS_PROFILE", "tiny")  # main sets it; restored afterwards
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    for lab in ("lab1", "lab2", "lab3"):
        results.record_results(lab, {"rouge1": {"zero_shot": 0.2}}, profile="tiny", seconds=30)
    tiny_file = tmp_path / "labs" / "results-tiny.json"
    before = tiny_file.read_bytes()

    def notebook(path, output, profile, **parameters):  # what a lab's last cells record
        results.record_results("lab1", {"rouge1": {"zero_shot": 0.4}}, profile=profile)
        return 120.0

    monkeypatch.setattr(runner, "run_notebook", notebook)
    assert runner.main(["--profile", "full", "--only", "lab1"]) == 0
    assert tiny_file.read_bytes() == before
    full = results.load_results(profile="full")
    assert full["lab1"]["rouge1"] == {"zero_shot": 0.4} and full["seconds"] == {"lab1": 120.0}
    assert "results-full.json" in capsys.readouterr().out
