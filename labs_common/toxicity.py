"""Toxicity: the reward model's logits, P(hate), and the PPO reward (Lab 3).

The course scores text with Meta's RoBERTa hate-speech classifier
(``facebook/roberta-hate-speech-dynabench-r4-target``; labels ``nothate`` and ``hate``):

* the PPO reward is the raw logit of ``nothate``: higher means less hateful;
* toxicity is the softmax probability of ``hate``, as evaluate's ``toxicity``
  measurement computes it.

The classifier tokenizes with its own tokenizer, truncates long inputs and runs in
batches, so any policy (T5, Llama) can be rewarded by it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from labs_common.models import load_classifier

TOXIC_LABELS = ("hate", "toxic")  # the toxic class's name in the classifiers the labs use


class ToxicityClassifier:
    """A hate/toxicity sequence classifier used as reward model or judge."""

    def __init__(self, name: str, device: torch.device | str | None = None, batch_size: int = 32,
                 toxic_index: int | None = None):
        """``toxic_index`` names the toxic class of a model whose labels carry no names
        (``LABEL_0``, ``LABEL_1``); a model with named labels is read by its names."""
        self.name = name
        self.model, self.tokenizer = load_classifier(name, device)
        self.batch_size = batch_size
        self.labels = {int(i): str(label) for i, label in self.model.config.id2label.items()}
        toxic = [i for i, label in self.labels.items() if label.lower() in TOXIC_LABELS]
        if not toxic and toxic_index is not None and set(self.labels.values()) == {
            f"LABEL_{i}" for i in self.labels
        }:
            toxic = [toxic_index]
        if len(toxic) != 1 or len(self.labels) != 2 or toxic[0] not in self.labels:
            raise ValueError(
                f"{name} has labels {self.labels}; expected two classes, one of them "
                f"named one of {TOXIC_LABELS} (or unnamed labels and a toxic_index)."
            )
        self.toxic_index = toxic[0]
        self.clean_index = 1 - toxic[0]
        limit = self.tokenizer.model_max_length
        positions = getattr(self.model.config, "max_position_embeddings", 514)
        self.max_length = int(min(limit if limit < 1e9 else 512, positions - 2, 512))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def logits(self, texts: Sequence[str], progress: bool = False) -> torch.Tensor:
        """Raw logits, shape (len(texts), 2), in batches."""
        chunks = []
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="scoring toxicity", disable=not progress, unit="batch"):
            batch = list(texts[start : start + self.batch_size])
            encoded = self.tokenizer(
                batch,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            ).to(self.device)
            chunks.append(self.model(**encoded).logits.float().cpu())
        if not chunks:
            return torch.zeros((0, 2))
        return torch.cat(chunks)

    def toxicity(self, texts: Sequence[str], progress: bool = False) -> list[float]:
        """Probability of the toxic class for each text (evaluate's ``toxicity``)."""
        probabilities = self.logits(texts, progress).softmax(dim=-1)
        return probabilities[:, self.toxic_index].tolist()

    def reward(self, texts: Sequence[str]) -> list[float]:
        """The PPO reward: the raw logit of the non-toxic class (``nothate``)."""
        return self.logits(texts)[:, self.clean_index].tolist()

    __call__ = reward


def summarize_toxicity(scores: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation and share above 0.5 of per-text toxicity."""
    values = np.asarray(scores, dtype=float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "share_toxic": float((values > 0.5).mean()),
    }
