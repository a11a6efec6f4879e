"""A rollout (labs_common.rl.rollout): cutting mini-batches out of it, sampling one purely, and
the one function that reads a policy's logits on it, for seq2seq and causal models."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig

from labs_common.rl.ppo_math import mask_after_eos
from labs_common.rl.rollout import (
    SPECIAL_TOKEN_SETTINGS,
    Rollout,
    forward_logits,
    pure_generation_config,
    sample_rollout,
)

from tiny_policies import (
    EOS,
    PAD,
    UNEVEN_PROMPTS,
    hand_rollout,
    llama_policy,
    t5_policy,
    word_level_tokenizer,
)


def test_rollout_select_rounds_lengths_up_within_the_rollout():
    def rollout(query_lengths, response_lengths, width_q=150, width_r=40):
        query_mask = torch.tensor([[1] * n + [0] * (width_q - n) for n in query_lengths])
        response_mask = torch.tensor([[1] * n + [0] * (width_r - n) for n in response_lengths])
        return Rollout(["q"] * len(query_lengths), ["r"] * len(query_lengths),
                       query_mask * 7, query_mask, response_mask * 5, response_mask)

    batch = rollout([70, 30, 150], [9, 3, 40])
    rows = torch.tensor([0, 1])
    exact = batch.select(rows, left_padded_queries=False)
    assert exact.query_ids.shape == (2, 70) and exact.response_ids.shape == (2, 9)
    rounded = batch.select(rows, left_padded_queries=False, multiple=64)
    assert rounded.query_ids.shape == (2, 128) and rounded.response_ids.shape == (2, 40)
    assert rounded.query_mask.sum() == exact.query_mask.sum()  # only masked columns added
    assert rounded.response_mask.sum() == exact.response_mask.sum()
    capped = batch.select(torch.tensor([2]), left_padded_queries=False, multiple=64)
    assert capped.query_ids.shape == (1, 150)  # never wider than the rollout itself


def test_select_keeps_the_rows_texts_and_cuts_padding_on_the_padded_side(t5_tokenizer):
    causal = word_level_tokenizer(append_eos=False)
    left = hand_rollout(causal, UNEVEN_PROMPTS, padding_side="left")
    right = hand_rollout(t5_tokenizer, UNEVEN_PROMPTS, padding_side="right")
    rows = torch.tensor([2, 0])  # "sun moon" and "red": the long middle prompt is left out
    for rollout, left_padded in ((left, True), (right, False)):
        batch = rollout.select(rows, left_padded_queries=left_padded)
        assert batch.queries == ["sun moon", "red"]
        assert batch.responses == [rollout.responses[2], rollout.responses[0]]
        width = int(batch.query_mask.sum(dim=1).max())
        assert batch.query_ids.shape[1] == width  # no column that neither row needs
        real = batch.query_mask.bool()
        assert torch.equal(batch.query_ids[real], rollout.query_ids[rows][rollout.query_mask[rows]
                                                                          .bool()])
        kept = batch.query_mask[:, -1] if left_padded else batch.query_mask[:, 0]
        assert kept.all()  # the side the text sits on is kept
        assert batch.response_ids.shape[1] == 3  # the longer response of the two: 3 tokens
        assert torch.equal(batch.response_mask, rollout.response_mask[rows, :3])


@pytest.mark.parametrize("architecture", ["seq2seq", "causal"])
def test_sample_rollout_masks_up_to_the_first_eos_and_pads_after_it(t5_tokenizer, architecture):
    if architecture == "seq2seq":
        tokenizer, model = t5_tokenizer, t5_policy()
    else:
        tokenizer, model = word_level_tokenizer(append_eos=False), llama_policy(True)
    settings = {"do_sample": True, "top_k": 0, "top_p": 1.0, "min_new_tokens": 1,
                "max_new_tokens": 6, "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(0)
    rollout = sample_rollout(model, tokenizer, UNEVEN_PROMPTS * 4, settings, eos_token_ids=[EOS],
                             max_prompt_length=None, device=torch.device("cpu"))
    assert len(rollout) == 12 and rollout.queries == UNEVEN_PROMPTS * 4
    assert torch.equal(rollout.response_mask, mask_after_eos(rollout.response_ids, [EOS]))
    assert (rollout.response_ids[rollout.response_mask == 0] == PAD).all()
    assert (rollout.response_mask[:, 0] == 1).all()  # at least one token each
    if architecture == "seq2seq":
        assert (rollout.query_mask[:, 0] == 1).all()  # prompts right-padded
    else:
        assert (rollout.query_mask[:, -1] == 1).all()  # prompts left-padded
    assert rollout.responses == tokenizer.batch_decode(rollout.response_ids,
                                                       skip_special_tokens=True)
    assert not model.training


def test_pure_generation_config_keeps_the_special_tokens_only_and_restores_the_config():
    model = t5_policy()
    base = model.get_base_model()
    saved = base.generation_config
    saved.temperature, saved.top_k, saved.repetition_penalty = 0.5, 3, 1.5
    with pure_generation_config(model):
        inside = base.generation_config
        assert inside is not saved
        fresh = GenerationConfig()  # what generate() falls back to for a setting left unset
        for name in ("temperature", "top_k", "repetition_penalty"):
            assert getattr(inside, name) == getattr(fresh, name), name
        for name in SPECIAL_TOKEN_SETTINGS:
            assert getattr(inside, name) == getattr(saved, name, None), name
    assert base.generation_config is saved
    with pytest.raises(RuntimeError), pure_generation_config(model):
        raise RuntimeError("a failed generate call")
    assert base.generation_config is saved  # restored even then


def test_forward_logits_of_a_seq2seq_model_are_its_teacher_forced_logits(t5_tokenizer):
    model = t5_policy().eval()
    rollout = hand_rollout(t5_tokenizer)
    logits, hidden = forward_logits(model, rollout, is_encoder_decoder=True,
                                    decoder_start_token_id=0, with_hidden=True)
    start = torch.zeros_like(rollout.response_ids[:, :1])
    with torch.no_grad():
        expected = model(input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
                         decoder_input_ids=torch.cat([start, rollout.response_ids[:, :-1]], 1),
                         output_hidden_states=True)
    torch.testing.assert_close(logits, expected.logits)
    torch.testing.assert_close(hidden, expected.decoder_hidden_states[-1])
    assert logits.shape[:2] == hidden.shape[:2] == rollout.response_ids.shape
    _, none = forward_logits(model, rollout, is_encoder_decoder=True, decoder_start_token_id=0,
                             with_hidden=False)
    assert none is None


def test_forward_logits_of_a_causal_model_predict_each_token_whatever_the_padding():
    """Position t holds the logits of the next token after the prompt and the first t response
    tokens, and a left-padded row reads the same logits as the same row alone."""
    tokenizer = word_level_tokenizer(append_eos=False)
    model = llama_policy(trained_start=True).eval()
    rollout = hand_rollout(tokenizer, UNEVEN_PROMPTS, padding_side="left")
    assert not rollout.query_mask.all()  # some rows are padded
    with torch.no_grad():
        together, _ = forward_logits(model, rollout, is_encoder_decoder=False,
                                     decoder_start_token_id=None, with_hidden=False)
        for row in range(len(rollout)):
            alone = rollout.select(torch.tensor([row]), left_padded_queries=True)
            assert alone.query_mask.all()  # no padding left
            logits, _ = forward_logits(model, alone, is_encoder_decoder=False,
                                       decoder_start_token_id=None, with_hidden=False)
            length = alone.response_ids.shape[1]
            torch.testing.assert_close(logits[0], together[row, :length], atol=1e-5, rtol=0)
            for t in range(length):  # position t: the next token after prompt + response[:t]
                prefix = torch.cat([alone.query_ids, alone.response_ids[:, :t]], dim=1)
                next_token = model(input_ids=prefix).logits[0, -1]
                torch.testing.assert_close(logits[0, t], next_token, atol=1e-5, rtol=0)
