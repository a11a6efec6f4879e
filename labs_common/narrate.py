"""Sentences computed from the numbers above them, for results that differ between profiles.

A paragraph that says "LoRA trains with a larger learning rate" is false wherever the two
rates are equal. Where the direction of a result can differ between the tiny world and
FLAN-T5, a cell prints the comparison from the numbers with these helpers instead.
"""

from __future__ import annotations

from itertools import pairwise


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


def curve(values, name: str = "the loss") -> str:
    """One sentence on a curve's shape, from its numbers: where it started and ended, whether
    it rose before falling, and how much of its fall came in the first quarter of the steps.

    ``values`` are the curve's points in order (numbers, or ``(step, value)`` pairs). A
    paragraph that says "the loss falls fast, then flattens" is true of one run; this
    sentence is true of the run above it.
    """
    points = [v[1] if isinstance(v, (tuple, list)) else v for v in values]
    if len(points) < 2:
        return f"{name}: too few points to describe."
    first, last = float(points[0]), float(points[-1])
    quarter = max(1, len(points) // 4)
    peak = max(points[: quarter + 1])
    text = f"{name} went from {first:.3g} to {last:.3g}"
    if last >= first:
        return text + ": it did not fall."
    if peak > first * 1.05:
        text += f", rising first (to {peak:.3g}) before it fell"
    early = (first - float(points[quarter])) / (first - last)
    if early >= 0.6:
        return text + (f"; {early:.0%} of the fall came in the first quarter of the steps, "
                       "then it flattened.")
    return text + (f"; only {max(early, 0):.0%} of the fall came in the first quarter of the "
                   "steps: it kept falling through the run.")


def generation_table(table, greedy: str = "greedy") -> str:
    """Two lines on a table of generation settings (``compare_generation_settings``): how
    many different texts the settings wrote and which wrote the greedy one; where ROUGE-1
    was highest and lowest, and whether it fell steadily as the sampling temperature rose.
    """
    texts = table["summary"]
    same = [name for name in table.index if name != greedy and texts[name] == texts[greedy]]
    rouge = table[[c for c in table.columns if c.startswith("ROUGE-1")][0]]
    by_temperature = {name: rouge[name] for name in table.index if "temperature" in name}
    values = list(by_temperature.values())
    steady = len(values) > 1 and all(a > b for a, b in pairwise(values))
    trend = (f"temperature {' / '.join(n.split('temperature ')[1] for n in by_temperature)}: "
             + " / ".join(f"{value:.3f}" for value in values))
    return (f"{texts.nunique()} different summaries from {len(table)} settings; the same text "
            f"as {greedy}: {', '.join(same) or 'none'}\n"
            f"{rouge.name}: highest for {rouge.idxmax()} ({rouge.max():.3f}), lowest for "
            f"{rouge.idxmin()} ({rouge.min():.3f})"
            + (f"; {trend}: " + ("it falls as the temperature rises" if steady
                                 else "not a steady fall with the temperature")
               if by_temperature else ""))
