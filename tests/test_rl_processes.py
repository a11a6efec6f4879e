"""The processes a run is spread over (labs_common.rl.processes): on one process every helper
returns its input; on two (accelerate launch, gloo on CPUs) training takes the step one
process takes.

tests/distributed_step.py takes one optimizer step of the Trainer (a LoRA adapter, as Lab 2
trains it) and one of PPOTrainer.optimize on a fixed global batch of 4, with dropout off:
once as a plain script (one process) and once under ``accelerate launch`` with two
processes, each holding half the batch, with different numbers of target tokens. The
weights after the step, the loss and the gradient norm must agree to floating-point
rounding. The first Adam step moves each weight by about the learning rate whatever the
gradient's size, so the gradient norm and the losses are what catch a wrongly weighted
gradient; the weights catch a wrongly shared batch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labs_common.rl.ppo_math import masked_mean, masked_whiten
from labs_common.rl.processes import Processes

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_step.py"
LEARNING_RATE = 1e-2  # distributed_step.py's
# Adam's first step is lr * g / (|g| + eps): where a gradient is near eps, rounding moves
# the step by a few per cent of lr. A wrongly shared batch moves it by up to 2 lr.
WEIGHT_TOLERANCE = 0.05 * LEARNING_RATE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": ""}  # CPUs and gloo, even on a machine with GPUs
    done = subprocess.run([*command, str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="module")
def steps(tmp_path_factory) -> dict[int, dict]:
    folder = tmp_path_factory.mktemp("distributed")
    one = _run([sys.executable, str(WORKER)], folder / "one.pt")
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
        "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
        "--main_process_port", str(_free_port()), str(WORKER),
    ]
    two = _run(launch, folder / "two.pt")
    return {one["processes"]: one, two["processes"]: two}


def _largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys() and a
    return max(float((a[name] - b[name]).abs().max()) for name in a)


@pytest.mark.parametrize("trainer", ["trainer", "ppo"])
def test_a_step_on_two_processes_is_the_step_on_one(steps, trainer):
    assert sorted(steps) == [1, 2]
    one, two = steps[1][trainer], steps[2][trainer]
    moved = _largest_difference(one["after"], one["before"])
    assert moved > 0.5 * LEARNING_RATE  # the step did move the weights
    assert _largest_difference(one["before"], two["before"]) == 0.0  # the same start
    difference = _largest_difference(one["after"], two["after"])
    print(f"{trainer}: largest weight difference, 1 vs 2 processes: {difference:.2e} "
          f"(the step moved weights by up to {moved:.2e})")
    assert difference < WEIGHT_TOLERANCE
    assert one["stats"].keys() == two["stats"].keys()
    for name, value in one["stats"].items():
        assert two["stats"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_one_process_returns_its_input_and_the_single_process_math():
    processes = Processes()
    assert (processes.count, processes.index, processes.many, processes.is_main) == (
        1, 0, False, True)
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, 6.0, 7.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert processes.gather(values) is values
    assert processes.sum(values) is values
    assert processes.share([1, 2, 3]) == [1, 2, 3]
    assert processes.gather_objects(["a"]) == ["a"]
    assert processes.any(True) and not processes.any(False)
    assert torch.equal(processes.masked_mean(values, mask), masked_mean(values, mask))
    assert torch.equal(processes.masked_whiten(values, mask), masked_whiten(values, mask))
    numbers = {"a": torch.tensor(2.0)}
    assert processes.weighted_means(numbers, torch.tensor(3.0)) is numbers


class _TwoProcesses(Processes):
    """Process ``index`` of two, with the other process's tensors given (no real processes)."""

    def __init__(self, index: int, other: list[torch.Tensor]):
        super().__init__()
        self.count, self.index, self._other = 2, index, other

    def sum(self, tensor):
        return tensor + self._other.pop(0)


def test_shares_and_refusals_on_two_processes():
    assert _TwoProcesses(0, []).share("abcd") == ["a", "b"]
    assert _TwoProcesses(1, []).share("abcd") == ["c", "d"]
    with pytest.raises(ValueError, match="cannot be shared equally among 2 processes"):
        _TwoProcesses(0, []).share("abc")
    with pytest.raises(ValueError, match="mini_batch_size=3 cannot be shared"):
        _TwoProcesses(0, []).check_divides("mini_batch_size", 3)


def test_whitening_over_two_processes_is_whitening_over_the_whole_batch():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 0.5], [7.0, 1.0, 2.0], [0.0, 3.0, 8.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]])
    whole = masked_whiten(values, mask)
    top, bottom = values[:2], values[2:]
    top_mask, bottom_mask = mask[:2].float(), mask[2:].float()

    def other_sums(v, m):  # what the other process contributes, in the order they are asked
        mean = masked_mean(values, mask)
        return [torch.stack([(v * m).sum(), m.sum()]),
                torch.stack([((v - mean) ** 2 * m).sum(), m.sum()]), m.sum()]

    first = _TwoProcesses(0, other_sums(bottom, bottom_mask)).masked_whiten(top, top_mask)
    second = _TwoProcesses(1, other_sums(top, top_mask)).masked_whiten(bottom, bottom_mask)
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=1e-6, rtol=0)


def test_each_process_loss_is_weighed_by_its_share_of_the_tokens():
    # Process 0 holds 1 token, process 1 holds 3: averaged over the two processes, process
    # 0's gradient must count 1/4 of the whole, so its own is scaled by 1 * 2 / 4.
    weight = torch.tensor(3.0, requires_grad=True)
    _TwoProcesses(0, [torch.tensor(3.0)]).backward_token_mean(weight * 5.0, torch.tensor(1.0))
    assert weight.grad.item() == pytest.approx(5.0 * 1 * 2 / 4)
    alone = torch.tensor(3.0, requires_grad=True)
    Processes().backward_token_mean(alone * 5.0, torch.tensor(1.0))
    assert alone.grad.item() == 5.0
