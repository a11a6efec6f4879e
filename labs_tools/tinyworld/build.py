"""Rebuild the tiny world under ``data/tiny/``: data, tokenizers, models and BUILD.json.

    python -m labs_tools.tinyworld.build                 # everything (a few minutes)
    python -m labs_tools.tinyworld.build --only data     # the jsonl files only
    python -m labs_tools.tinyworld.build --only models --models roberta-hate-tiny

Everything is generated from fixed seeds and trained for fixed numbers of steps, on
the CPU. ``BUILD.json`` records seeds, schedules, seconds per stage, library versions
and the measured figures of the built models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from labs_common.paths import tiny_dir
from labs_tools.tinyworld import SEED, recipes

MODELS = {
    "flan-t5-tiny": recipes.build_flan_t5,
    "roberta-hate-tiny": recipes.build_reward_model,
    "toxicity-judge-tiny": recipes.build_judge,
    "llama-summarizer-tiny": recipes.build_llama,
}


def versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def _log(message: str) -> None:
    print(f"[tinyworld] {message}", flush=True)


def build_data(world, root: Path) -> dict:
    from labs_tools.tinyworld.world import write_data

    return {"rows": write_data(world, root)}


# Models are trained in two worker processes with one thread each: single-threaded
# training gives the same weights whatever the machine's core count, and the two
# workers keep both cores of a small machine busy. flan-t5-tiny takes about as long
# as the three others together.
WORKER_GROUPS = (("flan-t5-tiny",),
                 ("roberta-hate-tiny", "toxicity-judge-tiny", "llama-summarizer-tiny"))


def _build_group(names: tuple[str, ...], root: Path) -> dict:
    """Build ``names`` one after another in this process, single-threaded."""
    import torch
    import transformers

    from labs_tools.tinyworld.world import build_world

    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    world = build_world(SEED)
    records = {}
    for name in names:
        _log(f"building {name}")
        start, cpu_start = time.perf_counter(), time.process_time()
        record = MODELS[name](world, root / "models" / name,
                              log=lambda m, n=name: _log(f"{n}: {m}"))
        record["seconds_total"] = round(time.perf_counter() - start, 1)
        record["cpu_seconds_total"] = round(time.process_time() - cpu_start, 1)
        record["files"] = {p.name: p.stat().st_size
                           for p in sorted((root / "models" / name).iterdir())}
        records[name] = record
    return records


def build_models(root: Path, names: list[str]) -> dict:
    """Build the models in ``names``, two worker processes at a time."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    groups = [tuple(n for n in group if n in names) for group in WORKER_GROUPS]
    groups = [group for group in groups if group]
    (root / "models").mkdir(parents=True, exist_ok=True)
    records: dict = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(groups), mp_context=context) as pool:
        for result in pool.map(_build_group, groups, [root] * len(groups)):
            records.update(result)
    return {name: records[name] for name in names}


def measure_models(world, root: Path) -> dict:
    """Figures of the built models on the shipped test splits (Lab 1 and the classifiers)."""
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    from labs_tools.tinyworld import measure

    def load(name, cls):
        path = root / "models" / name
        return cls.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)

    figures: dict = {}
    t5, t5_tok = load("flan-t5-tiny", AutoModelForSeq2SeqLM)
    figures["flan-t5-tiny"] = measure.lab1_figures(
        t5, t5_tok, world.dialogsum("test"), world.dialogsum("train"), world.tweets["test"],
        world.tweets["train"])
    test = world.toxicity["test"]
    texts = [str(r["text"]) for r in test]
    probs = {}
    for name in ("roberta-hate-tiny", "toxicity-judge-tiny"):
        model, tok = load(name, AutoModelForSequenceClassification)
        figures[name] = measure.classifier_figures(model, tok, test)
        probs[name] = recipes.hate_probabilities(model, tok, texts)
    figures["judge_agreement"] = measure.agreement(*probs.values())
    return figures


def is_complete(root: Path) -> bool:
    """Whether ``root`` holds every shipped data file and every model."""
    from labs_tools.tinyworld.world import SHIPPED_FILES

    return (all((root / name).is_file() for name in SHIPPED_FILES)
            and all((root / "models" / name / "config.json").is_file() for name in MODELS))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild the tiny world under data/tiny/.")
    parser.add_argument("--only", choices=("data", "models"),
                        help="rebuild only the data files or only the models")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS),
                        help="which models to rebuild (default: all)")
    parser.add_argument("--no-measure", action="store_true",
                        help="skip measuring the built models")
    parser.add_argument("--root", type=Path, default=tiny_dir(), help="output folder")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing if every data file and model is already there")
    args = parser.parse_args(argv)
    if args.if_missing and is_complete(args.root):
        _log(f"{args.root} is complete; nothing to build")
        return

    import torch
    import transformers

    torch.set_num_threads(int(os.environ.get("TINYWORLD_THREADS", "2")))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.utils.logging.disable_progress_bar()
    from labs_tools.tinyworld.world import build_world

    root: Path = args.root
    path = root / "BUILD.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    record.update({"seed": SEED, "command": " ".join(["python -m labs_tools.tinyworld.build",
                                                       *sys.argv[1:]]),
                   "versions": versions(), "training_threads_per_model": 1,
                   "measure_threads": torch.get_num_threads()})
    stages = record.setdefault("stages", {})
    started = start = time.perf_counter()
    world = build_world(SEED)
    stages["generate"] = {"seconds": round(time.perf_counter() - start, 2)}
    if args.only in (None, "data"):
        start = time.perf_counter()
        stages["data"] = build_data(world, root)
        stages["data"]["seconds"] = round(time.perf_counter() - start, 2)
        _log(f"data written to {root}")
    if args.only in (None, "models"):
        start = time.perf_counter()
        stages.setdefault("models", {}).update(build_models(root, args.models))
        stages["models_wall_seconds"] = round(time.perf_counter() - start, 1)
    if not args.no_measure and args.only != "data":
        _log("measuring the built models")
        start = time.perf_counter()
        record["figures"] = measure_models(world, root)
        stages["measure"] = {"seconds": round(time.perf_counter() - start, 1)}
    stages["total_wall_seconds"] = round(time.perf_counter() - started, 1)
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    _log(f"wrote {path}")


if __name__ == "__main__":
    main()
