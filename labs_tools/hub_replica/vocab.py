"""Tokenizer files of the same kinds as the real repositories', learned from generated text.

* FLAN-T5: a SentencePiece unigram model (``spiece.model``) plus the ``tokenizer.json``
  transformers builds from it; ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, and the 100
  ``<extra_id_N>`` sentinels at the end of the vocabulary in reverse order, as in T5.
* RoBERTa: byte-level BPE as ``vocab.json`` + ``merges.txt`` and no ``tokenizer.json``,
  like the reward model's repository; ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3 and
  ``<mask>`` last.
* XLM-RoBERTa: a SentencePiece unigram model saved as ``sentencepiece.bpe.model`` (the
  name XLM-R's repositories use) plus ``tokenizer.json``, with fairseq's order: ``<s>`` 0,
  ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, the pieces, and ``<mask>`` last.
* SmolLM2: byte-level BPE ``tokenizer.json`` with SmolLM2's 17 special tokens at ids 0-16
  and a ChatML chat template.

Vocabularies are smaller than the real ones (a few hundred generated dialogues cannot
support 32,000 pieces); the models' ``vocab_size`` stays the real one, so embedding rows
past the tokenizer are never looked up (and the generating models' output rows there are
zeroed, see :mod:`labs_tools.hub_replica.weights`). Every trainer runs single-threaded
with fixed options, so two builds write identical files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

T5_EXTRA_IDS = 100
SMOLLM2_SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>",
    "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
    "<jupyter_script>", "<empty_output>",
)
SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# ChatML: <|im_start|>{role}\n{content}<|im_end|>\n per message; a system message with
# SmolLM2's default text comes first when the conversation has none.
CHATML_TEMPLATE = (
    "{%- set has_system = messages and messages[0]['role'] == 'system' -%}\n"
    "{%- if not has_system -%}\n"
    "{{- '<|im_start|>system\\n" + SMOLLM2_DEFAULT_SYSTEM + "<|im_end|>\\n' -}}\n"
    "{%- endif -%}\n"
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|im_start|>assistant\\n' -}}\n"
    "{%- endif -%}"
)


def write_json(path: Path, data) -> None:
    """JSON with sorted keys and a final newline, so that equal data gives equal bytes."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _added_token(content: str, lstrip: bool = False) -> dict:
    return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False,
            "single_word": False, "special": True}


# --- SentencePiece (FLAN-T5) -------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of a protobuf message, without protobuf installed."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield number, wire, value


def precompiled_charsmap(model: bytes) -> bytes | None:
    """The normalizer table inside a SentencePiece model (ModelProto.normalizer_spec)."""
    for number, _, value in _fields(model):
        if number == 3:  # normalizer_spec
            for inner, _, charsmap in _fields(value):
                if inner == 2:  # precompiled_charsmap
                    return charsmap
    return None


def write_t5_tokenizer(texts: Sequence[str], out: Path, vocab_size: int) -> int:
    """spiece.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json.

    Returns the tokenizer's length (pieces plus sentinels).
    """
    import sentencepiece as spm
    from transformers import T5Tokenizer

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=buffer, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
        unk_piece="<unk>", num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        normalization_rule_name="nmt_nfkc", minloglevel=2,
    )
    model = buffer.getvalue()
    (out / "spiece.model").write_bytes(model)
    processor = spm.SentencePieceProcessor(model_proto=model)
    vocab = [(processor.id_to_piece(i), processor.get_score(i))
             for i in range(processor.get_piece_size())]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(T5_EXTRA_IDS - 1, -1, -1)]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=T5_EXTRA_IDS, model_max_length=512,
                            _spm_precompiled_charsmap=precompiled_charsmap(model))
    (out / "tokenizer.json").write_text(tokenizer.backend_tokenizer.to_str(pretty=True) + "\n",
                                        encoding="utf-8")
    extras = [f"<extra_id_{i}>" for i in range(T5_EXTRA_IDS)]
    write_json(out / "tokenizer_config.json", {
        "additional_special_tokens": extras, "clean_up_tokenization_spaces": True,
        "eos_token": "</s>", "extra_ids": T5_EXTRA_IDS, "model_max_length": 512,
        "pad_token": "<pad>", "sp_model_kwargs": {}, "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>",
    })
    write_json(out / "special_tokens_map.json", {
        "additional_special_tokens": extras, "eos_token": "</s>", "pad_token": "<pad>",
        "unk_token": "<unk>",
    })
    return len(vocab)


