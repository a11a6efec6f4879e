"""Run every lab notebook headless and summarize what they recorded (``make labs``).

Each notebook in ``notebooks/`` is executed top to bottom with papermill, in its own
folder, with the profile injected into its ``parameters`` cell. Executed copies go to
``build/labs/``; each lab records its figures into its profile's file,
``build/labs/results-<profile>.json`` (another profile's stay as they are), and this runner
adds the seconds each notebook took and prints a summary table.

``--rehearsal`` (``make rehearse``) runs the same cells on the full profile against a local
replica of its Hub repositories (``--hub-dir``), with every subset and training run cut to
a few examples (:data:`labs_common.rehearsal.REHEARSAL_SETTINGS`). Everything it writes goes
to ``build/rehearsal/``, apart from a real full-profile run's files: executed notebooks,
``results.json`` and the adapters Lab 2 trains for Lab 3. It runs Lab 3 before Lab 2, so
that Lab 3's fallback (training Lab 2's adapter itself, as on a fresh Colab machine) runs too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from labs_common.device import T4_VARIABLE
from labs_common.hub import HUB_DIR_VARIABLE
from labs_common.paths import REPO_ROOT, build_dir, results_path
from labs_common.rehearsal import REHEARSAL_SETTINGS
from labs_common.results import flatten, load_results, record_results

HEADLINES = (
    "rouge1.no_prompt",
    "rouge1.zero_shot",
    "rouge1.few_shot",
    "sentiment_accuracy.few_shot",
    "rouge1.original",
    "rouge1.full",
    "rouge1.lora",
    "toxicity_mean.before",
    "toxicity_mean.after",
    "rouge1.before",
    "rouge1.after",
    "dpo.toxicity_mean.before",
    "dpo.toxicity_mean.after",
    "causal.grpo_trl.toxicity_mean.after",
    "causal.dpo_trl.toxicity_mean.after",
)


def notebooks(folder: Path) -> list[Path]:
    """The lab notebooks, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def run_notebook(path: Path, output: Path, profile: str, **parameters) -> float:
    """Execute ``path`` into ``output``; return the wall-clock seconds it took."""
    import papermill

    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters={"profile_name": profile, **parameters},
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - start


def rehearsal_order(paths: list[Path]) -> list[Path]:
    """Lab 4, then Lab 3, before Lab 2: a fresh Colab machine has neither Lab 2's adapter nor
    Lab 3's PPO policy, so Lab 4 makes both with their labs' recipes (the fallbacks of
    :mod:`labs_common.start_policy`, which Lab 3 shares). Then Lab 3 and Lab 2 run as usual.
    """
    rank = {"lab4": 1, "lab3": 2, "lab2": 3}
    return sorted(paths, key=lambda p: (rank.get(p.name.split("_")[0], 0), p.name))


def summary_table(results: dict) -> str:
    """One line per lab: its seconds, its peak GPU memory (on a GPU) and its headline figures."""
    profile = results.get("profile")
    lines = [f"profile: {profile}   results: {results_path(profile) if profile else None}"]
    for lab in sorted(k for k in results if k.startswith("lab")):
        flat = flatten(results[lab])
        shown = [f"{k}={flat[k]:.3f}" for k in HEADLINES if isinstance(flat.get(k), float)]
        seconds = results.get("seconds", {}).get(lab, float("nan"))
        peak = results.get("meta", {}).get(lab, {}).get("gpu_peak_bytes")
        memory = f"{peak / 2**30:5.1f} GiB peak   " if peak else ""
        lines.append(f"{lab:<6} {seconds / 60:6.1f} min   {memory}" + "  ".join(shown))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("LABS_PROFILE", "tiny"))
    parser.add_argument("--only", nargs="*", help="run only notebooks whose name contains these")
    parser.add_argument("--hub-dir", default=os.environ.get(HUB_DIR_VARIABLE),
                        help="full profile: a folder holding the Hub repositories under their ids")
    parser.add_argument("--rehearsal", action="store_true",
                        help="full profile against --hub-dir, every lab cut to a few examples, "
                             "everything written to build/rehearsal/")
    parser.add_argument("--full-sizes", action="store_true",
                        help="with --rehearsal: keep the full profile's real sizes")
    parser.add_argument("--t4", action="store_true",
                        help="on a bigger GPU, run as on a Colab T4: fp32, no TF32, 15 GiB")
    parser.add_argument("--download-commands", action="store_true",
                        help="print the `hf download` command of every repository the full "
                             "profile needs in --hub-dir, and exit")
    args = parser.parse_args(argv)

    if args.download_commands:
        from labs_common.hub import download_command
        from labs_common.profiles import get_profile

        folder = args.hub_dir or "hub"
        for repo_id, kind in get_profile("full").hub_repositories().items():
            print(download_command(repo_id, kind, folder))
        return 0
    if args.t4:
        os.environ[T4_VARIABLE] = "1"

    if args.rehearsal:
        if not args.hub_dir:
            parser.error("--rehearsal needs --hub-dir (make rehearse builds a replica)")
        args.profile = "full"
        rehearsal_dir = build_dir() / "rehearsal"
        shutil.rmtree(rehearsal_dir, ignore_errors=True)  # no adapter left from a former run
        os.environ["LABS_BUILD_DIR"] = str(rehearsal_dir)
        os.environ["LABS_RESULTS"] = str(build_dir() / "results.json")
    if args.hub_dir:
        os.environ[HUB_DIR_VARIABLE] = str(Path(args.hub_dir).resolve())
    os.environ["LABS_PROFILE"] = args.profile
    out_dir = build_dir() if args.rehearsal else build_dir() / "labs"
    out_dir.mkdir(parents=True, exist_ok=True)
    selected = [
        nb
        for nb in notebooks(REPO_ROOT / "notebooks")
        if not args.only or any(word in nb.name for word in args.only)
    ]
    if args.rehearsal:
        selected = rehearsal_order(selected)
    for notebook in selected:
        lab = notebook.name.split("_")[0]
        parameters = {}
        if args.hub_dir:
            parameters["hub_dir"] = os.environ[HUB_DIR_VARIABLE]
        if args.rehearsal and not args.full_sizes:
            parameters["settings_overrides"] = REHEARSAL_SETTINGS
        print(f"running {notebook.name} ({args.profile}) ...", flush=True)
        seconds = run_notebook(notebook, out_dir / notebook.name, args.profile, **parameters)
        record_results(lab, {}, profile=args.profile, seconds=seconds)
        print(f"  done in {seconds:.0f} s -> {out_dir / notebook.name}", flush=True)
    print()
    results = load_results(profile=args.profile)
    print(summary_table(results))
    if args.rehearsal:
        missing = [f"lab{n}" for n in (1, 2, 3, 4) if not args.only and f"lab{n}" not in results]
        if results.get("profile") != "full" or missing:
            print(f"The rehearsal did not record every lab: {missing or results.get('profile')}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
