from labs_common.generation import generate_batched

PROMPTS = ["hello how are you", "buy a ticket to paris on monday please", "hi", "fine thanks"]


def test_batched_greedy_generation_equals_one_at_a_time(tiny_t5, word_tokenizer):
    batched = generate_batched(tiny_t5, word_tokenizer, PROMPTS, batch_size=4, max_new_tokens=6)
    single = [
        generate_batched(tiny_t5, word_tokenizer, [p], batch_size=1, max_new_tokens=6)[0]
        for p in PROMPTS
    ]
    assert len(batched) == len(PROMPTS)
    assert batched == single


def test_generation_restores_training_mode_and_padding_side(tiny_t5, word_tokenizer):
    tiny_t5.train()
    generate_batched(tiny_t5, word_tokenizer, PROMPTS[:2], max_new_tokens=2)
    assert tiny_t5.training
    tiny_t5.eval()
    assert word_tokenizer.padding_side == "right"
