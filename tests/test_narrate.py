import pandas as pd

from labs_common import narrate


def test_compare_says_which_way_and_respects_the_tolerance():
    assert narrate.compare(3e-3, 1e-3) == "higher than"
    assert narrate.compare(1e-3, 3e-3) == "lower than"
    assert narrate.compare(3e-3, 3e-3) == "the same as"
    assert narrate.compare(0.51, 0.50, tolerance=0.02) == "the same as"
    assert narrate.compare(2, 1, words=("more", "as much", "less")) == "more"


def test_ratio_in_words():
    assert narrate.ratio(2.8, 1.0) == "2.8 times"
    assert narrate.ratio(1.01, 1.0) == "about the same as"
    assert narrate.ratio(1.0, 0.0).startswith("undefined")


def test_curve_says_whether_a_loss_fell_fast_then_flattened():
    fast = narrate.curve([(0, 4.0), (10, 1.5), (20, 1.2), (30, 1.1), (40, 1.05)])
    assert fast.startswith("the loss went from 4 to 1.05")
    assert "85% of the fall came in the first quarter" in fast and "flattened" in fast
    steady = narrate.curve([4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5])
    assert "only 29% of the fall" in steady and "kept falling" in steady


def test_curve_says_when_it_rose_first_or_never_fell():
    rose = narrate.curve([2.0, 3.0, 2.5, 1.5, 1.0, 0.9, 0.8, 0.7], name="the training loss")
    assert rose.startswith("the training loss went from 2 to 0.7, rising first (to 3)")
    assert narrate.curve([1.0, 1.2, 1.1]).endswith("it did not fall.")
    assert "too few points" in narrate.curve([1.0])


def test_generation_table_counts_texts_and_reads_the_temperature_trend():
    table = pd.DataFrame({
        "summary": ["a b", "a b", "c", "d"],
        "ROUGE-1, 5 dialogues": [0.4, 0.5, 0.3, 0.2],
    }, index=["greedy", "sample, temperature 0.1", "sample, temperature 0.5", "beams"])
    first, second = narrate.generation_table(table).splitlines()
    assert first == ("3 different summaries from 4 settings; the same text as greedy: "
                     "sample, temperature 0.1")
    assert "highest for sample, temperature 0.1 (0.500), lowest for beams (0.200)" in second
    assert second.endswith("; temperature 0.1 / 0.5: 0.500 / 0.300: it falls as the "
                           "temperature rises")
    table.loc["sample, temperature 0.5", "ROUGE-1, 5 dialogues"] = 0.6
    assert narrate.generation_table(table).endswith("not a steady fall with the temperature")
