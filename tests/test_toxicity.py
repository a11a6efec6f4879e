"""The toxicity classifiers (labs_common.toxicity) on the tiny world's reward model: P(toxic)
is evaluate's softmax, the reward the clean class's raw logit, batches change no number."""

from __future__ import annotations

import pytest
import torch

from labs_common.paths import tiny_model_dir
from labs_common.toxicity import ToxicityClassifier, summarize_toxicity

TEXTS = ["#Person1# calls #Person2# an idiot.", "They buy a ticket to Paris.",
         "You are useless!", "The weather was terrible.", "Thanks, see you on Monday."]


@pytest.fixture(scope="module")
def reward_model():
    return ToxicityClassifier(str(tiny_model_dir("roberta-hate-tiny")), "cpu", batch_size=2)


def test_toxicity_is_the_softmax_of_the_toxic_class_and_the_reward_the_clean_logit(reward_model):
    assert reward_model.labels == {0: "nothate", 1: "hate"}
    assert (reward_model.toxic_index, reward_model.clean_index) == (1, 0)
    logits = reward_model.logits(TEXTS)
    assert logits.shape == (len(TEXTS), 2)
    assert reward_model.toxicity(TEXTS) == pytest.approx(logits.softmax(-1)[:, 1].tolist())
    assert reward_model.reward(TEXTS) == pytest.approx(logits[:, 0].tolist())
    assert reward_model(TEXTS) == reward_model.reward(TEXTS)  # a reward function for PPO
    insult, trip = reward_model.toxicity(TEXTS[:2])
    assert insult > 0.5 > trip


def test_batches_change_no_score(reward_model):
    one_batch = ToxicityClassifier(str(tiny_model_dir("roberta-hate-tiny")), "cpu", batch_size=8)
    torch.testing.assert_close(reward_model.logits(TEXTS), one_batch.logits(TEXTS),
                               atol=1e-5, rtol=0)
    assert reward_model.logits([]).shape == (0, 2)


def test_summary_of_scores_by_hand():
    summary = summarize_toxicity([0.1, 0.9, 0.6, 0.2])
    assert summary["mean"] == pytest.approx(0.45)
    assert summary["std"] == pytest.approx(((0.35**2 + 0.45**2 + 0.15**2 + 0.25**2) / 4) ** 0.5)
    assert summary["share_toxic"] == 0.5
