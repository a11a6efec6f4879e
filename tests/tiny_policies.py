"""Tiny random policies for the tests of labs_common.rl: a word-level tokenizer over ten
words, a one-layer T5 and a one-layer Llama with LoRA adapters, a toy reward, a hand-made
rollout and preference pairs. Not a test module: the tests of the RL modules import it."""

from __future__ import annotations

import copy
import math

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from labs_common.prompts import instruction_prompt
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig
from labs_common.rl.ppo_math import mask_after_eos
from labs_common.rl.rollout import Rollout

WORDS = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree", "fish", "bird"]


TARGET = "fish"


PROMPTS = [" ".join(WORDS[i % 7 : i % 7 + 3]) for i in range(8)]


def word_level_tokenizer(append_eos: bool) -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({word: i + 3 for i, word in enumerate(WORDS)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if append_eos:  # T5 style: "... </s>"
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def t5_base() -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=3 + len(WORDS),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config)


def t5_policy(trained_start: bool = True) -> PeftModel:
    """Tiny T5 + LoRA. ``trained_start`` fills lora_B, standing in for Lab 2's adapter."""
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q", "v", "o"], task_type=TaskType.SEQ_2_SEQ_LM
    )
    model = get_peft_model(t5_base(), lora)
    if trained_start:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.3)
    return model


def target_share(texts: list[str]) -> list[float]:
    """Toy reward: the share of words in the response that are the target word."""
    return [t.split().count(TARGET) / max(len(t.split()), 1) for t in texts]


def ppo_trainer(tokenizer, model=None, **overrides) -> PPOTrainer:
    settings = {"batch_size": 8, "mini_batch_size": 4, "max_new_tokens": 6, "seed": 0}
    settings.update(overrides)
    model = t5_policy() if model is None else model
    return PPOTrainer(
        PPOConfig(**settings), model=model, tokenizer=tokenizer, reward_fn=target_share
    )


def reference_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if ".reference." in n}


FISH, CAT, DOG, SUN, EOS, PAD = 3 + WORDS.index("fish"), 6, 7, 8, 1, 0


HAND_RESPONSES = [
    [FISH, CAT, EOS, PAD, PAD],  # an early EOS, then padding
    [DOG, FISH, SUN, CAT, DOG],  # no EOS: cut at the length limit
    [EOS, PAD, PAD, PAD, PAD],  # EOS straight away
]


UNEVEN_PROMPTS = ["red", "green blue cat dog", "sun moon"]  # the middle one sets the width


def hand_rollout(tokenizer, prompts=PROMPTS[:3], padding_side="right") -> Rollout:
    """Three responses of 3, 5 and 1 real tokens for the given prompts."""
    response_ids = torch.tensor(HAND_RESPONSES)
    encoded = tokenizer(list(prompts), padding=True, padding_side=padding_side,
                        return_tensors="pt")
    return Rollout(list(prompts), tokenizer.batch_decode(response_ids, skip_special_tokens=True),
                   encoded["input_ids"], encoded["attention_mask"], response_ids,
                   mask_after_eos(response_ids, [EOS]))


def llama_policy(trained_start: bool = False) -> PeftModel:
    """Tiny Llama + LoRA, for the causal (left-padded) code paths."""
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type=TaskType.CAUSAL_LM)
    model = get_peft_model(llama_base(), lora)
    if trained_start:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.3)
    return model


# ---------------------------------------------------------------- preference pairs (DPO)

LOG_2 = math.log(2.0)  # the DPO loss while the policy is the reference

DIALOGUES = [
    "#person1# hello how are you ? #person2# fine thanks",
    "#person1# buy a ticket to paris on monday . #person2# hi",
    "#person1# i love this day ! #person2# i hate this day",
]


def lora_t5(tiny_t5) -> PeftModel:
    """The tiny T5 with a LoRA adapter whose lora_B is filled, standing in for Lab 2's."""
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q", "v", "o"],
                      task_type=TaskType.SEQ_2_SEQ_LM)
    model = get_peft_model(copy.deepcopy(tiny_t5), lora)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.3)
    return model


PAIRS = [
    {"prompt": instruction_prompt(DIALOGUES[0]), "chosen": "fine thanks", "rejected": "hate"},
    {"prompt": instruction_prompt(DIALOGUES[1]), "chosen": "buy a ticket",
     "rejected": "hate hate this day"},
    {"prompt": instruction_prompt(DIALOGUES[2]), "chosen": "i love this day", "rejected": "hate"},
    {"prompt": "hello", "chosen": "hi", "rejected": "i hate you"},
]


def llama_base() -> LlamaForCausalLM:
    """A one-layer Llama over the same ten words, seeded: the causal model without adapter."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=3 + len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=1,
    )
    return LlamaForCausalLM(config)


CAUSAL_PAIRS = [
    {"prompt": "red green", "chosen": "fish", "rejected": "cat"},
    {"prompt": "blue", "chosen": "fish bird", "rejected": "dog dog"},
    {"prompt": "dog sun moon", "chosen": "fish", "rejected": "red"},
    {"prompt": "moon tree", "chosen": "bird fish", "rejected": "sun"},
]


CAUSAL_LORA = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
