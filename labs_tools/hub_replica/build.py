"""Write a folder of Hub-shaped replicas: ``<out>/<repo id>/`` for every repository.

    python -m labs_tools.hub_replica --out DIR               # scale ci, the profile's repos
    python -m labs_tools.hub_replica --out DIR --scale real  # real dimensions and row counts
    python -m labs_tools.hub_replica --out DIR --repo google/flan-t5-base
    python -m labs_tools.hub_replica --out DIR --all-recipes # also s-nlp's bin-only judge
    python -m labs_tools.hub_replica --list

The ``full`` profile can then load every id from that folder (``from_pretrained(DIR/id)``,
``load_dataset(DIR/id)``), so its code path runs in CI without the Hub. The weights are
random and the text generated: nothing here is, or claims to be, a real model or dataset.
``REPLICA.json`` at the folder root records the scale, the builder version, each
repository's kind, files (with SHA-256) and the real revision it imitates.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from labs_tools.hub_replica import recipes, text, vocab, weights
from labs_tools.hub_replica.recipes import Recipe, recipe_for

BUILDER_VERSION = 3  # 3: recipes removed, so two repos' weight seeds moved
SEED = 4321  # every replica's weights, tokenizer and rows derive from this
PROFILE_FIELDS = ("summarizer", "toxicity_classifier", "toxicity_judge", "causal_policy",
                  "dialogue_dataset", "sentiment_dataset")
# Tokenizer vocabulary targets (the learned vocabularies come out at or below these).
VOCAB_TARGETS = {"ci": 1500, "real": 8000}
CORPUS_DIALOGUES = {"ci": 400, "real": 3000}
NOTICE = ("Replica for offline tests: random weights and generated text in the layout of the "
          "Hub repositories named here. Not the real models or data.")


def profile_repos(profile_name: str = "full") -> list[str]:
    """The Hub ids the profile names, in the order of its fields."""
    from labs_common.profiles import get_profile

    profile = get_profile(profile_name)
    return list(dict.fromkeys(getattr(profile, name) for name in PROFILE_FIELDS))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_model(recipe: Recipe, out: Path, scale: str, corpus: list[str]) -> dict:
    config = recipes.scaled_config(recipe, scale)
    target = VOCAB_TARGETS[scale]
    if recipe.kind == "t5":
        size = vocab.write_t5_tokenizer(corpus, out, target)
    elif recipe.kind == "roberta":
        size = vocab.write_roberta_tokenizer(corpus, out, target)
    elif recipe.kind == "xlm-roberta":
        size = vocab.write_xlmr_tokenizer(corpus, out, target)
    elif recipe.kind == "llama":
        size = vocab.write_smollm2_tokenizer(corpus, out, target)
    else:
        raise ValueError(f"{recipe.repo_id}: no tokenizer writer for kind {recipe.kind!r}")
    if size > config["vocab_size"]:
        raise ValueError(f"{recipe.repo_id}: tokenizer has {size} tokens, more than the "
                         f"model's vocab_size {config['vocab_size']}")
    vocab.write_json(out / "config.json", config)
    if recipe.generation_config is not None:
        vocab.write_json(out / "generation_config.json", recipe.generation_config)
    seed = SEED + sorted(recipes.RECIPES).index(recipe.repo_id)
    state = weights.random_state_dict(recipe.kind, config, seed, tokenizer_size=size)
    weights.write_weights(out, state, recipe.has_safetensors)
    return {"tokenizer_size": size, "parameters": weights.count_parameters(state)}


def _write_data(recipe: Recipe, out: Path, scale: str) -> dict:
    if recipe.kind == "dialogsum":
        splits = text.dialogsum_rows(SEED, recipes.DIALOGSUM_ROWS[scale],
                                     recipes.TEST_SUMMARIES)
        for split, rows in splits.items():
            text.write_csv(out / f"{split}.csv", rows)
    else:
        splits = text.tweet_rows(SEED, recipes.TWEET_ROWS[scale], balanced=scale == "ci")
        for split, rows in splits.items():
            text.write_jsonl(out / f"{split}.jsonl", rows)
    return {"rows": {split: len(rows) for split, rows in splits.items()}}


def build_repo(repo_id: str, out: Path, scale: str = "ci",
               corpus: list[str] | None = None) -> dict:
    """Write ``out/<repo_id>/`` afresh and return its record for REPLICA.json."""
    recipe = recipe_for(repo_id)
    if scale not in recipes.SCALES:
        raise ValueError(f"scale must be one of {recipes.SCALES}, not {scale!r}")
    folder = Path(out) / repo_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    if recipe.is_model:
        corpus = corpus or text.tokenizer_corpus(SEED, CORPUS_DIALOGUES[scale])
        record = _write_model(recipe, folder, scale, corpus)
    else:
        record = _write_data(recipe, folder, scale)
    written = sorted(p.name for p in folder.iterdir())
    if written != sorted(recipe.files):
        raise AssertionError(f"{repo_id}: wrote {written}, the recipe lists {sorted(recipe.files)}")
    seconds = round(time.perf_counter() - start, 2)
    return {"kind": recipe.kind, "real_revision": recipe.revision,
            "real_revision_note": recipe.revision_note or None,
            "files": {name: _sha256(folder / name) for name in written},
            **record, "_seconds": seconds}


def build_replica(out: Path, scale: str = "ci", repos: Iterable[str] | None = None) -> dict:
    """Build every repository in ``repos`` (default: the full profile's) under ``out``.

    Checks that each id has a recipe before writing anything, writes ``REPLICA.json`` and
    returns its content (plus build seconds, which the file leaves out so that two builds
    are byte-identical).
    """
    out = Path(out)
    repo_ids = list(dict.fromkeys(repos if repos is not None else profile_repos()))
    for repo_id in repo_ids:
        recipe_for(repo_id)  # a missing recipe fails before anything is written
    corpus = text.tokenizer_corpus(SEED, CORPUS_DIALOGUES[scale])
    built = {repo_id: build_repo(repo_id, out, scale, corpus) for repo_id in repo_ids}
    seconds = {repo_id: record.pop("_seconds") for repo_id, record in built.items()}
    record = {"notice": NOTICE, "builder_version": BUILDER_VERSION, "scale": scale,
              "seed": SEED, "repos": built}
    vocab.write_json(out / "REPLICA.json", record)
    return {**record, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m labs_tools.hub_replica",
        description="Write Hub-shaped replicas (random weights, generated data) of the "
                    "full profile's repositories.")
    parser.add_argument("--out", type=Path, help="folder to write <repo id>/ into")
    parser.add_argument("--scale", choices=recipes.SCALES, default="ci",
                        help="ci: small widths, small splits (default); real: real sizes")
    parser.add_argument("--repo", action="append", dest="repos", metavar="ID",
                        help="build only this repository (repeatable)")
    parser.add_argument("--all-recipes", action="store_true",
                        help="build every recipe, including those no profile names "
                             "(s-nlp's classifier, which ships only pytorch_model.bin)")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    args = parser.parse_args(argv)
    if args.list:
        in_profile = set(profile_repos())
        for repo_id, recipe in sorted(recipes.RECIPES.items()):
            mark = "*" if repo_id in in_profile else " "
            print(f"{mark} {repo_id:52} {recipe.kind:11} {', '.join(recipe.files)}")
        return
    if args.out is None:
        parser.error("--out is required")
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    repos = sorted(recipes.RECIPES) if args.all_recipes else args.repos
    record = build_replica(args.out, args.scale, repos)
    for repo_id, seconds in record["seconds"].items():
        print(f"[hub_replica] {repo_id}: {seconds} s")
    print(f"[hub_replica] wrote {args.out / 'REPLICA.json'}")


if __name__ == "__main__":
    main()
