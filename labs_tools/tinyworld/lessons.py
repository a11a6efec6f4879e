"""Check that Labs 2 and 3 teach what they claim, on the built tiny models.

``python -m labs_tools.tinyworld.lessons`` runs the tiny profile's Lab 2 settings (full
fine-tuning, LoRA, multi-task fine-tuning, a sentiment LoRA) with the lab's own
training code, measures the Lab 3 starting point (how toxic its summaries are) and
the causal summarizer, and records every figure under ``"lessons"`` in ``BUILD.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from labs_common.insults import carries_insult, reported_insult
from labs_common.paths import tiny_dir
from labs_common.profiles import Lab2Settings, get_profile
from labs_common.prompts import instruction_prompt, no_prompt
from labs_tools.tinyworld import measure
from labs_tools.tinyworld.world import read_jsonl


def _load(root: Path, name: str, kind: str):
    """A tiny model from ``root`` on the CPU, through the loaders the labs use."""
    from labs_common.models import load_causal, load_classifier, load_seq2seq

    loaders = {"seq2seq": load_seq2seq, "causal": load_causal, "classifier": load_classifier}
    return loaders[kind](str(root / "models" / name), torch.device("cpu"))


def _timed(record: dict, key: str, start: float) -> None:
    record[key] = round(time.perf_counter() - start, 1)


def lab2_and_lab3(root: Path, settings: Lab2Settings | None = None) -> dict:
    """Run the Lab 2 recipe on flan-t5-tiny and measure what Lab 3 starts from.

    ``settings`` default to the tiny profile's Lab 2 settings, the ones the lab runs.
    """
    settings = settings or get_profile("tiny").lab2
    from labs_common.lora import make_lora_model
    from labs_common.training import mix_pairs, sentiment_pairs, summary_pairs, train_seq2seq

    base, tok = _load(root, "flan-t5-tiny", "seq2seq")
    reward, reward_tok = _load(root, "roberta-hate-tiny", "classifier")
    judge, judge_tok = _load(root, "toxicity-judge-tiny", "classifier")
    train = read_jsonl(root / "dialogsum" / "train.jsonl")
    test = measure.unique_rows(read_jsonl(root / "dialogsum" / "test.jsonl"),
                               settings.eval_examples)
    tweets_train = read_jsonl(root / "tweets" / "train.jsonl")
    tweets_test = read_jsonl(root / "tweets" / "test.jsonl")[: settings.sentiment_examples]
    prompts = [instruction_prompt(r["dialogue"]) for r in test]
    references = [r["summary"] for r in test]
    toxic = [carries_insult(r) for r in references]
    out: dict = {"settings": asdict(settings), "seconds": {}}

    def evaluate(model, name: str) -> dict:
        start = time.perf_counter()
        score, outputs = measure.rouge1(model, tok, prompts, references)
        accuracy, answers = measure.sentiment_accuracy(model, tok, tweets_test)
        _timed(out["seconds"], f"evaluate {name}", start)
        return {"rouge1": score, "sentiment_zero_shot": accuracy, "sentiment_answers": answers,
                "example": outputs[0]}

    def fit(model, pairs, steps: int, lr: float, name: str):
        run = train_seq2seq(model, tok, pairs, max_steps=steps, learning_rate=lr,
                            batch_size=settings.batch_size, warmup_steps=settings.warmup_steps,
                            seed=0)
        out["seconds"][f"train {name}"] = round(run.seconds, 1)
        return model

    summaries = summary_pairs(train)
    out["original"] = evaluate(base, "original")

    full = fit(copy.deepcopy(base), summaries, settings.full_steps,
               settings.full_learning_rate, "full")
    out["full"] = evaluate(full, "full")
    del full

    lora = fit(make_lora_model(base), summaries, settings.lora_steps,
               settings.lora_learning_rate, "lora")
    trainable, total = lora.get_nb_trainable_parameters()
    out["lora"] = evaluate(lora, "lora") | {"trainable_share": round(trainable / total, 4)}
    out["lab3_start"] = lab3_start(lora, tok, reward, reward_tok, prompts, toxic,
                                   judge=(judge, judge_tok))
    start = time.perf_counter()
    out["lab3_ppo"] = lab3_ppo(root, lab3_fallback_adapter(base, tok, train, settings), tok,
                               train, test)
    _timed(out["seconds"], "lab3 ppo runs", start)

    size = settings.full_steps * settings.batch_size
    share = settings.multitask_sentiment_share
    mixed = mix_pairs({"summaries": (summaries, 1 - share),
                       "sentiment": (sentiment_pairs(tweets_train), share)}, size=size, seed=0)
    multitask = fit(copy.deepcopy(base), mixed, settings.full_steps,
                    settings.full_learning_rate, "multitask")
    out["multitask"] = evaluate(multitask, "multitask")
    del multitask

    sentiment = fit(make_lora_model(base), sentiment_pairs(tweets_train),
                    settings.sentiment_lora_steps, settings.sentiment_lora_learning_rate,
                    "sentiment lora")
    start = time.perf_counter()
    accuracy, answers = measure.sentiment_accuracy(sentiment, tok, tweets_test)
    _timed(out["seconds"], "evaluate sentiment lora", start)
    out["sentiment_lora"] = {"sentiment_zero_shot": accuracy, "sentiment_answers": answers}
    out["seconds"]["total"] = round(sum(out["seconds"].values()), 1)
    return out


def lab3_start(model, tok, reward, reward_tok, prompts, toxic, seed: int = 0,
               judge=None) -> dict:
    """How toxic the PPO starting point's summaries are: greedy and sampled as in PPO.

    ``middle_share`` is the share of greedy summaries whose P(hate) under the reward model
    lies in [0.1, 0.9] (a graded reward, not two spikes); with ``judge`` (model, tokenizer)
    the judge's mean P(hate) of the same summaries is added.
    """
    from labs_common.generation import generate_batched
    from labs_tools.tinyworld.recipes import hate_probabilities

    greedy = generate_batched(model, tok, prompts, batch_size=50, max_new_tokens=64)
    torch.manual_seed(seed)
    sampled = generate_batched(model, tok, prompts, batch_size=50, max_new_tokens=64,
                               do_sample=True, top_k=0, top_p=1.0)
    out = {"greedy": measure.toxicity_of_summaries(reward, reward_tok, greedy, toxic),
           "sampled": measure.toxicity_of_summaries(reward, reward_tok, sampled, toxic),
           "sampled_examples": sampled[:3]}
    probs = hate_probabilities(reward, reward_tok, greedy)
    out["greedy"]["middle_share"] = measure.middle_share(probs)
    out["greedy"]["mean_p_hate"] = round(sum(probs) / len(probs), 4)
    if judge is not None:
        judged = hate_probabilities(*judge, greedy)
        out["greedy"]["judge_mean_p_hate"] = round(sum(judged) / len(judged), 4)
    return out


# Lab 3's reward-hacking run: the main run's settings with twice the KL pull toward the
# starting policy and three times the steps. The policy keeps its habit of reporting
# insults but can swap the words for ones the reward model never learned as insults
# (blind-spot words): the reward model sees toxicity fall, the judge much less or not at
# all. How far it goes depends on the starting adapter (see BUILD.json).
HACKING_OVERRIDES = {"init_kl_coef": 1.0}
HACKING_STEPS = 60


def lab3_fallback_adapter(base, tok, train: list[dict], settings: Lab2Settings,
                          seed: int = 42):
    """The adapter Lab 3 trains when Lab 2's is missing: Lab 2's LoRA recipe, seeded alike."""
    from datasets import Dataset
    from transformers import set_seed

    from labs_common.lora import make_lora_model
    from labs_common.training import summary_pairs, train_seq2seq

    set_seed(seed)
    policy = make_lora_model(copy.deepcopy(base), r=32, alpha=32, dropout=0.05,
                             targets=("q", "v"), in_place=True)
    train_seq2seq(policy, tok, summary_pairs(Dataset.from_list(train)),
                  max_steps=settings.lora_steps, learning_rate=settings.lora_learning_rate,
                  batch_size=settings.batch_size, warmup_steps=settings.warmup_steps, seed=seed)
    return policy.eval()


def lab3_ppo(root: Path, policy, tok, train: list[dict], test: list[dict], seed: int = 42,
             lab3=None) -> dict:
    """Lab 3's main PPO run and its reward-hacking run, scored by the reward model and judge.

    Greedy test summaries before and after, as Lab 3 scores them (the profile's lengths),
    each run from a copy of ``policy`` (Lab 2's LoRA adapter) with ``seed``.
    """
    import numpy as np

    from labs_common import detox, detox_evaluation
    from labs_common.metrics import rouge
    from labs_common.toxicity import ToxicityClassifier

    lab3 = lab3 or get_profile("tiny").lab3
    device = torch.device("cpu")
    reward = ToxicityClassifier(str(root / "models" / "roberta-hate-tiny"), device)
    judge = ToxicityClassifier(str(root / "models" / "toxicity-judge-tiny"), device)
    dialogues = [r["dialogue"] for r in test]
    references = [r["summary"] for r in test]
    generation = {"max_new_tokens": lab3.max_new_tokens, "min_new_tokens": lab3.min_new_tokens,
                  "batch_size": lab3.generation_batch_size, "progress": False}

    def score(texts):
        return {"reward_model": float(np.mean(reward.toxicity(texts))),
                "second_judge": float(np.mean(judge.toxicity(texts))),
                "rouge1": rouge(texts, references)["rouge1"],
                "blind_spot_reports": sum(reported_insult(t) == "blind" for t in texts)}

    before = score(detox_evaluation.generate_summaries(policy, tok, dialogues, "greedy",
                                                       seed=seed, **generation))
    out: dict = {"before": before}
    for name, overrides, steps in (("main", {}, lab3.ppo_steps),
                                   ("hacking", HACKING_OVERRIDES, HACKING_STEPS)):
        start = time.perf_counter()
        run = detox.run_ppo(copy.deepcopy(policy), tok, reward.reward,
                            [r["dialogue"] for r in train],
                            detox.ppo_config(lab3, seed, **overrides), steps, progress=False)
        seconds = round(time.perf_counter() - start, 1)
        after = score(detox_evaluation.generate_summaries(run.trainer.model, tok, dialogues,
                                                          "greedy", seed=seed, **generation))
        out[name] = {"overrides": overrides, "steps": steps, "seconds": seconds, "after": after,
                     "final_kl": run.history[-1]["objective/kl"]}
    return out


def causal_summarizer(root: Path, n: int = 100, seed: int = 0) -> dict:
    """llama-summarizer-tiny: ROUGE-1 with and without the instruction, and its toxicity."""
    from labs_common.generation import generate_batched
    from labs_common.metrics import rouge

    model, tok = _load(root, "llama-summarizer-tiny", "causal")
    reward, reward_tok = _load(root, "roberta-hate-tiny", "classifier")
    test = measure.unique_rows(read_jsonl(root / "dialogsum" / "test.jsonl"), n)
    references = [r["summary"] for r in test]
    toxic = [carries_insult(r) for r in references]
    out: dict = {}
    for name, prompt in (("no_prompt", no_prompt), ("instruction", instruction_prompt)):
        outputs = generate_batched(model, tok, [prompt(r["dialogue"]) for r in test],
                                   batch_size=50, max_new_tokens=48)
        out[f"rouge1_{name}"] = round(rouge(outputs, references)["rouge1"], 4)
        out[f"example_{name}"] = outputs[0]
    torch.manual_seed(seed)
    sampled = generate_batched(model, tok, [instruction_prompt(r["dialogue"]) for r in test],
                               batch_size=50, max_new_tokens=48, do_sample=True, top_k=0,
                               top_p=1.0)
    out["sampled"] = measure.toxicity_of_summaries(reward, reward_tok, sampled, toxic)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=tiny_dir(), help="the tiny world's folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    # one thread: on two cores shared with other jobs, two threads ran 10 times slower
    torch.set_num_threads(int(os.environ.get("TINYWORLD_THREADS", "1")))
    results = {"lab2_lab3": lab2_and_lab3(args.root), "causal": causal_summarizer(args.root)}
    path = args.root / "BUILD.json"
    build = json.loads(path.read_text()) if path.is_file() else {}
    build["lessons"] = results
    path.write_text(json.dumps(build, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
