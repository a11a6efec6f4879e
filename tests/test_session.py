"""The set-up every lab starts with (labs_common.session): preflight first, then the profile,
device, CPU threads and seed, printed in one block."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from labs_common import preflight, session


def test_start_prepares_the_tiny_profile_and_says_what_it_chose(monkeypatch, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    threads = torch.get_num_threads()
    try:
        lab = session.start("lab2", "tiny", settings_overrides={"lab2": {"lora_steps": 7}},
                            seed=5)
    finally:
        torch.set_num_threads(threads)
    shown = capsys.readouterr().out
    assert lab.profile.name == "tiny" and lab.settings.lora_steps == 7
    assert lab.settings is lab.profile.lab2 and lab.threads == 1 and lab.seed == 5
    assert shown.startswith("preflight: lab2 on the tiny profile")
    assert "CPU threads: 1" in shown and "seed: 5" in shown
    assert lab.settings_table().loc["lora_steps"].iloc[0] == 7
    assert lab.seconds() >= 0


def test_a_failed_preflight_stops_before_the_profile_is_activated(monkeypatch):
    activated = []

    def refuse(*args, **kwargs):
        raise preflight.PreflightError("switch the runtime to a GPU")

    monkeypatch.setattr(session.preflight, "check", refuse)
    monkeypatch.setattr(session, "activate", lambda *a, **k: activated.append(a))
    with pytest.raises(preflight.PreflightError, match="switch the runtime"):
        session.start("lab3", "full")
    assert activated == []


def test_lab4_reads_the_rl_settings_it_shares_with_lab3(capsys):
    lab = session.start("lab4", "tiny", settings_overrides={"lab3": {"dpo_epochs": 1}},
                        quiet=True)
    assert lab.settings is lab.profile.lab3 and lab.settings.dpo_epochs == 1
    assert capsys.readouterr().out == ""


def test_run_dir_is_the_profiles_runs_folder_and_retrain_empties_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    lab = session.start("lab2", "tiny", quiet=True)
    folder = lab.run_dir("lab2-lora")
    assert folder == tmp_path / "runs" / "tiny" / "lab2-lora"
    (folder / "checkpoint-5").mkdir(parents=True)
    assert lab.run_dir("lab2-lora") == folder and (folder / "checkpoint-5").is_dir()
    assert lab.run_dir("lab2-lora", retrain=True) == folder and not folder.exists()


def test_sections_record_their_figures_and_the_last_one_writes_them(monkeypatch, tmp_path,
                                                                    capsys):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABS_RESULTS", raising=False)
    lab = session.start("lab3", "tiny", seed=3, quiet=True)
    lab.record(kl={"step0": 0.0}, examples=8)
    lab.record(kl={"final": np.float32(1.5)})  # merged into the section above, not replacing it
    text = lab.save_results()
    written = json.loads((tmp_path / "labs" / "results-tiny.json").read_text())
    assert written["lab3"] == {"kl": {"step0": 0.0, "final": 1.5}, "examples": 8}
    assert written["meta"]["lab3"]["seed"] == 3
    assert "kl.final  1.5" in text and text.splitlines()[-1].startswith("Lab 3 ran in ")
    assert "seconds" not in written  # times are printed, never recorded
