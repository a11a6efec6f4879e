"""Batched toxicity scoring (``ToxicityClassifier``) against one call per text.

The seeds' ``evaluate_toxicity`` called evaluate's ``toxicity`` measurement once per
generated summary, i.e. one classifier forward pass per text. Both sides here score the
same texts (a prompt with its dialogue plus a summary, as the seeds scored them) with the
same RoBERTa classifier, in float32 as ``labs_common.models.load_classifier`` loads it.

    python -m benchmarks.bench_toxicity --scale tiny --device cpu
"""

from __future__ import annotations

import tempfile

from benchmarks.common import (
    Details,
    Device,
    Result,
    Scale,
    release_memory,
    run_cli,
    save_classifier,
    synthetic_dialogues,
    time_repeats,
)
from benchmarks.seed_style import toxicity_one_at_a_time
from labs_common.prompts import instruction_prompt
from labs_common.toxicity import ToxicityClassifier


def run(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    with tempfile.TemporaryDirectory() as directory:
        save_classifier(scale, directory)
        classifier = ToxicityClassifier(directory, device=device)
    rows = synthetic_dialogues(scale, scale.toxicity_examples, seed=4)
    texts = [instruction_prompt(row["dialogue"]) + " " + row["summary"] for row in rows]
    scores: dict[str, list[float]] = {}

    def ours():
        scores["ours"] = classifier.toxicity(texts)

    def seed_style():
        scores["seed-style"] = toxicity_one_at_a_time(
            classifier.model, classifier.tokenizer, texts, classifier.toxic_index,
            classifier.max_length)

    ours_timing = time_repeats(ours, device=device, repeats=scale.repeats, warmup=1)
    seed_timing = time_repeats(seed_style, device=device, repeats=scale.baseline_repeats,
                               warmup=1)
    difference = max(abs(a - b) for a, b in zip(scores["ours"], scores["seed-style"],
                                                 strict=True))
    batch_size = classifier.batch_size
    classifier = None  # free it before the next benchmark
    release_memory()

    count = len(texts)
    note = f"batch {batch_size}, float32"
    results = [Result("toxicity scoring", "texts/s", "throughput",
                      count / seed_timing.median, count / ours_timing.median, note)]
    details: Details = {
        "texts": count,
        "seconds": {"seed-style": seed_timing.seconds, "ours": ours_timing.seconds},
        "seconds_per_example": {"seed-style": seed_timing.median / count,
                                "ours": ours_timing.median / count},
        "max_score_difference": difference,
    }
    return results, details


def main(argv: list[str] | None = None) -> None:
    run_cli(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    main()
