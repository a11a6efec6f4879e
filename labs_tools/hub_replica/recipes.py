"""What each Hub repository of the ``full`` profile looks like, as a table the builder follows.

A recipe names the repository's kind (which builder writes it), the real ``config.json``
values, the files the real repository ships (so a replica has ``model.safetensors`` only
where the real one does) and the revision it was seen at. The values come from the
repositories' own config files and file lists as published on the Hub (see
``REAL_SOURCES``); where only a third party's copy could be read, the recipe says so.
One recipe is for a repository no profile names: ``s-nlp/roberta_toxicity_classifier``,
which ships only ``pytorch_model.bin``, so that the labs' refusal of pickled weights
meets a real case (``--all-recipes`` builds it).

Scale ``real`` writes the real dimensions; scale ``ci`` keeps every config key, label map,
special-token id and vocabulary size and shrinks only width and depth (``CI_SIZES``), so
that a few training steps on a CPU take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCALES = ("ci", "real")

# Model kinds and data kinds the builder knows how to write.
MODEL_KINDS = ("t5", "roberta", "xlm-roberta", "llama")
DATA_KINDS = ("dialogsum", "tweets")


@dataclass(frozen=True)
class Recipe:
    """How to write one repository: its kind, its real config and its real file list."""

    repo_id: str
    kind: str  # one of MODEL_KINDS or DATA_KINDS
    files: tuple[str, ...]  # the files the replica writes, named as in the real repository
    config: dict = field(default_factory=dict)  # the real config.json (models only)
    generation_config: dict | None = None  # the real generation_config.json, if it has one
    revision: str | None = None  # a commit of the real repository the recipe was read at
    revision_note: str = ""  # where that commit was seen
    notes: str = ""

    @property
    def is_model(self) -> bool:
        return self.kind in MODEL_KINDS

    @property
    def has_safetensors(self) -> bool:
        return "model.safetensors" in self.files


FLAN_T5_BASE = {
    "architectures": ["T5ForConditionalGeneration"],
    "d_ff": 2048,
    "d_kv": 64,
    "d_model": 768,
    "decoder_start_token_id": 0,
    "dense_act_fn": "gelu_new",
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": True,
    "is_gated_act": True,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "n_positions": 512,
    "num_decoder_layers": 12,
    "num_heads": 12,
    "num_layers": 12,
    "output_past": True,
    "pad_token_id": 0,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,  # FLAN-T5 (T5 v1.1) has a separate lm_head
    "torch_dtype": "float32",
    "transformers_version": "4.23.1",
    "use_cache": True,
    "vocab_size": 32128,
}

_ROBERTA_COMMON = {
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514,
    "model_type": "roberta",
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": 50265,
}

ROBERTA_HATE = {
    **_ROBERTA_COMMON,
    "architectures": ["RobertaForSequenceClassification"],
    "hidden_size": 768,
    "id2label": {"0": "nothate", "1": "hate"},
    "intermediate_size": 3072,
    "label2id": {"hate": 1, "nothate": 0},
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "torch_dtype": "float32",
    "transformers_version": "4.11.3",
}

# s-nlp's classifier is a fine-tuned roberta-large.
ROBERTA_TOXICITY_SNLP = {
    **_ROBERTA_COMMON,
    "architectures": ["RobertaForSequenceClassification"],
    "hidden_size": 1024,
    "id2label": {"0": "neutral", "1": "toxic"},
    "intermediate_size": 4096,
    "label2id": {"neutral": 0, "toxic": 1},
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "transformers_version": "4.6.1",
}

# textdetox's classifier is a fine-tuned xlm-roberta-large: xlm-roberta-large's dimensions,
# two classes. Its labels are saved under the default names LABEL_0 / LABEL_1 (a public
# project reads "LABEL_1" as toxic); the profile names the toxic class by index.
XLMR_TOXICITY_TEXTDETOX = {
    "architectures": ["XLMRobertaForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "classifier_dropout": None,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 1024,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514,
    "model_type": "xlm-roberta",
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "problem_type": "single_label_classification",
    "torch_dtype": "float32",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": 250002,
}

SMOLLM2_135M_INSTRUCT = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 576,
    "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536,
    "is_llama_config": True,
    "max_position_embeddings": 8192,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "pad_token_id": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_interleaved": False,
    "rope_scaling": None,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.42.3",
    "use_cache": True,
    "vocab_size": 49152,
}

# Width and depth at scale "ci"; every other config value stays the real one.
CI_SIZES = {
    "t5": {"d_model": 64, "d_kv": 16, "d_ff": 128, "num_heads": 4, "num_layers": 2,
           "num_decoder_layers": 2},
    "roberta": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                "num_hidden_layers": 2},
    "xlm-roberta": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                    "num_hidden_layers": 1},
    "llama": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
              "num_key_value_heads": 2, "num_hidden_layers": 2, "head_dim": 16},
}

_T5_TOKENIZER_FILES = ("spiece.model", "tokenizer.json", "tokenizer_config.json",
                       "special_tokens_map.json")
_BPE_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")

RECIPES: dict[str, Recipe] = {
    recipe.repo_id: recipe
    for recipe in (
        Recipe(
            "google/flan-t5-base", "t5",
            files=("config.json", "generation_config.json", "model.safetensors",
                   *_T5_TOKENIZER_FILES),
            config=FLAN_T5_BASE,
            revision="7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
            revision_note="MTEB's model metadata and other public pin files",
            generation_config={"decoder_start_token_id": 0, "eos_token_id": 1,
                               "pad_token_id": 0, "transformers_version": "4.27.0.dev0"},
            notes="The real repository also ships pytorch_model.bin and other frameworks' "
                  "weights; the replica writes only the safetensors file the labs load.",
        ),
        Recipe(
            "facebook/roberta-hate-speech-dynabench-r4-target", "roberta",
            files=("config.json", "model.safetensors", *_BPE_FILES),
            config=ROBERTA_HATE,
            revision="391c99ab8b3f65beb77746a2cf6ddf1ddf9817e6",
            revision_note="evaluated at this commit by a public model-audit report",
            notes="No tokenizer.json on the Hub: transformers builds the fast tokenizer "
                  "from vocab.json and merges.txt. model.safetensors came with a merged "
                  "conversion pull request; pytorch_model.bin is left out of the replica.",
        ),
        Recipe(
            "s-nlp/roberta_toxicity_classifier", "roberta",
            files=("config.json", "pytorch_model.bin", *_BPE_FILES),
            config=ROBERTA_TOXICITY_SNLP,
            revision="048c25bb1e199b98802784f96325f4840f22145d",
            revision_note="pinned by a public toxicity-annotator build script",
            notes="Only pytorch_model.bin (a pickle): the labs must refuse it.",
        ),
        Recipe(
            "textdetox/xlmr-large-toxicity-classifier", "xlm-roberta",
            files=("config.json", "model.safetensors", "sentencepiece.bpe.model",
                   "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"),
            config=XLMR_TOXICITY_TEXTDETOX,
            revision="b9c7c563427c591fc318d91eb592381ae2fbde66",
            revision_note="evaluated at this commit by a public model-audit report",
            notes="xlm-roberta-large fine-tuned on textdetox/multilingual_toxicity_dataset "
                  "(not Dynabench); the model page lists safetensors weights.",
        ),
        Recipe(
            "HuggingFaceTB/SmolLM2-135M-Instruct", "llama",
            files=("config.json", "generation_config.json", "model.safetensors",
                   "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.json", "merges.txt"),
            config=SMOLLM2_135M_INSTRUCT,
            generation_config={"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
                               "transformers_version": "4.42.3"},
            revision="12fd25f77366fa6b3b4b768ec3050bf629380bac",
            revision_note="pinned by a public project's model-pin table",
        ),
        Recipe(
            "knkarthick/dialogsum", "dialogsum",
            files=("train.csv", "validation.csv", "test.csv", "holdout.csv"),
            notes="holdout.csv is not a split name datasets infers, so loading the folder "
                  "gives train, validation and test only, as on the Hub.",
        ),
        Recipe(
            "mteb/tweet_sentiment_extraction", "tweets",
            files=("train.jsonl", "test.jsonl"),
            revision="d604517c81ca91fe16a244d1248fc021f9ecee7a",
            revision_note="the revision MTEB evaluates on",
        ),
    )
}

# Rows per split: "real" is the real repositories' row count.
DIALOGSUM_ROWS = {
    "ci": {"train": 300, "validation": 30, "test": 50, "holdout": 10},
    "real": {"train": 12460, "validation": 500, "test": 500, "holdout": 100},
}
TEST_SUMMARIES = 3  # the DialogSum test split repeats each dialogue with 3 human summaries
TWEET_ROWS = {"ci": {"train": 300, "test": 150}, "real": {"train": 27481, "test": 3534}}

REAL_SOURCES = {
    "textdetox/xlmr-large-toxicity-classifier: safetensors, training data, xlm-roberta-large":
        "the model page and README (a mirror's blame view of README.md, tagged Safetensors)",
    "facebook/roberta-hate-speech-dynabench-r4-target at 391c99ab8b3f": "a public audit report",
    "google/flan-t5-base at 7bcac572ce56": "MTEB's model metadata and other public pin files",
    "SmolLM2 family config (hidden 576, 30 layers, 9/3 heads, rope_theta 100000, tied)":
        "public copies of HuggingFaceTB/SmolLM2-135M config.json",
    "SmolLM2 special tokens 0-16": "SmolLM2 derivatives' tokenizer_config.json on the Hub",
    "s-nlp labels neutral/toxic, Jigsaw 2018-2020 training data":
        "https://huggingface.co/s-nlp/roberta_toxicity_classifier (model card)",
}


def recipe_for(repo_id: str) -> Recipe:
    """The recipe for ``repo_id``, or a clear error naming the ids that have one."""
    try:
        return RECIPES[repo_id]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise KeyError(
            f"No replica recipe for {repo_id!r}. Add one to labs_tools/hub_replica/recipes.py "
            f"(its kind, real config.json and file list); recipes exist for: {known}."
        ) from None


def scaled_config(recipe: Recipe, scale: str) -> dict:
    """The recipe's config.json at ``scale``: real dimensions, or CI_SIZES' small ones."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    config = dict(recipe.config)
    if scale == "ci":
        config.update(CI_SIZES[recipe.kind])
    return config
