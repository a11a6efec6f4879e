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