def write_xlmr_tokenizer(texts: Sequence[str], out: Path, vocab_size: int) -> int:
    """sentencepiece.bpe.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json."""
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=buffer, model_type="unigram",
        vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, shuffle_input_sentence=False,
        input_sentence_size=0, normalization_rule_name="nmt_nfkc", minloglevel=2,
    )
    model = buffer.getvalue()
    (out / "sentencepiece.bpe.model").write_bytes(model)
    processor = spm.SentencePieceProcessor(model_proto=model)
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(processor.id_to_piece(i), processor.get_score(i))
              for i in range(3, processor.get_piece_size())]
    vocab.append(("<mask>", 0.0))
    tokenizer = XLMRobertaTokenizer(vocab=vocab, model_max_length=512,
                                    _spm_precompiled_charsmap=precompiled_charsmap(model))
    (out / "tokenizer.json").write_text(tokenizer.backend_tokenizer.to_str(pretty=True) + "\n",
                                        encoding="utf-8")
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False,
            "single_word": False}
    special = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": mask,
               "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    write_json(out / "tokenizer_config.json", {
        **special, "model_max_length": 512, "sp_model_kwargs": {},
        "tokenizer_class": "XLMRobertaTokenizer",
    })
    write_json(out / "special_tokens_map.json", special)
    return len(vocab)


# --- byte-level BPE (RoBERTa, SmolLM2) ----------------------------------------------------

def _train_byte_bpe(texts: Sequence[str], vocab_size: int, special: Sequence[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        special_tokens=list(special), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def _vocab_and_merges(tok) -> tuple[dict[str, int], list[str]]:
    model = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return dict(model["vocab"]), merges


def _write_vocab_merges(out: Path, vocab: dict[str, int], merges: list[str]) -> None:
    ordered = dict(sorted(vocab.items(), key=lambda item: item[1]))
    (out / "vocab.json").write_text(json.dumps(ordered, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                    encoding="utf-8")


def write_roberta_tokenizer(texts: Sequence[str], out: Path, vocab_size: int) -> int:
    """vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json.

    ``<mask>`` takes the last id, as in RoBERTa's vocabulary (50264 there).
    """
    tok = _train_byte_bpe(texts, vocab_size, ["<s>", "<pad>", "</s>", "<unk>"])
    vocab, merges = _vocab_and_merges(tok)
    vocab["<mask>"] = len(vocab)
    _write_vocab_merges(out, vocab, merges)
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False,
            "single_word": False}
    special = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": mask,
               "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    write_json(out / "tokenizer_config.json", {
        **special, "add_prefix_space": False, "errors": "replace", "model_max_length": 512,
        "tokenizer_class": "RobertaTokenizer", "trim_offsets": True,
    })
    write_json(out / "special_tokens_map.json", special)
    return len(vocab)


def write_smollm2_tokenizer(texts: Sequence[str], out: Path, vocab_size: int) -> int:
    """tokenizer.json, vocab.json, merges.txt, tokenizer_config.json (with the chat template)."""
    tok = _train_byte_bpe(texts, vocab_size, SMOLLM2_SPECIAL_TOKENS)
    (out / "tokenizer.json").write_text(tok.to_str(pretty=True) + "\n", encoding="utf-8")
    vocab, merges = _vocab_and_merges(tok)
    _write_vocab_merges(out, vocab, merges)
    special = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
               "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
               "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}
    write_json(out / "tokenizer_config.json", {
        **special, "add_prefix_space": False,
        "added_tokens_decoder": {str(i): _added_token(t)
                                 for i, t in enumerate(SMOLLM2_SPECIAL_TOKENS)},
        "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False,
        "model_max_length": 8192, "tokenizer_class": "GPT2Tokenizer",
        "vocab_size": len(vocab),
    })
    write_json(out / "special_tokens_map.json", special)
    return len(vocab)
