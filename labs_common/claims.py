"""What each lab claims, stated on its recorded results, with the margin each one holds by.

A lab's sections record its figures as they go (``lab.record``, see
:mod:`labs_common.session`); its check cell then asks this module which of the lab's
lessons those figures show::

    verdicts = claims.check(claims.lab2(lab.results), enforce=check_claims and tiny)

Each :class:`Claim` is one sentence a student reads ("Full fine-tuning raises ROUGE-1 by
at least 0.05 over the original model"), the number it rests on, the threshold that
number must pass, and the **margin**: how far past the threshold it lies, in the number's
own unit (negative when the claim fails). The tiny world is built so that every claim
holds, on any machine: ``python -m labs_tools.robustness`` runs the labs under other CPU
numerics and seeds and reports each claim's smallest margin. On the full profile the
verdicts are printed, not enforced: whether FLAN-T5 shows a lesson is for the student to
read.

The functions take exactly what the lab records, so that the same claims can be checked
on a ``results.json`` written long ago or on another machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LABS = ("lab1", "lab2", "lab3", "lab4")


@dataclass(frozen=True)
class Claim:
    """One lesson, as a number that must lie on one side of a threshold."""

    lab: str
    name: str  # a short identifier, e.g. "instruction_beats_no_prompt"
    statement: str  # the sentence a student reads
    value: float  # what the lab measured
    threshold: float  # where the claim starts to hold
    at_least: bool = True  # True: value >= threshold; False: value <= threshold
    strict: bool = False  # True: the value may not equal the threshold

    @property
    def margin(self) -> float:
        """How far past the threshold the value lies (negative: the claim fails)."""
        return self.value - self.threshold if self.at_least else self.threshold - self.value

    @property
    def holds(self) -> bool:
        return self.margin > 0 or (self.margin == 0 and not self.strict)

    @property
    def condition(self) -> str:
        """``">= 0.05"`` and the like, for tables."""
        sign = (">" if self.strict else ">=") if self.at_least else ("<" if self.strict else "<=")
        return f"{sign} {self.threshold:g}"


class ClaimFailed(AssertionError):
    """Some of a lab's claims do not hold; the message lists them."""


def _claim(lab: str, name: str, statement: str, value, threshold: float, *,
           at_least: bool = True, strict: bool = False) -> Claim:
    return Claim(lab, name, statement, float(value), float(threshold), at_least, strict)


def lab1(results: Mapping) -> list[Claim]:
    """Lab 1, prompt engineering: the instruction beats no prompt; settings change the text."""
    rouge1 = results["rouge1"]
    low, _ = results["ci"]["rouge1"]["zero_shot_minus_no_prompt"]
    return [
        _claim("lab1", "instruction_beats_no_prompt",
               "The instruction prompt scores a higher ROUGE-1 than no prompt.",
               rouge1["zero_shot"] - rouge1["no_prompt"], 0.0, strict=True),
        _claim("lab1", "instruction_gain_beyond_noise",
               "The instruction's ROUGE-1 gain is larger than the test sample's noise "
               "(the low end of its 95 % interval is above 0).", low, 0.0, strict=True),
        _claim("lab1", "generation_settings_change_the_text",
               "The 8 generation settings write at least 3 different summaries.",
               results["generation"]["distinct_outputs"], 3),
    ]


