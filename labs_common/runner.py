"""Run every lab notebook headless and summarize what they recorded (``make labs``).

Each notebook in ``notebooks/`` is executed top to bottom with papermill, in its own
folder, with the profile injected into its ``parameters`` cell. Executed copies go to
``build/labs/``; each lab records its figures into ``build/labs/results.json``, and this
runner adds the seconds each notebook took and prints a summary table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from labs_common.paths import REPO_ROOT, build_dir, results_path
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
)


def notebooks(folder: Path) -> list[Path]:
    """The lab notebooks, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def run_notebook(path: Path, output: Path, profile: str) -> float:
    """Execute ``path`` into ``output``; return the wall-clock seconds it took."""
    import papermill

    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters={"profile_name": profile},
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - start


def summary_table(results: dict) -> str:
    """One line per lab: its seconds and its headline figures."""
    lines = [f"profile: {results.get('profile')}   results: {results_path()}"]
    for lab in sorted(k for k in results if k.startswith("lab")):
        flat = flatten(results[lab])
        shown = [f"{k}={flat[k]:.3f}" for k in HEADLINES if isinstance(flat.get(k), float)]
        seconds = results.get("seconds", {}).get(lab, float("nan"))
        lines.append(f"{lab:<6} {seconds:7.1f} s   " + "  ".join(shown))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("LABS_PROFILE", "tiny"))
    parser.add_argument("--only", nargs="*", help="run only notebooks whose name contains these")
    args = parser.parse_args(argv)

    os.environ["LABS_PROFILE"] = args.profile
    out_dir = build_dir() / "labs"
    out_dir.mkdir(parents=True, exist_ok=True)
    selected = [
        nb
        for nb in notebooks(REPO_ROOT / "notebooks")
        if not args.only or any(word in nb.name for word in args.only)
    ]
    for notebook in selected:
        lab = notebook.name.split("_")[0]
        print(f"running {notebook.name} ({args.profile}) ...", flush=True)
        seconds = run_notebook(notebook, out_dir / notebook.name, args.profile)
        record_results(lab, {}, profile=args.profile, seconds=seconds)
        print(f"  done in {seconds:.0f} s -> {out_dir / notebook.name}", flush=True)
    print()
    print(summary_table(load_results()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
