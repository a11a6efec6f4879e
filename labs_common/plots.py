"""Plots for the labs. Each helper returns ``(fig, ax)`` and writes no files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def grouped_bars(
    scores: Mapping[str, Mapping[str, float]],
    title: str = "",
    ylabel: str = "score",
    errors: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
):
    """Bars grouped by metric, one colour per setting (e.g. ROUGE per prompt style).

    ``scores`` maps a setting to ``{metric: value}``; ``errors`` optionally gives
    ``(low, high)`` per setting and metric, drawn as error bars.
    """
    settings = list(scores)
    metrics = list(next(iter(scores.values())))
    x = np.arange(len(metrics))
    width = 0.8 / len(settings)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(metrics) + 2), 4))
    for i, setting in enumerate(settings):
        values = [scores[setting][m] for m in metrics]
        yerr = None
        if errors and setting in errors:
            yerr = np.array(
                [
                    [values[j] - errors[setting][m][0], errors[setting][m][1] - values[j]]
                    for j, m in enumerate(metrics)
                ]
            ).T
        bars = ax.bar(
            x + (i - (len(settings) - 1) / 2) * width,
            values,
            width,
            label=setting,
            yerr=yerr,
            capsize=3,
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xticks(x, metrics)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.set_ylim(0, max(max(v.values()) for v in scores.values()) * 1.25 + 1e-9)
    fig.tight_layout()
    return fig, ax


def loss_curves(
    curves: Mapping[str, Sequence[tuple[int, float]]],
    title: str = "training loss",
    validation: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    ylabel: str = "cross-entropy loss per token",
):
    """Loss against step, one colour per run (``{name: [(step, loss), ...]}``).

    ``validation`` adds each run's loss on held-out pairs as a dashed line of the same
    colour: a training loss that keeps falling while the validation loss rises is
    overfitting.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, points in curves.items():
        color = None
        if points:
            steps, losses = zip(*points, strict=True)
            (line,) = ax.plot(steps, losses, marker=".", label=f"{name}, training")
            color = line.get_color()
        held_out = (validation or {}).get(name)
        if held_out:
            steps, losses = zip(*held_out, strict=True)
            ax.plot(steps, losses, linestyle="--", marker="o", markersize=3, color=color,
                    label=f"{name}, validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def confusion_heatmap(matrix, classes: Sequence[str], title: str = ""):
    """A confusion matrix (rows: truth, columns: prediction, last column may be 'other')."""
    matrix = np.asarray(matrix)
    columns = list(classes) + (["other"] if matrix.shape[1] > len(classes) else [])
    fig, ax = plt.subplots(figsize=(1.2 * len(columns) + 1.5, 1.1 * len(classes) + 1))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=color)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig, ax


def before_after_histogram(
    before: Sequence[float], after: Sequence[float], xlabel: str, title: str = "", bins: int = 20
):
    """Two overlaid histograms on shared bins (e.g. toxicity before and after PPO)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = np.histogram_bin_edges(np.concatenate([before, after]), bins=bins)
    ax.hist(before, bins=edges, alpha=0.6, label="before")
    ax.hist(after, bins=edges, alpha=0.6, label="after")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig, ax


def rolling_mean(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def training_stats(
    history: Sequence[Mapping[str, float]],
    keys: Sequence[str],
    title: str = "",
    labels: Mapping[str, str] | None = None,
    window: int = 5,
    references: Mapping[str, tuple[float, str]] | None = None,
    xlabel: str = "step",
):
    """One titled panel per logged statistic against step (e.g. reward and KL during PPO).

    Each panel shows the logged values as dots and their rolling mean over ``window`` steps
    as a line (a single step's batch is noisy); ``labels`` names the panels in words, and
    ``references`` draws a labelled horizontal line per key, e.g. the reward a clean human
    summary gets.
    """
    fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.3), squeeze=False)
    steps = np.arange(1, len(history) + 1)
    for ax, key in zip(axes[0], keys, strict=True):
        values = [float(h.get(key, np.nan)) for h in history]
        ax.plot(steps, values, linestyle="none", marker=".", alpha=0.5, label="each step")
        if len(values) >= 2:
            ax.plot(steps, rolling_mean(values, window), label=f"mean of {window} steps")
        if references and key in references:
            value, text = references[key]
            ax.axhline(value, color="grey", linestyle="--", linewidth=1, label=text)
        name = (labels or {}).get(key, key)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(key, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig, axes[0]


def strip_plot(values: Sequence[float], label: str, title: str = "",
               marked: int | None = None, marked_label: str = "marked"):
    """Individual values as dots on one axis with their mean (e.g. one dot per seed).

    ``marked`` is the index of a value to draw apart (e.g. the lab's main run).
    """
    fig, ax = plt.subplots(figsize=(5, 2.2))
    ax.scatter(values, np.zeros(len(values)), s=60, zorder=3)
    if marked is not None:
        ax.scatter([values[marked]], [0.0], s=140, marker="*", color="crimson", zorder=4,
                   label=marked_label)
    ax.axvline(float(np.mean(values)), color="grey", linestyle="--", label="mean")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks([])
    ax.set_xlabel(label)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def tradeoff_scatter(
    points: Mapping[str, tuple[float, float]], xlabel: str, ylabel: str, title: str = ""
):
    """Labelled points, e.g. ROUGE-1 gained (x) against sentiment accuracy lost (y) per model."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, (x, y) in points.items():
        ax.scatter([x], [y], s=50)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=9)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig, ax


def interval_panels(
    changes: Mapping[str, Mapping[str, tuple[float, float, float]]],
    xlabel: str = "after − before",
    title: str = "",
):
    """One panel per measure, one row per method: each change as a dot with its interval.

    ``changes`` maps a measure to ``{method: (estimate, low, high)}``; methods keep their
    order, top to bottom. A vertical line marks 0, so an interval that crosses it is a
    change the test sample cannot tell from none.
    """
    measures = list(changes)
    methods = list(dict.fromkeys(m for rows in changes.values() for m in rows))
    fig, axes = plt.subplots(1, len(measures), sharey=True, squeeze=False,
                             figsize=(3.4 * len(measures) + 1.6, 0.45 * len(methods) + 1.6))
    axes = axes[0]
    y = np.arange(len(methods))[::-1]
    for ax, measure in zip(axes, measures, strict=True):
        for row, method in zip(y, methods, strict=True):
            if method not in changes[measure]:
                continue
            estimate, low, high = changes[measure][method]
            excludes_zero = high < 0 or low > 0
            ax.errorbar([estimate], [row], xerr=[[estimate - low], [high - estimate]],
                        fmt="o", capsize=3, color="tab:blue" if excludes_zero else "tab:grey")
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_title(measure, fontsize=10)
        ax.set_xlabel(xlabel)
    axes[0].set_yticks(y, methods)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, axes
