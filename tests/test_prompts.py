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
