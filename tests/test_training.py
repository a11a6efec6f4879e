import pytest
import torch

from labs_common import training

PAIRS_ROWS = [
    {"dialogue": "#Person1# : hello how are you ? #Person2# : fine thanks .",
     "summary": "#Person1# greets #Person2# ."},
    {"dialogue": "#Person1# : buy a ticket to paris on monday .", "summary": "a ticket to paris"},
    {"dialogue": "#Person1# : hi", "summary": "hi"},
]


@pytest.fixture
def pairs():
    return training.summary_pairs(PAIRS_ROWS)


def test_dynamic_padding_pads_to_the_longest_member_and_labels_with_minus_100(
        pairs, word_tokenizer, tiny_t5):
    batch = training.collate_examples(pairs, word_tokenizer, model=tiny_t5, count=3)
    lengths = [len(word_tokenizer(p)["input_ids"]) for p in pairs["prompt"]]
    assert batch["input_ids"].shape == (3, max(lengths))
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    target_lengths = [len(word_tokenizer(text_target=t)["input_ids"]) for t in pairs["target"]]
    labels = batch["labels"]
    assert labels.shape == (3, max(target_lengths))
    assert ((labels != -100).sum(dim=1)).tolist() == target_lengths
    assert not (labels == word_tokenizer.pad_token_id).any()
    assert "decoder_input_ids" in batch  # the collator shifts labels when given the model


def test_padding_share_dynamic_batch_trains_on_no_padding(pairs, word_tokenizer):
    batch = training.collate_examples(pairs, word_tokenizer, count=3)
    share = training.padding_share(batch, word_tokenizer.pad_token_id)
    expected_inputs = float((batch["attention_mask"] == 0).float().mean())
    assert share.inputs == pytest.approx(expected_inputs) and 0 < share.inputs < 0.5
    assert share.labels > 0 and share.labels_in_loss == 0.0


def test_seed_style_padding_is_mostly_padding_and_trains_on_it(pairs, word_tokenizer):
    batch = training.pad_to_max_length_batch(pairs, word_tokenizer, count=3, length=64)
    assert batch["input_ids"].shape == (3, 64) and batch["labels"].shape == (3, 64)
    share = training.padding_share(batch, word_tokenizer.pad_token_id)
    assert share.inputs > 0.7
    assert share.labels_in_loss == share.labels > 0.8
    assert "trains on" in str(share)


def test_seed_style_padding_truncates_to_the_length_and_defaults_to_512(word_tokenizer):
    from datasets import Dataset

    words = "hello how are you fine thanks buy a ticket to paris on monday".split()
    pairs = Dataset.from_dict({"prompt": [" ".join(words[: 3 + i]) for i in range(5)],
                               "target": [" ".join(words[: 2 + i]) for i in range(5)]})
    short = training.pad_to_max_length_batch(pairs, word_tokenizer, count=5, length=4)
    assert short["input_ids"].shape == (5, 4) and short["labels"].shape == (5, 4)
    default = training.pad_to_max_length_batch(pairs, word_tokenizer)
    assert default["input_ids"].shape == (4, 512) and default["labels"].shape == (4, 512)


def test_collate_examples_truncates_to_the_length_limits(word_tokenizer):
    from datasets import Dataset

    pairs = Dataset.from_dict({"prompt": [" ".join(["hello"] * 600)] + ["hi there"] * 4,
                               "target": [" ".join(["fine"] * 200)] + ["hi"] * 4})
    default = training.collate_examples(pairs, word_tokenizer)
    assert default["input_ids"].shape == (4, 512) and default["labels"].shape == (4, 128)
    short = training.collate_examples(pairs, word_tokenizer, count=2, max_source_length=5,
                                      max_target_length=3)
    assert short["input_ids"].shape == (2, 5) and short["labels"].shape == (2, 3)
    assert short["labels"][1].tolist() == word_tokenizer(text_target="hi")["input_ids"] + [-100]
    tokenized = training.tokenize_pairs(pairs, word_tokenizer)  # the same defaults
    assert [len(ids) for ids in tokenized["input_ids"][:2]] == [512, 3]
    assert [len(ids) for ids in tokenized["labels"][:2]] == [128, 2]


def test_padding_share_by_hand():
    batch = {"attention_mask": torch.tensor([[1, 1, 0, 0]]),
             "labels": torch.tensor([[5, 1, -100, 0]])}
    share = training.padding_share(batch, pad_token_id=0)
    assert (share.inputs, share.labels, share.labels_in_loss) == (0.5, 0.5, 0.25)


