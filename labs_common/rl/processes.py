"""The processes a training run is spread over, as the project's trainers see them.

Under ``accelerate launch`` every process runs the same script on its own share of each
batch. :class:`Processes` is the little a trainer needs to know about the others: which
share is its own, and sums, means and gathers over all of them. Without an
``Accelerator`` (or with one process) every method returns its input, or calls the
single-process function of :mod:`labs_common.rl.ppo_math`, so that a run on one process
computes exactly the numbers it computed before there were several.

How to launch several processes on CPUs (``make distributed``), with GPUs, and with
FSDP or DeepSpeed for bigger models: README, "Scaling up".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from labs_common.rl import ppo_math


class Processes:
    """One process (``accelerator=None``), or the processes of an ``accelerate.Accelerator``."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.count = accelerator.num_processes if accelerator is not None else 1
        self.index = accelerator.process_index if accelerator is not None else 0

    @property
    def many(self) -> bool:
        """True when there is more than one process."""
        return self.count > 1

    @property
    def is_main(self) -> bool:
        """The process that saves and prints (the only one, on one process)."""
        return self.index == 0

    def check_divides(self, what: str, size: int) -> None:
        """Refuse a batch size that cannot be shared equally among the processes."""
        if size % self.count:
            raise ValueError(
                f"{what}={size} cannot be shared equally among {self.count} processes: "
                f"choose a multiple of {self.count}."
            )

    def share(self, items: Sequence) -> list:
        """This process's consecutive share of ``items`` (all of them on one process)."""
        items = list(items)
        if not self.many:
            return items
        self.check_divides("the batch", len(items))
        size = len(items) // self.count
        return items[self.index * size : (self.index + 1) * size]

    def sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over the processes (the tensor itself on one process)."""
        if not self.many:
            return tensor
        return self.accelerator.reduce(tensor.detach().clone(), reduction="sum")

    def gather(self, tensor: Tensor) -> Tensor:
        """Every process's ``tensor`` concatenated along dim 0, in process order."""
        if not self.many:
            return tensor
        return self.accelerator.gather(tensor.detach().contiguous())

    def gather_objects(self, items: list) -> list:
        """Every process's list, concatenated in process order."""
        if not self.many:
            return items
        from accelerate.utils import gather_object

        return list(gather_object(list(items)))

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (so that all stop together)."""
        if not self.many:
            return flag
        device = self.accelerator.device
        return bool(self.sum(torch.tensor([float(flag)], device=device)).item() > 0)

    def wait(self) -> None:
        """Wait until every process has come here."""
        if self.many:
            self.accelerator.wait_for_everyone()

    def backward(self, loss: Tensor) -> None:
        """Back-propagate ``loss``; with an accelerator, the way it prepared the model."""
        if self.accelerator is None:
            loss.backward()
        else:
            self.accelerator.backward(loss)

    def backward_token_mean(self, loss: Tensor, tokens: Tensor) -> None:
        """Back-propagate ``loss``, a mean over this process's ``tokens``, so that the
        gradient the processes average is that of the mean over all their tokens.

        Averaging the processes' own means would weigh a process with few tokens as much
        as one with many: each loss is scaled by its share of the tokens times the count.
        """
        if self.many:
            loss = loss * tokens * self.count / self.sum(tokens)
        self.backward(loss)

    # ------------------------------------------------------------ statistics over all

    def masked_mean(self, values: Tensor, mask: Tensor) -> Tensor:
        """:func:`~labs_common.rl.ppo_math.masked_mean` over the masked positions of every
        process."""
        if not self.many:
            return ppo_math.masked_mean(values, mask)
        mask = mask.to(values.dtype)
        totals = self.sum(torch.stack([(values * mask).sum(), mask.sum()]))
        return totals[0] / totals[1]

    def masked_whiten(self, values: Tensor, mask: Tensor) -> Tensor:
        """:func:`~labs_common.rl.ppo_math.masked_whiten`, with the mean and the (unbiased)
        variance taken over the masked positions of all processes."""
        if not self.many:
            return ppo_math.masked_whiten(values, mask)
        mean = self.masked_mean(values, mask)
        variance = self.masked_mean((values - mean) ** 2, mask)
        count = self.sum(mask.to(values.dtype).sum())
        if count > 1:
            variance = variance * count / (count - 1)
        return (values - mean) * torch.rsqrt(variance + 1e-8) * mask.to(values.dtype)

    def weighted_means(self, numbers: dict[str, Tensor], weight: Tensor) -> dict[str, Tensor]:
        """Each process's means of ``weight`` items combined into the means over all items."""
        if not self.many:
            return numbers
        names = list(numbers)
        weight = weight.detach().to(torch.float32)
        stacked = torch.stack([numbers[n].detach().to(torch.float32) * weight for n in names]
                              + [weight])
        totals = self.sum(stacked)
        return {name: totals[i] / totals[-1] for i, name in enumerate(names)}
