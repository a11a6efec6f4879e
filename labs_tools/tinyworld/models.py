"""Architectures of the tiny models: the same classes as the Hub models, far fewer weights."""

from __future__ import annotations

import torch

TOXICITY_ID2LABEL = {0: "nothate", 1: "hate"}


T5_SIZE = {"d_model": 128, "d_kv": 32, "d_ff": 512, "num_layers": 2, "num_decoder_layers": 2,
           "num_heads": 4}


def build_t5(tokenizer, seed: int, **size):
    """flan-t5-tiny: T5 with d_model 128, 2 encoder and 2 decoder layers (about 1.2M weights)."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer), **{**T5_SIZE, **size}, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, dropout_rate=0.0, feed_forward_proj="relu",
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5ForConditionalGeneration(config)


def build_llama(tokenizer, seed: int):
    """llama-summarizer-tiny: Llama with hidden size 128 and 2 layers."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def build_roberta_classifier(tokenizer, seed: int):
    """roberta-hate-tiny: a 2-layer RoBERTa classifier labelled nothate/hate."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=256, max_position_embeddings=tokenizer.model_max_length + 2,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, num_labels=2, id2label=TOXICITY_ID2LABEL,
        label2id={v: k for k, v in TOXICITY_ID2LABEL.items()},
    )
    return RobertaForSequenceClassification(config)


def build_bert_classifier(tokenizer, seed: int):
    """toxicity-judge-tiny: a 1-layer BERT classifier with its own WordPiece vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=96, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=192, max_position_embeddings=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id, num_labels=2, id2label=TOXICITY_ID2LABEL,
        label2id={v: k for k, v in TOXICITY_ID2LABEL.items()},
    )
    return BertForSequenceClassification(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