def test_mix_pairs_keeps_the_shares_and_is_seeded():
    from datasets import Dataset

    a = Dataset.from_dict({"prompt": ["a1", "a2"], "target": ["x", "y"]})
    b = Dataset.from_dict({"prompt": ["b1"], "target": ["z"]})
    mixed = training.mix_pairs({"a": (a, 0.75), "b": (b, 0.25)}, size=8, seed=1)
    assert mixed["task"].count("a") == 6 and mixed["task"].count("b") == 2
    assert mixed["prompt"] == training.mix_pairs({"a": (a, 0.75), "b": (b, 0.25)}, 8,
                                                 seed=1)["prompt"]
    with pytest.raises(ValueError, match="sum to 1"):
        training.mix_pairs({"a": (a, 0.5)}, size=4)


def test_train_seq2seq_updates_a_copy_and_a_lora_model_only_in_its_adapter(pairs, word_tokenizer,
                                                                          tiny_t5):
    import copy

    from labs_common import lora

    model = copy.deepcopy(tiny_t5)
    run = training.train_seq2seq(model, word_tokenizer, pairs, max_steps=3, learning_rate=1e-2,
                                 batch_size=2, logging_steps=1)
    assert run.steps == 3 and [step for step, _ in run.losses] == [1, 2, 3]
    assert run.peak_gpu_memory_bytes is None and run.extra_gpu_memory_bytes is None
    changed = [n for n, p in model.named_parameters()
               if not torch.equal(p, dict(tiny_t5.named_parameters())[n])]
    assert changed  # full fine-tuning moves the weights of the copy ...
    assert not model.training

    adapted = lora.make_lora_model(tiny_t5, r=2, alpha=2)
    frozen = {n: p.clone() for n, p in adapted.named_parameters() if not p.requires_grad}
    adapters = {n: p.clone() for n, p in adapted.named_parameters() if p.requires_grad}
    training.train_seq2seq(adapted, word_tokenizer, pairs, max_steps=3, learning_rate=1e-2,
                           batch_size=2)
    now = dict(adapted.named_parameters())
    assert all(torch.equal(now[n], p) for n, p in frozen.items())
    assert any(not torch.equal(now[n], p) for n, p in adapters.items())


def test_train_seq2seq_is_quiet_without_a_progress_bar(pairs, word_tokenizer, tiny_t5, capsys):
    import copy

    training.train_seq2seq(copy.deepcopy(tiny_t5), word_tokenizer, pairs, max_steps=2,
                           learning_rate=1e-3, batch_size=2, logging_steps=1)
    assert "'loss'" not in capsys.readouterr().out


def test_rounding_padded_lengths_up_does_not_change_the_losses(pairs, word_tokenizer, tiny_t5):
    import copy

    model = copy.deepcopy(tiny_t5)
    for module in model.modules():  # dropout would draw different masks for other shapes
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        elif isinstance(getattr(module, "dropout", None), float):  # attention's own dropout
            module.dropout = 0.0

    def losses(multiple):
        run = training.train_seq2seq(copy.deepcopy(model), word_tokenizer, pairs, max_steps=3,
                                     learning_rate=1e-2, batch_size=2, logging_steps=1,
                                     pad_to_multiple_of=multiple)
        return [loss for _, loss in run.losses]

    exact, rounded = losses(None), losses(16)  # "auto" is None on a CPU
    assert rounded == pytest.approx(exact, rel=1e-4)
    assert losses("auto") == exact


def test_lab3_fallback_trains_with_lab2_lora_budget():
    from labs_common.profiles import get_profile

    for name in ("tiny", "full"):
        profile = get_profile(name)
        budget = training.lab2_lora_budget(profile)
        assert budget == {"max_steps": profile.lab2.lora_steps,
                          "learning_rate": profile.lab2.lora_learning_rate,
                          "batch_size": profile.lab2.batch_size,
                          "warmup_steps": profile.lab2.warmup_steps}


def test_validation_loss_is_measured_before_the_first_step_and_every_eval_steps(
    tiny_t5, word_tokenizer
):
    import copy

    from datasets import Dataset

    pairs = training.summary_pairs(Dataset.from_list(PAIRS_ROWS * 4))
    runs = {}
    for rate in (1e-2, 1e-3):
        runs[rate] = training.train_seq2seq(
            copy.deepcopy(tiny_t5), word_tokenizer, pairs, max_steps=4, learning_rate=rate,
            batch_size=4, logging_steps=1, eval_pairs=pairs.select(range(3)), eval_steps=2)
    steps = [step for step, _ in runs[1e-2].eval_losses]
    assert steps == [0, 2, 4]
    assert runs[1e-2].eval_losses[0] == runs[1e-3].eval_losses[0]  # the same model at step 0
    assert runs[1e-2].eval_losses[-1][1] < runs[1e-3].eval_losses[-1][1]
