"""Shared fixtures: a tiny randomly initialised T5 and a word-level tokenizer built in memory."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

WORDS = (
    "summarize the following conversation summary dialogue what was going on "
    "#Person1# #Person2# hello hi how are you fine thanks buy a ticket to paris on monday "
    "tweet sentiment negative neutral positive classify each as or i love hate this day "
    ": . , ? !"
).split()


@pytest.fixture(scope="session")
def word_tokenizer():
    """A whitespace word-level tokenizer with T5's special tokens (pad 0, eos 1, unk 2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word.lower(), len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
    )


@pytest.fixture(scope="session")
def tiny_t5(word_tokenizer):
    """A 2-layer T5 with random weights (seeded): enough to test plumbing, not quality."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(word_tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config).eval()


@pytest.fixture(scope="session")
def t5_tokenizer():
    """The ten-word tokenizer of tests/tiny_policies.py, appending T5's EOS to every text."""
    from tiny_policies import word_level_tokenizer

    return word_level_tokenizer(append_eos=True)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and far faster than on many when the CPU is busy.

    A module asks for it with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
