import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labs_common import plots  # noqa: E402


def test_rolling_mean_averages_each_value_with_those_before_it():
    assert plots.rolling_mean([1, 3, 5, 7], window=2).tolist() == [1, 2, 4, 6]
    assert plots.rolling_mean([2, 4, 9], window=5).tolist() == pytest.approx([2, 3, 5])


def test_training_stats_names_panels_and_draws_the_reference_line():
    history = [{"env/reward_mean": r, "objective/kl": k} for r, k in ((0, 0), (1, 0.1), (2, 0.3))]
    fig, axes = plots.training_stats(
        history, ["env/reward_mean", "objective/kl"],
        labels={"env/reward_mean": "mean reward"},
        references={"env/reward_mean": (2.5, "clean human summaries")}, window=2)
    assert axes[0].get_title() == "mean reward" and axes[1].get_title() == "objective/kl"
    lines = axes[0].get_lines()
    assert np.allclose(lines[1].get_ydata(), [0, 0.5, 1.5])  # the rolling mean
    assert any(np.allclose(line.get_ydata(), 2.5) for line in lines)
    assert "clean human summaries" in [t.get_text() for t in axes[0].get_legend().get_texts()]
    matplotlib.pyplot.close(fig)


def test_loss_curves_draw_validation_dashed_in_the_run_colour():
    fig, ax = plots.loss_curves({"full": [(10, 2.0), (20, 1.5)]},
                                validation={"full": [(0, 2.5), (20, 1.7)]})
    train, held_out = ax.get_lines()
    assert held_out.get_linestyle() == "--" and held_out.get_color() == train.get_color()
    assert list(held_out.get_xdata()) == [0, 20]
    matplotlib.pyplot.close(fig)


def test_strip_plot_marks_one_run():
    fig, ax = plots.strip_plot([-50.0, -40.0, -55.0], label="change", marked=2,
                               marked_label="main run")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "main run" in texts and "mean" in texts
    matplotlib.pyplot.close(fig)


def test_interval_panels_put_each_method_on_its_row_and_grey_out_intervals_across_zero():
    changes = {
        "toxicity": {"PPO": (-0.2, -0.3, -0.1), "DPO": (-0.05, -0.1, 0.02)},
        "ROUGE-1": {"PPO": (0.01, -0.02, 0.04), "DPO": (0.03, 0.01, 0.05)},
    }
    fig, axes = plots.interval_panels(changes, title="changes")
    assert [ax.get_title() for ax in axes] == ["toxicity", "ROUGE-1"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["PPO", "DPO"]
    assert list(axes[0].get_yticks()) == [1, 0]  # the first method on top
    colours = {}
    for ax, measure in zip(axes, changes, strict=True):
        for line in ax.lines:
            if line.get_marker() == "o":  # the estimates (the caps are other markers)
                colours[(measure, int(line.get_ydata()[0]))] = line.get_color()
                assert line.get_xdata()[0] == changes[measure][["DPO", "PPO"][int(
                    line.get_ydata()[0])]][0]
    assert colours[("toxicity", 1)] == "tab:blue" and colours[("toxicity", 0)] == "tab:grey"
    assert colours[("ROUGE-1", 1)] == "tab:grey" and colours[("ROUGE-1", 0)] == "tab:blue"
    matplotlib.pyplot.close(fig)
