"""Checkpoints that survive a disconnect (labs_common.checkpoints), and the runs that use them:
a PPO run and a Trainer run killed after a checkpoint and resumed end where an uninterrupted
run ends; a damaged or half-written checkpoint is refused and the previous one used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import resume_child
import torch

from labs_common import checkpoints

HERE = Path(__file__).resolve().parent


def write_files(folder: Path, **files: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def test_a_written_checkpoint_is_whole_and_only_the_newest_are_kept(tmp_path):
    for step in (2, 4, 6):
        checkpoints.write(tmp_path, step, lambda f, s=step: write_files(f, w=bytes([s]) * 10),
                          history=[step])
    assert [p.name for p in checkpoints.candidates(tmp_path)] == ["checkpoint-6", "checkpoint-4"]
    assert checkpoints.latest(tmp_path) == tmp_path / "checkpoint-6"
    assert checkpoints.record(tmp_path / "checkpoint-6") == {"step": 6, "history": [6]}
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda f: (f / "w").write_bytes(b"x" * 3), "has 3 bytes instead of 10"),
    (lambda f: (f / "w").write_bytes(b"y" * 10), "SHA-256 differs"),
    (lambda f: (f / "w").unlink(), "w is missing"),
    (lambda f: (f / checkpoints.MARKER).unlink(), "cut off while it was written"),
    (lambda f: (f / checkpoints.MARKER).write_text("{"), "is damaged"),
])
def test_a_damaged_checkpoint_is_refused_with_its_reason_and_the_previous_used(
        tmp_path, damage, reason):
    for step in (2, 4):
        checkpoints.write(tmp_path, step, lambda f: write_files(f, w=b"z" * 10))
    damage(tmp_path / "checkpoint-4")
    said = []
    assert checkpoints.latest(tmp_path, log=said.append) == tmp_path / "checkpoint-2"
    assert len(said) == 1 and "checkpoint-4" in said[0] and reason in said[0]


def same_log(got, expected) -> bool:
    """Two runs' logs (PPO's statistics per step, or the Trainer's (step, loss) pairs) agree."""
    def flat(log):
        return [(k, v) for row in log
                for k, v in (sorted(row.items()) if isinstance(row, dict) else enumerate(row))]

    got, expected = flat(got), flat(expected)
    return ([k for k, _ in got] == [k for k, _ in expected]
            and [v for _, v in got] == pytest.approx([v for _, v in expected], abs=1e-5))


def killed_then_resumed(kind: str, folder: Path, kill_after: int):
    child = subprocess.run([sys.executable, str(HERE / "resume_child.py"), kind, str(folder),
                            str(kill_after)], cwd=HERE, capture_output=True, text=True)
    assert child.returncode == -9, child.stderr[-2000:]  # killed, as a lost session
    said = []
    weights, logged = resume_child.run(kind, str(folder), log=said.append)
    return weights, logged, said


@pytest.mark.parametrize(("kind", "kill_after", "resumed_from"), [
    ("ppo", 4, 4), ("trainer", 8, 8)])
def test_a_killed_run_resumes_and_ends_where_an_uninterrupted_run_ends(
        tmp_path, kind, kill_after, resumed_from):
    expected, expected_log = resume_child.run(kind, str(tmp_path / "whole"), log=lambda _: None)
    # What the lab draws next (a new adapter's random start) comes from these generators:
    # a resumed or reloaded run must leave them as the uninterrupted run did.
    generators_after = torch.get_rng_state()
    weights, logged, said = killed_then_resumed(kind, tmp_path / "killed", kill_after)
    assert any(f"rom step {resumed_from} of" in line for line in said), said
    assert same_log(logged, expected_log)
    for name, tensor in expected.items():
        torch.testing.assert_close(weights[name], tensor, atol=1e-5, rtol=0, msg=name)
    assert torch.equal(torch.get_rng_state(), generators_after)
    # run again: finished, so loaded and not retrained
    said.clear()
    torch.manual_seed(1234)  # whatever the session drew before; loading must not depend on it
    again, _ = resume_child.run(kind, str(tmp_path / "killed"), log=said.append)
    assert any("finished earlier" in line for line in said), said
    torch.testing.assert_close(again[next(iter(expected))], expected[next(iter(expected))],
                               atol=1e-5, rtol=0)
    assert torch.equal(torch.get_rng_state(), generators_after)


def test_a_run_whose_newest_checkpoint_is_damaged_resumes_from_the_one_before(tmp_path):
    expected, expected_log = resume_child.run("ppo", str(tmp_path / "whole"), log=lambda _: None)
    folder = tmp_path / "killed"
    child = subprocess.run([sys.executable, str(HERE / "resume_child.py"), "ppo", str(folder),
                            "4"], cwd=HERE, capture_output=True, text=True)
    assert child.returncode == -9, child.stderr[-2000:]
    (folder / "checkpoint-4" / "value_head.safetensors").write_bytes(b"half")
    said = []
    weights, logged = resume_child.run("ppo", str(folder), log=said.append)
    assert any("checkpoint-4" in line and "refused" in line for line in said), said
    assert any("from step 2 of" in line for line in said), said
    assert same_log(logged, expected_log)
    torch.testing.assert_close(weights["value_head"], expected["value_head"], atol=1e-5, rtol=0)


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_one_before(tmp_path):
    expected, expected_log = resume_child.run("ppo", str(tmp_path / "whole"), log=lambda _: None)
    folder = tmp_path / "killed"
    child = subprocess.run([sys.executable, str(HERE / "resume_child.py"), "ppo", str(folder),
                            "4", "while-writing"], cwd=HERE, capture_output=True, text=True)
    assert child.returncode == -9, child.stderr[-2000:]
    assert (folder / ".checkpoint-4.partial").is_dir()  # its files, never renamed into place
    said = []
    weights, logged = resume_child.run("ppo", str(folder), log=said.append)
    assert any("from step 2 of" in line for line in said), said
    assert same_log(logged, expected_log)
    torch.testing.assert_close(weights["value_head"], expected["value_head"], atol=1e-5, rtol=0)


def test_resume_from_starts_over_when_the_run_was_started_with_other_settings(tmp_path):
    said = []
    assert checkpoints.resume_from(tmp_path, {"lr": 1}, 4, "PPO", said.append) is None
    checkpoints.write(tmp_path, 2, lambda f: write_files(f, w=b"z"))
    found = checkpoints.resume_from(tmp_path, {"lr": 1}, 4, "PPO", said.append)
    assert found == tmp_path / "checkpoint-2" and said[-1].startswith("PPO: resuming from step 2")
    checkpoints.write(tmp_path, 4, lambda f: write_files(f, w=b"z"))
    assert checkpoints.resume_from(tmp_path, {"lr": 1}, 4, "PPO", said.append).name == (
        "checkpoint-4")
    assert "finished earlier (4 steps)" in said[-1]
    assert checkpoints.resume_from(tmp_path, {"lr": 2}, 4, "PPO", said.append) is None
    assert "other settings" in said[-1] and checkpoints.candidates(tmp_path) == []
