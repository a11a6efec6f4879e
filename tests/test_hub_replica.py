"""The Hub replica: every repository of the full profile, shaped like the real one.

One build per session (scale ci, every recipe) serves all tests; a second build in a
fresh process, with another hash seed, must write the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from labs_tools.hub_replica import build_replica, profile_repos, recipe_for
from labs_tools.hub_replica.recipes import RECIPES, scaled_config
from labs_tools.hub_replica.weights import config_object

T5 = "google/flan-t5-base"
REWARD = "facebook/roberta-hate-speech-dynabench-r4-target"
SNLP = "s-nlp/roberta_toxicity_classifier"
DETOX = "textdetox/xlmr-large-toxicity-classifier"
SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"
DIALOGSUM = "knkarthick/dialogsum"
TWEETS = "mteb/tweet_sentiment_extraction"

# The real repositories' config values, written out here independently of the recipes.
REAL_CONFIG = {
    T5: {"d_model": 768, "d_ff": 2048, "d_kv": 64, "num_heads": 12, "num_layers": 12,
         "num_decoder_layers": 12, "vocab_size": 32128, "feed_forward_proj": "gated-gelu",
         "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0,
         "relative_attention_num_buckets": 32, "tie_word_embeddings": False},
    REWARD: {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 50265, "max_position_embeddings": 514,
             "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "type_vocab_size": 1},
    SNLP: {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
           "intermediate_size": 4096, "vocab_size": 50265, "max_position_embeddings": 514},
    DETOX: {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "vocab_size": 250002, "max_position_embeddings": 514,
            "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "type_vocab_size": 1},
    SMOL: {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
           "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
           "vocab_size": 49152, "max_position_embeddings": 8192, "rope_theta": 100000,
           "rms_norm_eps": 1e-05, "tie_word_embeddings": True, "bos_token_id": 1,
           "eos_token_id": 2, "pad_token_id": 2},
}
LABELS = {REWARD: {0: "nothate", 1: "hate"}, SNLP: {0: "neutral", 1: "toxic"},
          DETOX: {0: "LABEL_0", 1: "LABEL_1"}}
BIN_ONLY = (SNLP,)
SAFETENSORS = (T5, REWARD, DETOX, SMOL)
# The judge's files on the Hub (the weights as safetensors, an XLM-R SentencePiece model).
DETOX_FILES = {"config.json", "model.safetensors", "sentencepiece.bpe.model", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json"}


@pytest.fixture(scope="session")
def replica(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub_replica")
    build_replica(root, "ci", repos=sorted(RECIPES))
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_second_build_in_another_process_writes_the_same_bytes(replica, tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "labs_tools.hub_replica", "--out", str(tmp_path),
                    "--all-recipes"], check=True, env=env, capture_output=True)
    first, second = _hashes(replica), _hashes(tmp_path)
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []


def test_every_repository_of_the_full_profile_is_built(replica):
    record = json.loads((replica / "REPLICA.json").read_text())
    assert record["scale"] == "ci" and record["builder_version"] >= 1
    assert "Not the real models or data" in record["notice"]
    for repo_id in profile_repos():
        assert (replica / repo_id).is_dir(), repo_id
        assert repo_id in record["repos"]
        assert sorted(record["repos"][repo_id]["files"]) == sorted(recipe_for(repo_id).files)
    assert record["repos"][TWEETS]["real_revision"] == "d604517c81ca91fe16a244d1248fc021f9ecee7a"


def test_an_id_without_a_recipe_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(KeyError, match="No replica recipe for 'someone/unknown-model'"):
        build_replica(tmp_path, "ci", repos=[T5, "someone/unknown-model"])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("repo_id", sorted(REAL_CONFIG))
def test_config_values_are_the_real_ones(replica, repo_id):
    saved = json.loads((replica / repo_id / "config.json").read_text())
    assert saved == scaled_config(recipe_for(repo_id), "ci")
    real = scaled_config(recipe_for(repo_id), "real")
    assert {k: real[k] for k in REAL_CONFIG[repo_id]} == REAL_CONFIG[repo_id]
    shrunk = set(k for k in real if real[k] != saved[k])
    assert "vocab_size" not in shrunk and not any(k.endswith("token_id") for k in shrunk)
    config = config_object(real)  # the real-scale config object, no weights allocated
    assert config.vocab_size == REAL_CONFIG[repo_id]["vocab_size"]


def test_flan_t5_base_at_real_scale_has_its_untied_parameter_count():
    config = config_object(scaled_config(recipe_for(T5), "real"))
    from transformers import T5ForConditionalGeneration

    with torch.device("meta"):
        model = T5ForConditionalGeneration(config)
    tied = sum(p.numel() for p in model.parameters())
    untied = tied + model.lm_head.weight.numel()
    assert round(tied / 1e6, 1) == 222.9 and round(untied / 1e6, 1) == 247.6


def test_models_load_with_the_auto_classes_and_safetensors(replica):
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoModelForSequenceClassification,
    )

    t5 = AutoModelForSeq2SeqLM.from_pretrained(replica / T5, use_safetensors=True)
    assert t5.lm_head.weight.data_ptr() != t5.shared.weight.data_ptr()
    assert not torch.equal(t5.lm_head.weight, t5.shared.weight)  # untied, like FLAN-T5's
    assert t5.encoder.embed_tokens.weight.data_ptr() == t5.shared.weight.data_ptr()
    smol = AutoModelForCausalLM.from_pretrained(replica / SMOL, use_safetensors=True)
    assert smol.lm_head.weight.data_ptr() == smol.model.embed_tokens.weight.data_ptr()
    assert smol.dtype == torch.bfloat16  # the real checkpoint's dtype
    for repo_id in (REWARD, DETOX):
        model = AutoModelForSequenceClassification.from_pretrained(replica / repo_id,
                                                                   use_safetensors=True)
        assert model.config.id2label == LABELS[repo_id]


@pytest.mark.parametrize("repo_id", BIN_ONLY)
def test_a_bin_only_repository_has_no_safetensors(replica, repo_id):
    from transformers import AutoModelForSequenceClassification

    folder = replica / repo_id
    assert (folder / "pytorch_model.bin").is_file()
    assert not list(folder.glob("*.safetensors"))
    with pytest.raises(OSError):
        AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=False)
    assert model.config.id2label == LABELS[repo_id]


def test_safetensors_only_where_the_real_repository_has_it(replica):
    for repo_id in SAFETENSORS:
        assert (replica / repo_id / "model.safetensors").is_file()
        assert not (replica / repo_id / "pytorch_model.bin").exists()


def test_the_textdetox_judge_ships_the_real_repositorys_files(replica):
    assert {p.name for p in (replica / DETOX).iterdir()} == DETOX_FILES


def test_t5_tokenizer_is_sentencepiece_with_t5_special_ids(replica):
    from transformers import AutoTokenizer

    folder = replica / T5
    tok = AutoTokenizer.from_pretrained(folder)
    assert (folder / "spiece.model").is_file()
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    assert tok.convert_tokens_to_ids("<extra_id_0>") == len(tok) - 1
    assert tok.convert_tokens_to_ids("<extra_id_99>") == len(tok) - 100
    assert tok.model_max_length == 512 and len(tok) <= 32128
    text = "#Person1#: Hi, I'd like to book a flight to Paris, please. It costs $450."
    ids = tok(text).input_ids
    assert ids[-1] == 1 and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_reward_model_tokenizer_is_byte_level_bpe_without_tokenizer_json(replica):
    from transformers import AutoTokenizer

    folder = replica / REWARD
    assert {"vocab.json", "merges.txt"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "tokenizer.json").exists()
    tok = AutoTokenizer.from_pretrained(folder)
    assert [tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert tok.mask_token_id == len(tok) - 1 and tok.model_max_length == 512
    text = "You are a terrible waiter!\nÜber naïve café."  # bytes it never saw still encode
    ids = tok(text).input_ids
    assert ids[0] == 0 and ids[-1] == 2 and tok.decode(ids, skip_special_tokens=True) == text


def test_judge_tokenizer_is_xlmr_sentencepiece_with_fairseq_special_ids(replica):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(replica / DETOX)
    assert [tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token == "<mask>" and tok.mask_token_id == len(tok) - 1
    assert len(tok) <= json.loads((replica / DETOX / "config.json").read_text())["vocab_size"]
    text = "You are a terrible waiter, and the soup was cold."
    ids = tok(text).input_ids
    assert ids[0] == 0 and ids[-1] == 2 and tok.unk_token_id not in ids
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[0] == "<s>" and tokens[-1] == "</s>" and "<s>" not in tokens[1:-1]
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_the_judge_loads_as_a_toxicity_classifier_with_its_toxic_index(replica):
    from labs_common.toxicity import ToxicityClassifier

    judge = ToxicityClassifier(str(replica / DETOX), "cpu", toxic_index=1)
    assert (judge.toxic_index, judge.clean_index) == (1, 0)
    scores = judge.toxicity(["hello", "You are an idiot."])
    assert len(scores) == 2 and all(0.0 <= p <= 1.0 for p in scores)
    with pytest.raises(ValueError, match="LABEL_0"):  # unnamed labels need the index
        ToxicityClassifier(str(replica / DETOX), "cpu")


def test_greedy_generation_from_flan_t5_decodes_to_text(replica):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(replica / T5)
    model = AutoModelForSeq2SeqLM.from_pretrained(replica / T5, use_safetensors=True).eval()
    inputs = tok(["Summarize the following conversation.\n#Person1#: Hi!\n#Person2#: Hello."],
                 return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    ids = output[0].tolist()
    assert max(ids) < len(tok)  # rows past the tokenizer are zeroed, so never chosen
    assert tok.decode(ids, skip_special_tokens=True).strip()


def test_smollm2_tokenizer_has_its_special_tokens_and_a_chatml_template(replica):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(replica / SMOL)
    assert [tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_start|>",
                                                   "<|im_end|>")] == [0, 1, 2]
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (1, 2, 2)
    assert len(tok) <= 49152
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    with_system = tok.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        tokenize=False)
    assert with_system == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                           "<|im_start|>user\nhi<|im_end|>\n")
    text = "#Person1#: Hello!\n#Person2#: Hi."
    assert tok.decode(tok(text).input_ids) == text


def test_dialogsum_loads_with_its_splits_and_the_test_repeats(replica, tmp_path):
    from datasets import load_dataset

    data = load_dataset(str(replica / DIALOGSUM), cache_dir=str(tmp_path))
    assert sorted(data) == ["test", "train", "validation"]  # holdout.csv is not a split
    for split in data.values():
        assert split.column_names == ["id", "dialogue", "summary", "topic"]
    assert (len(data["train"]), len(data["validation"]), len(data["test"])) == (300, 30, 150)
    counts = Counter(data["test"]["dialogue"])
    assert set(counts.values()) == {3}
    by_dialogue: dict[str, set[str]] = {}
    for row in data["test"]:
        by_dialogue.setdefault(row["dialogue"], set()).add(row["summary"])
    assert all(len(summaries) == 3 for summaries in by_dialogue.values())
    train = data["train"]
    assert all(d.startswith("#Person") for d in train["dialogue"])
    assert not set(train["dialogue"]) & set(data["test"]["dialogue"])


def test_dialogues_have_dialogsum_lengths(replica):
    from transformers import AutoTokenizer

    from labs_common.prompts import instruction_prompt

    tok = AutoTokenizer.from_pretrained(replica / T5)
    rows = list(csv.DictReader((replica / DIALOGSUM / "train.csv").open(encoding="utf-8")))
    lengths = sorted(len(tok(instruction_prompt(r["dialogue"])).input_ids) for r in rows)
    assert 150 <= lengths[len(lengths) // 2] <= 260 and lengths[0] >= 40 and lengths[-1] <= 512
    summary = sorted(len(tok(r["summary"]).input_ids) for r in rows)[len(rows) // 2]
    assert 15 <= summary <= 50


def test_tweets_load_with_the_revisions_columns(replica, tmp_path):
    from datasets import load_dataset

    data = load_dataset(str(replica / TWEETS), cache_dir=str(tmp_path))
    assert sorted(data) == ["test", "train"]
    assert (len(data["train"]), len(data["test"])) == (300, 150)
    names = {0: "negative", 1: "neutral", 2: "positive"}
    for split in data.values():
        assert split.column_names == ["id", "text", "label", "label_text"]
        assert all(names[label] == text for label, text in zip(split["label"],
                                                                split["label_text"],
                                                                strict=True))
        assert Counter(split["label"]) == {0: len(split) // 3, 1: len(split) // 3,
                                           2: len(split) // 3}
    ids = list(data["train"]["id"]) + list(data["test"]["id"])
    assert len(set(ids)) == len(ids) and all(len(i) == 10 for i in ids)


def test_the_replica_imitates_the_commits_the_profile_pins():
    from labs_common.hub import HUB_REVISIONS
    from labs_common.profiles import get_profile
    from labs_tools.hub_replica.recipes import RECIPES

    for repo_id in get_profile("full").hub_repositories():
        assert RECIPES[repo_id].revision == HUB_REVISIONS.get(repo_id), repo_id
