"""Run every benchmark and print one ratio table (ours against the seed-style baselines).

    python -m benchmarks.run_all --scale tiny --device cpu --threads 1   # make bench
    python -m benchmarks.run_all --scale full --device cuda --json results.json

Besides the four benchmarks' rows, the table has an ``evaluation`` row: the seeds'
``evaluate_toxicity`` loop generated a summary and scored it, one example at a time, so
its time per example is the generation benchmark's plus the toxicity benchmark's, both
measured in this run.
"""

from __future__ import annotations

import argparse
import time
import traceback

BENCHMARKS = ("generation", "toxicity", "finetune", "ppo")


def evaluation_row(details: dict):
    """The seeds' evaluation loop (generate, then score) per example, from the two parts."""
    from benchmarks.common import Result

    generation, toxicity = details.get("generation"), details.get("toxicity")
    if not generation or not toxicity:
        return None
    per_example = {
        side: generation["seconds_per_example"][side] + toxicity["seconds_per_example"][side]
        for side in ("seed-style", "ours")
    }
    return Result("evaluation: generate + score toxicity", "examples/s", "throughput",
                  1 / per_example["seed-style"], 1 / per_example["ours"],
                  "sum of the two rows above")


def format_phases(phases: dict[str, dict[str, float]],
                  peaks: dict[str, dict[str, int]] | None = None) -> str:
    """PPO seconds per step (and GPU peak memory) by phase, seed-style and ours."""
    from benchmarks.common import format_bytes

    peaks = peaks or {"seed-style": {}, "ours": {}}
    names = list(dict.fromkeys([*phases["seed-style"], *phases["ours"]]))
    lines = ["| PPO phase | seed-style s/step | ours s/step | seed-style peak | ours peak |",
             "|---|---:|---:|---:|---:|"]
    for name in names:
        cells = [f"{side[name]:.3g}" if name in side else "n/a"
                 for side in (phases["seed-style"], phases["ours"])]
        cells += [format_bytes(side[name]) if name in side else "-"
                  for side in (peaks["seed-style"], peaks["ours"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import parse_arguments

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--only", default=",".join(BENCHMARKS))
    known, rest = pre.parse_known_args(argv)
    args = parse_arguments(__doc__.splitlines()[0], rest)
    chosen = [name.strip() for name in known.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"Unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}.")

    from benchmarks.common import (
        chosen_scale,
        environment,
        format_environment,
        format_table,
        prepare_process,
        resolve_device,
        save_results,
    )

    device = resolve_device(args.device)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    prepare_process()
    from benchmarks import bench_finetune, bench_generation, bench_ppo, bench_toxicity

    modules = {"generation": bench_generation, "toxicity": bench_toxicity,
               "finetune": bench_finetune, "ppo": bench_ppo}
    scale = chosen_scale(args)
    env = environment(device)
    print(f"Benchmarks at scale {scale.name!r} on {device}", flush=True)
    print(format_environment(env), end="\n\n", flush=True)
    results, details, wall = [], {}, {}
    failed = []
    for name in chosen:
        start = time.perf_counter()
        try:
            rows, details[name] = modules[name].run(scale, device)
        except Exception:  # report it and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
            continue
        finally:
            wall[name] = time.perf_counter() - start
        results += rows
        print(f"  {name}: done in {wall[name]:.0f} s", flush=True)
        if name in ("generation", "toxicity") and (row := evaluation_row(details)) is not None:
            results.append(row)  # once both parts are measured
    print()
    print(format_table(results))
    if "generation" in details:
        print(f"\nGreedy outputs identical (batched vs one at a time): "
              f"{details['generation']['identical_outputs']}")
    if "toxicity" in details:
        print(f"Largest toxicity score difference (batched vs one at a time): "
              f"{details['toxicity']['max_score_difference']:.2g}")
    if "ppo" in details:
        print()
        print(format_phases(details["ppo"]["phase_seconds_per_step"],
                            details["ppo"].get("phase_peak_bytes")))
    print(f"\nTotal: {sum(wall.values()):.0f} s")
    if args.json:
        save_results(args.json, env, results, {"details": details, "wall_seconds": wall,
                                               "scale": scale.name, "failed": failed})
    if failed:
        raise SystemExit(f"Failed: {', '.join(failed)} (tracebacks above).")


if __name__ == "__main__":
    main()
