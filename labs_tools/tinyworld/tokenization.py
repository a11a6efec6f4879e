"""Tokenizers trained on the generated text, wrapped in the transformers classes the Hub uses.

Each builder returns a tokenizer of the class the real model ships with (``T5Tokenizer``,
``RobertaTokenizer``, ``BertTokenizer``, ``LlamaTokenizer``), constructed from learned
vocabularies so that ``save_pretrained`` and ``AutoTokenizer.from_pretrained`` give the
same token ids as the object in memory.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

# Words (with a leading space marker), speaker tags such as "#Person1#", single
# punctuation marks and newlines become separate pieces before BPE merges.
_PIECES = Regex(r"▁?#Person\d#|▁?[\w']+|▁?[^\w\s▁]|\n|▁")


def _bpe(texts: Iterable[str], vocab_size: int, special: list[str], keep_newlines: bool):
    """A BPE model over space-marked words; returns the trained ``tokenizers.Tokenizer``."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    steps = [] if keep_newlines else [pre_tokenizers.WhitespaceSplit()]
    steps += [
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=not keep_newlines),
        pre_tokenizers.Split(_PIECES, behavior="isolated"),
    ]
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=special,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def train_t5_tokenizer(texts: list[str], vocab_size: int = 2000, extra_ids: int = 20,
                       model_max_length: int = 512):
    """A ``T5Tokenizer`` (Unigram, as FLAN-T5's) whose pieces come from BPE on ``texts``.

    The BPE pieces become a Unigram vocabulary scored by the log of how often BPE uses
    each piece, so the Unigram model segments text much as BPE does. Ids: ``<pad>`` 0,
    ``</s>`` 1, ``<unk>`` 2, sentinels ``<extra_id_*>`` at the end, as in T5.
    """
    from transformers import T5Tokenizer

    bpe = _bpe(texts, vocab_size, ["<pad>", "</s>", "<unk>"], keep_newlines=False)
    counts: Counter[str] = Counter()
    for encoding in bpe.encode_batch(texts):
        counts.update(encoding.tokens)
    total = sum(counts.values())
    floor = math.log(0.5 / total)  # pieces BPE built but never used at the end
    pieces = [p for p in bpe.get_vocab() if p not in ("<pad>", "</s>", "<unk>")]
    pieces.sort(key=lambda p: (-counts.get(p, 0), p))
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, math.log(counts[p] / total) if counts.get(p) else floor - len(p)) for p in pieces]
    return T5Tokenizer(vocab=vocab, extra_ids=extra_ids, model_max_length=model_max_length)


def train_llama_tokenizer(texts: list[str], vocab_size: int = 2000, model_max_length: int = 512):
    """A ``LlamaTokenizer`` (BPE on space-marked words, newlines kept) with a pad token.

    Padding is on the left, as batched generation with a decoder-only model needs.
    """
    from transformers import LlamaTokenizer

    special = ["<unk>", "<s>", "</s>", "<pad>"]
    bpe = _bpe(texts, vocab_size, special, keep_newlines=True)
    return LlamaTokenizer(vocab=bpe.get_vocab(), merges=_merges_of(bpe), pad_token="<pad>",
                          add_prefix_space=True, add_bos_token=True,
                          padding_side="left", model_max_length=model_max_length)


def _merges_of(tok: Tokenizer) -> list[tuple[str, str]]:
    """The merge rules of a trained BPE ``tok``, read from its JSON form."""
    import json

    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]


def train_roberta_tokenizer(texts: list[str], vocab_size: int = 1000, model_max_length: int = 128):
    """A ``RobertaTokenizer`` (byte-level BPE, as RoBERTa's) trained on ``texts``."""
    from transformers import RobertaTokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return RobertaTokenizer(vocab=tok.get_vocab(), merges=_merges_of(tok),
                            model_max_length=model_max_length)


def train_bert_tokenizer(texts: list[str], vocab_size: int = 1000, model_max_length: int = 128):
    """A lower-casing ``BertTokenizer`` (WordPiece, as BERT's) with a vocabulary from ``texts``.

    The vocabulary is chosen here rather than by ``tokenizers``' WordPiece trainer, whose
    choices vary from process to process when counts tie: every character seen, alone and
    as a ``##`` continuation, then the most frequent words (at least two occurrences; ties
    in alphabetical order) up to ``vocab_size``. Rarer words are spelled from pieces.
    """
    from transformers import BertTokenizer

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({character for word in counts for character in word})
    vocab = special + characters + [f"##{c}" for c in characters]
    known = set(vocab)
    by_frequency = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    words = [word for word, count in by_frequency if count >= 2 and word not in known]
    vocab += words[: max(0, vocab_size - len(vocab))]
    return BertTokenizer(vocab={token: i for i, token in enumerate(vocab)},
                         model_max_length=model_max_length)