def lab2(results: Mapping) -> list[Claim]:
    """Lab 2, fine-tuning: both fine-tunes gain ROUGE; forgetting, and its two cures."""
    rouge1 = results["rouge1"]
    accuracy = results["sentiment_accuracy"]
    out = []
    for name, label in (("full", "Full fine-tuning"), ("lora", "LoRA")):
        out.append(_claim("lab2", f"{name}_raises_rouge",
                          f"{label} raises ROUGE-1 by at least 0.05 over the original model.",
                          rouge1[name] - rouge1["original"], 0.05))
        low, _ = results["ci"]["rouge1"][f"{name}_minus_original"]
        out.append(_claim("lab2", f"{name}_gain_beyond_noise",
                          f"{label}'s ROUGE-1 gain is larger than the test sample's noise "
                          "(the low end of its 95 % interval is above 0).", low, 0.0,
                          strict=True))
    out += [
        _claim("lab2", "reloaded_adapter_is_the_trained_one",
               "The adapter reloaded from disk reproduces the trained model's logits "
               "(largest difference below 1e-4).",
               results["adapter"]["reload_logit_difference"], 1e-4, at_least=False,
               strict=True),
        _claim("lab2", "disabled_adapter_is_the_original",
               "With its adapter disabled, the LoRA model answers exactly as the original "
               "(difference in sentiment accuracy: 0).",
               abs(accuracy["lora_disabled"] - accuracy["original"]), 0.0, at_least=False),
        _claim("lab2", "full_fine_tuning_forgets",
               "Full fine-tuning on summaries costs at least 0.10 sentiment accuracy "
               "(forgetting).", accuracy["original"] - accuracy["full"], 0.10),
        _claim("lab2", "multitask_keeps_sentiment",
               "Multi-task fine-tuning keeps sentiment accuracy within 0.05 of the original.",
               accuracy["multitask"] - accuracy["original"], -0.05),
        _claim("lab2", "multitask_raises_rouge",
               "Multi-task fine-tuning still raises ROUGE-1 by at least 0.05.",
               rouge1["multitask"] - rouge1["original"], 0.05),
        _claim("lab2", "sentiment_lora_learns_the_task",
               "Instruction-tuning a LoRA adapter on sentiment adds at least 0.10 accuracy.",
               accuracy["sentiment_lora"] - accuracy["original"], 0.10),
    ]
    return out


def _change_high(entry: Mapping, measure: str = "toxicity_mean") -> float:
    """The high end of the 95 % interval of ``after - before`` recorded for ``measure``."""
    return entry["ci"][measure]["after_minus_before"][1]


def lab3(results: Mapping) -> list[Claim]:
    """Lab 3, RL detoxification: PPO lowers toxicity, keeps ROUGE, and is checked.

    PPO's claims rest on every run the lab made from the same start (the main run and the
    seed runs, ``results["runs"]``, as :func:`labs_common.detox_evaluation.runs_summary`
    returns them): one run is a draw whose size varies with the seed and the machine's
    arithmetic, while the mean over runs is what the lab can state as a fact.
    """
    runs = results["runs"]
    mean, ci, count = runs["mean"], runs["ci"], runs["count"]
    kl = results["kl"]["step0"]
    over = f"on the mean over {count} PPO runs"
    out = [
        _claim("lab3", "kl_to_start_is_zero_at_step_0",
               "Before any update, the KL to the starting policy is 0 (below 1e-4).",
               abs(kl["to_start"]), 1e-4, at_least=False, strict=True),
        _claim("lab3", "kl_to_base_is_not_zero_at_step_0",
               "Before any update, the KL to the base model without adapter is clearly above 0 "
               "(above 0.01).", kl["to_base"], 0.01, strict=True),
        _claim("lab3", "reward_is_graded",
               "The reward model grades text: at least 15 % of the human summaries of the test "
               "dialogues score P(hate) between 0.1 and 0.9.",
               results["reward_model"]["reference_middle_share"], 0.15),
        _claim("lab3", "ppo_cuts_toxicity",
               f"PPO cuts the summaries' mean toxicity by at least 20 % {over}.",
               mean["cut"], 0.20),
        _claim("lab3", "ppo_cuts_toxicity_in_every_run",
               "Every PPO run cuts the summaries' mean toxicity (by more than 0 %).",
               min(r["cut"] for r in runs["runs"].values()), 0.0, strict=True),
        _claim("lab3", "ppo_drop_beyond_noise",
               f"The toxicity drop {over} is larger than the test sample's noise (the high end "
               "of its 95 % interval is below 0).", ci["toxicity"][1], 0.0, at_least=False,
               strict=True),
        _claim("lab3", "ppo_keeps_rouge",
               f"Where the human summary is clean, detoxifying costs at most 0.05 ROUGE-1 {over}.",
               mean["rouge1_clean_change"], -0.05),
        _claim("lab3", "judge_sees_a_drop",
               f"A second classifier that PPO never saw also sees toxicity fall, {over}.",
               mean["judge_drop"], 0.0, strict=True),
        _claim("lab3", "judge_catches_reward_hacking",
               f"The judge sees less improvement than the reward model, {over}, by more than "
               "the test sample's noise: the policy learns part of the reward model's blind "
               "spot.", ci["hack_gap"][0], 0.0, strict=True),
    ]
    out.append(_claim("lab3", "ppo_step_by_hand_is_the_trainers",
                      "One PPO step computed by hand from the package's functions leaves the "
                      "same adapter as the trainer's own step from the same state (largest "
                      "difference below 1e-5).",
                      results["ppo_by_hand"]["largest_weight_difference"], 1e-5,
                      at_least=False, strict=True))
    return out


