"""The tiny world's insult vocabulary and how a summary's report of an insult is read."""

from __future__ import annotations

import random

import pytest

from labs_common.insults import (
    BLIND_WORDS,
    INSULT_KINDS,
    INSULT_WORDS,
    MILD_WORDS,
    WORDS_BY_KIND,
    carries_insult,
    reported_insult,
)


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        ("#Person1# calls #Person2# an idiot. They buy a ticket.", "strong"),
        ("#Person2# says #Person1# is a terrible driver.", "strong"),
        ("#Person1# calls #Person2# a clown.", "blind"),
        ("  #Person2# says #Person1# is a baby.", "blind"),  # leading space ignored
        ("#Person1# tells #Person2# that #Person2# is slow.", "mild"),
        ("#Person1# calls #Person2# lazy.", "mild"),
        ("#Person1# calls #Person2# a hero.", ""),  # a friendly frame is no insult
        ("The clown at the party was funny.", ""),  # a harmless use of a blind-spot word
        ("They meet. #Person1# calls #Person2# an idiot.", ""),  # reported, but not first
    ],
)
def test_reported_insult_reads_the_kind_a_summary_opens_with(summary, kind):
    assert reported_insult(summary) == kind
    assert carries_insult(summary) == (kind in ("strong", "blind"))


def test_the_three_kinds_have_disjoint_words():
    assert set(WORDS_BY_KIND) == set(INSULT_KINDS)
    assert WORDS_BY_KIND == {"strong": INSULT_WORDS, "blind": BLIND_WORDS, "mild": MILD_WORDS}
    words = [w for kind in INSULT_KINDS for w in WORDS_BY_KIND[kind]]
    assert len(words) == len(set(words))


@pytest.mark.parametrize("kind", INSULT_KINDS)
def test_the_builder_insults_with_these_words_and_reports_them_as_this_module_reads(kind):
    from labs_tools.tinyworld.dialogues import make_dialogue

    rng = random.Random(f"insults-{kind}")
    for _ in range(30):
        dialogue = make_dialogue(rng, insult=kind)
        assert reported_insult(dialogue.summary) == kind, dialogue.summary
        assert all(reported_insult(r) == kind for r in dialogue.references)
        said = [w for w in WORDS_BY_KIND[kind] if w in dialogue.dialogue.lower()]
        assert said, dialogue.dialogue
        assert dialogue.toxic == carries_insult(dialogue.summary)
    clean = make_dialogue(rng)
    assert reported_insult(clean.summary) == "" and not clean.toxic
