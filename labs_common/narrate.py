"""Sentences computed from the numbers above them, for results that differ between profiles.

A paragraph that says "LoRA trains with a larger learning rate" is false wherever the two
rates are equal. Where the direction of a result can differ between the tiny world and
FLAN-T5, a cell prints the comparison from the numbers with these helpers instead.
"""

from __future__ import annotations


def compare(a: float, b: float, *, tolerance: float = 0.0,
            words: tuple[str, str, str] = ("higher than", "the same as", "lower than")) -> str:
    """``"higher than"``, ``"the same as"`` or ``"lower than"``: how ``a`` stands to ``b``.

    Differences of at most ``tolerance`` count as the same; ``words`` replaces the three
    phrases (e.g. ``("more", "as much", "less")``).
    """
    if abs(a - b) <= tolerance:
        return words[1]
    return words[0] if a > b else words[2]


def ratio(a: float, b: float) -> str:
    """``a`` as a multiple of ``b`` in words: ``"2.8 times"`` or ``"about the same as"``."""
    if b == 0:
        return "undefined (the second is 0)"
    factor = a / b
    return "about the same as" if abs(factor - 1) < 0.05 else f"{factor:.1f} times"