def lab4(results: Mapping) -> list[Claim]:
    """Lab 4, preference optimization: the DPO loss by hand, DPO and GRPO lower toxicity."""
    loss = results["dpo_loss"]
    out = [
        _claim("lab4", "dpo_loss_starts_at_log_2",
               "Before any update the DPO loss is log 2 (within 1e-5).",
               abs(loss["at_start"]["by_hand"] - math.log(2)), 1e-5, at_least=False,
               strict=True),
        _claim("lab4", "dpo_loss_by_hand_is_the_packages",
               "The DPO loss written in the notebook equals the package's, before and after "
               "training (within 1e-5).",
               max(abs(loss[when]["by_hand"] - loss[when]["package"])
                   for when in ("at_start", "after")), 1e-5, at_least=False, strict=True),
        _claim("lab4", "dpo_lowers_toxicity",
               "DPO on the reward model's preference pairs lowers toxicity by more than the "
               "test sample's noise.", _change_high(results["dpo"]), 0.0, at_least=False,
               strict=True),
    ]
    causal = results.get("causal")
    if causal:
        for method, label in (("ppo_ours", "PPO"), ("grpo_trl", "GRPO (trl)"),
                              ("dpo_trl", "DPO (trl)")):
            out.append(_claim("lab4", f"causal_{method}_lowers_toxicity",
                              f"On the decoder-only policy, {label} lowers toxicity by more "
                              "than the test sample's noise.", _change_high(causal[method]),
                              0.0, at_least=False, strict=True))
        out.append(_claim("lab4", "two_dpo_implementations_agree",
                          "trl's DPOTrainer and labs_common's, on the same pairs with the same "
                          "settings, end within 0.05 toxicity of each other.",
                          abs(causal["dpo_trl"]["toxicity_mean"]["after"]
                              - causal["dpo_ours"]["toxicity_mean"]["after"]), 0.05,
                          at_least=False, strict=True))
    return out


CLAIMS = {"lab1": lab1, "lab2": lab2, "lab3": lab3, "lab4": lab4}


def of_results(results: Mapping, labs: Iterable[str] = LABS) -> list[Claim]:
    """Every claim of the labs recorded in a whole ``results.json``."""
    return [claim for lab in labs if lab in results for claim in CLAIMS[lab](results[lab])]


def table(claims: Sequence[Claim], digits: int = 4):
    """A pandas table: one row per claim, its value, condition, margin and verdict."""
    import pandas as pd

    return pd.DataFrame(
        [{"claim": c.statement, "value": round(c.value, digits), "condition": c.condition,
          "margin": round(c.margin, digits), "holds": "yes" if c.holds else "NO"}
         for c in claims]
    ).set_index("claim")


def check(claims: Sequence[Claim], *, enforce: bool = True):
    """Show each claim's verdict; with ``enforce``, stop on the first lab that fails.

    Returns the table (:func:`table`) for display. With ``enforce`` and a claim that does
    not hold, raises :class:`ClaimFailed` naming each failed claim, its value and margin.
    """
    failed = [c for c in claims if not c.holds]
    if enforce and failed:
        lines = [f"- {c.statement} Measured {c.value:.4g} (needs {c.condition}; margin "
                 f"{c.margin:+.4g})." for c in failed]
        raise ClaimFailed(f"{len(failed)} of {len(claims)} claims do not hold:\n"
                          + "\n".join(lines))
    return table(claims)
