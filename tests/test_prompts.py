import warnings

import pytest

from labs_common import prompts

ROWS = [
    {"dialogue": "#Person1#: hi\n#Person2#: hello", "summary": "they greet."},
    {"dialogue": "#Person1#: buy a ticket\n#Person2#: fine", "summary": "a ticket."},
]


def test_instruction_prompt_wraps_the_dialogue():
    text = prompts.instruction_prompt("D")
    assert text == "Summarize the following conversation.\n\nD\n\nSummary:"


def test_zero_shot_few_shot_prompt_is_the_flan_template():
    assert prompts.build_few_shot_prompt([], "D") == prompts.flan_prompt("D")


def test_few_shot_puts_examples_first_and_query_last():
    text = prompts.build_few_shot_prompt(ROWS, "QUERY")
    assert text.index(ROWS[0]["summary"]) < text.index(ROWS[1]["summary"]) < text.index("QUERY")
    assert text.endswith("Dialogue:\n\nQUERY\n\nWhat was going on?")
    assert text.count("What was going on?") == 3


def test_sentiment_prompt_zero_and_few_shot_share_one_format():
    zero = prompts.build_sentiment_prompt("i love it")
    few = prompts.build_sentiment_prompt("i love it", [{"text": "bad", "label_text": "negative"}])
    assert zero.endswith("Tweet: i love it\nSentiment:")
    assert few.startswith(prompts.SENTIMENT_INSTRUCTION)
    assert "Tweet: bad\nSentiment: negative\n\n" in few
    assert few.endswith(zero[len(prompts.SENTIMENT_INSTRUCTION) :])


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("positive", "positive"),
        (" Negative.", "negative"),
        ("neutral!", "neutral"),
        ("I think positive", "other"),
        ("", "other"),
    ],
)
def test_normalize_label_reads_the_first_word_only(answer, label):
    assert prompts.normalize_label(answer) == label


def test_budget_counts_tokens_and_warns_with_how_many_fit(word_tokenizer):
    rows = ROWS * 10
    one = prompts.count_prompt_tokens(word_tokenizer, prompts.build_few_shot_prompt(rows[:1], "hi"))
    fits = prompts.max_examples_that_fit(word_tokenizer, rows, "hi", context=one + 5)
    assert fits == 1
    with pytest.warns(UserWarning, match="only 1 example"):
        budget = prompts.check_prompt_budget(word_tokenizer, rows, "hi", context=one + 5)
    assert not budget.fits and budget.tokens > one + 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prompts.check_prompt_budget(word_tokenizer, rows[:1], "hi", context=512).fits


def test_fitted_few_shot_keeps_each_prompt_inside_the_context(word_tokenizer):
    long_query = " ".join(["hello"] * 12)
    short_query = "hi"
    budget = prompts.count_prompt_tokens(
        word_tokenizer, prompts.build_few_shot_prompt(ROWS, short_query))
    style = prompts.FittedFewShot(word_tokenizer, ROWS, context=budget)
    assert style(short_query) == prompts.build_few_shot_prompt(ROWS, short_query)
    fitted = style(long_query)
    assert prompts.count_prompt_tokens(word_tokenizer, fitted) <= budget
    assert fitted.endswith(f"{long_query}\n\nWhat was going on?")  # the query is never cut
    assert style.shots_used[0] == 2 and style.shots_used[1] < 2
    assert style.shortened == 1
    assert "1 of 2 prompts got fewer than the 2 example(s)" in str(style)


def test_budget_counts_the_dialogue_and_reads_as_a_verdict(word_tokenizer):
    dialogue = "hello how are you fine thanks buy a ticket to paris on monday"
    prompt = prompts.build_few_shot_prompt(ROWS, dialogue)
    tokens = prompts.count_prompt_tokens(word_tokenizer, prompt)
    assert tokens == len(word_tokenizer(prompt)["input_ids"])
    budget = prompts.check_prompt_budget(word_tokenizer, ROWS, dialogue, context=tokens)
    assert budget == prompts.PromptBudget(tokens, tokens) and budget.fits
    assert str(budget) == f"{tokens} tokens for a {tokens}-token context: fits"
    assert str(prompts.PromptBudget(30, 20)) == "30 tokens for a 20-token context: exceeds it by 10"
    # A long dialogue leaves room for fewer examples than a short one.
    short = prompts.max_examples_that_fit(word_tokenizer, ROWS, "hi", context=tokens)
    assert short == 2 > prompts.max_examples_that_fit(word_tokenizer, ROWS, dialogue, tokens - 1)


def test_no_example_fits_a_context_smaller_than_the_query(word_tokenizer):
    assert prompts.max_examples_that_fit(word_tokenizer, ROWS, "hi", context=3) == 0
    with pytest.warns(UserWarning, match="only 0 example"):
        prompts.check_prompt_budget(word_tokenizer, ROWS, "hi", context=3)


def test_the_warning_counts_the_examples_that_fit_beside_this_dialogue(word_tokenizer):
    rows = ROWS * 10
    long_dialogue = " ".join(["hello"] * 60)
    context = prompts.count_prompt_tokens(
        word_tokenizer, prompts.build_few_shot_prompt(rows[:1], long_dialogue))
    assert prompts.max_examples_that_fit(word_tokenizer, rows, long_dialogue, context) == 1
    assert prompts.max_examples_that_fit(word_tokenizer, rows, "hi", context) > 1
    with pytest.warns(UserWarning, match="only 1 example"):
        prompts.check_prompt_budget(word_tokenizer, rows, long_dialogue, context=context)
