"""The labs' claims: margins, verdicts, and each lab's claims read off its recorded figures."""

from __future__ import annotations

import copy

import pytest

from labs_common import claims

LAB1 = {
    "rouge1": {"no_prompt": 0.12, "zero_shot": 0.31},
    "ci": {"rouge1": {"zero_shot_minus_no_prompt": [0.15, 0.23]}},
    "generation": {"distinct_outputs": 6},
}
LAB2 = {
    "rouge1": {"original": 0.31, "full": 0.65, "lora": 0.60, "multitask": 0.63},
    "ci": {"rouge1": {"full_minus_original": [0.30, 0.38], "lora_minus_original": [0.25, 0.33]}},
    "sentiment_accuracy": {"original": 0.68, "full": 0.28, "lora": 0.68, "lora_disabled": 0.68,
                           "multitask": 0.99, "sentiment_lora": 1.0},
    "adapter": {"reload_logit_difference": 2e-6},
}


def test_margin_is_measured_past_the_threshold_on_the_claims_side():
    above = claims.Claim("lab", "a", "at least 0.05", value=0.08, threshold=0.05)
    below = claims.Claim("lab", "b", "at most 0.05", value=0.08, threshold=0.05, at_least=False)
    assert above.margin == pytest.approx(0.03) and above.holds
    assert below.margin == pytest.approx(-0.03) and not below.holds


def test_a_strict_claim_fails_on_its_threshold_and_a_loose_one_holds():
    loose = claims.Claim("lab", "a", "", value=0.0, threshold=0.0)
    strict = claims.Claim("lab", "b", "", value=0.0, threshold=0.0, strict=True)
    assert loose.holds and not strict.holds
    assert loose.condition == ">= 0" and strict.condition == "> 0"
    assert claims.Claim("lab", "c", "", 1.0, 2.0, at_least=False, strict=True).condition == "< 2"


def test_lab1_claims_hold_on_a_good_record_and_fail_where_it_is_bad():
    assert all(c.holds for c in claims.lab1(LAB1))
    bad = copy.deepcopy(LAB1)
    bad["ci"]["rouge1"]["zero_shot_minus_no_prompt"] = [-0.01, 0.2]
    verdict = {c.name: c for c in claims.lab1(bad)}
    assert not verdict["instruction_gain_beyond_noise"].holds
    assert verdict["instruction_gain_beyond_noise"].margin == pytest.approx(-0.01)
    assert verdict["instruction_beats_no_prompt"].holds


def test_lab2_forgetting_is_accuracy_lost_and_the_disabled_adapter_must_match_exactly():
    verdict = {c.name: c for c in claims.lab2(LAB2)}
    assert all(c.holds for c in verdict.values())
    assert verdict["full_fine_tuning_forgets"].margin == pytest.approx(0.30)
    changed = copy.deepcopy(LAB2)
    changed["sentiment_accuracy"]["lora_disabled"] = 0.6733
    assert not {c.name: c for c in claims.lab2(changed)}["disabled_adapter_is_the_original"].holds


def test_check_names_every_failed_claim_when_enforced_and_only_reports_otherwise():
    bad = copy.deepcopy(LAB2)
    bad["rouge1"]["lora"] = 0.33
    bad["sentiment_accuracy"]["full"] = 0.65
    with pytest.raises(claims.ClaimFailed) as failure:
        claims.check(claims.lab2(bad))
    message = str(failure.value)
    assert message.startswith("2 of 10 claims do not hold")
    assert "LoRA raises ROUGE-1 by at least 0.05" in message and "(forgetting)" in message
    shown = claims.check(claims.lab2(bad), enforce=False)
    assert list(shown["holds"]).count("NO") == 2


def test_of_results_reads_the_labs_a_results_file_holds():
    found = claims.of_results({"profile": "tiny", "lab1": LAB1, "lab2": LAB2})
    assert {c.lab for c in found} == {"lab1", "lab2"}
    assert len(found) == len(claims.lab1(LAB1)) + len(claims.lab2(LAB2))


def lab3_record(cuts=(0.8, 0.6), judge_drops=(0.05, 0.10), hack_low=0.05, clean=(0.01, -0.02)):
    runs = {seed: {"cut": cut, "judge_drop": judge, "rouge1_clean_change": rouge}
            for seed, (cut, judge, rouge) in enumerate(zip(cuts, judge_drops, clean, strict=True))}
    mean = {key: sum(r[key] for r in runs.values()) / len(runs) for key in runs[0]}
    return {
        "kl": {"step0": {"to_start": 0.0, "to_base": 0.4}},
        "reward_model": {"reference_middle_share": 0.24},
        "runs": {"runs": runs, "mean": mean, "count": len(runs),
                 "ci": {"toxicity": [-0.3, -0.2], "hack_gap": [hack_low, 0.2]}},
        "ppo_by_hand": {"largest_weight_difference": 3e-8},
    }


def test_lab3_states_ppo_on_the_mean_over_runs_and_every_run():
    verdict = {c.name: c for c in claims.lab3(lab3_record())}
    assert all(c.holds for c in verdict.values())
    assert verdict["ppo_cuts_toxicity"].value == pytest.approx(0.7)
    assert verdict["ppo_cuts_toxicity"].margin == pytest.approx(0.5)
    assert "mean over 2 PPO runs" in verdict["ppo_cuts_toxicity"].statement
    assert verdict["ppo_keeps_rouge"].value == pytest.approx(-0.005)
    # one run that makes things worse fails "every run", even when the mean holds
    worse = {c.name: c for c in claims.lab3(lab3_record(cuts=(0.9, -0.05)))}
    assert not worse["ppo_cuts_toxicity_in_every_run"].holds
    assert worse["ppo_cuts_toxicity"].holds


def test_lab3_reward_hacking_needs_its_interval_above_zero_and_rouge_its_floor():
    verdict = {c.name: c for c in claims.lab3(lab3_record(hack_low=-0.01, clean=(-0.08, -0.03)))}
    assert not verdict["judge_catches_reward_hacking"].holds
    assert verdict["judge_catches_reward_hacking"].margin == pytest.approx(-0.01)
    assert not verdict["ppo_keeps_rouge"].holds  # mean -0.055 < -0.05
    assert not {c.name: c for c in claims.lab3(lab3_record(judge_drops=(0.0, 0.0)))}[
        "judge_sees_a_drop"].holds


LAB4 = {
    "dpo_loss": {"at_start": {"by_hand": 0.6931472, "package": 0.6931472},
                 "after": {"by_hand": 0.41, "package": 0.4100004}},
    "dpo": {"ci": {"toxicity_mean": {"after_minus_before": [-0.2, -0.05]}}},
}


def test_lab4_checks_the_dpo_loss_by_hand_and_that_dpo_lowers_toxicity():
    verdict = {c.name: c for c in claims.lab4(LAB4)}
    assert all(c.holds for c in verdict.values()) and len(verdict) == 3
    assert verdict["dpo_loss_by_hand_is_the_packages"].value == pytest.approx(4e-7)
    wrong = copy.deepcopy(LAB4)
    wrong["dpo_loss"]["at_start"]["by_hand"] = 0.70
    verdict = {c.name: c for c in claims.lab4(wrong)}
    assert not verdict["dpo_loss_starts_at_log_2"].holds
    assert not verdict["dpo_loss_by_hand_is_the_packages"].holds
