"""Run the tiny labs under other CPUs' numerics and other seeds; report every claim's margin.

Training on a CPU is not bit-reproducible across machines: thread counts, instruction sets
(oneDNN and MKL pick kernels by what the CPU offers) and library builds change the last
bits of every sum, and training turns those bits into another trajectory. A lesson of the
tiny world is a property of the world only if it holds on all of them. This tool shows
another machine's numerics on this one, by running the labs headless once per *variant*:

* ``OMP_NUM_THREADS`` 1 and 2 (reductions split differently);
* ``ATEN_CPU_CAPABILITY`` ``default`` (no vector kernels), ``avx2``, and the machine's own
  (the ``default-env`` variant: nothing set);
* ``MKL_CBWR=COMPATIBLE`` (MKL's conditional numerical reproducibility mode);
* one thread and AVX2 together, as ``make test`` runs the notebooks;
* other seeds of every lab's training (``seed-7``, ``seed-8``; the labs' own is 42).

For each variant it executes the notebooks in order (a lab whose checks fail is recorded
and the next one still runs: Lab 3 needs Lab 2's adapter, saved before Lab 2's checks),
evaluates every claim of :mod:`labs_common.claims` on what each lab recorded, and writes

* ``build/robustness/results.json``: per variant its settings, per lab whether it ran and
  its seconds, every claim's value and margin; per claim its smallest margin and where;
* ``build/robustness/table.md``: one row per claim, one column per variant (the margins),
  and the smallest margin;
* ``build/robustness/<variant>/labs/*.ipynb``: the executed notebooks, to read.

One variant runs all four labs in about 7 minutes on an idle 2-core machine (16 with
``MKL_CBWR=COMPATIBLE``); the whole matrix takes about 50 minutes with ``--jobs 2``, which runs
two variants side by side. Run ``threads-2`` alone: two threads per kernel next to another job
is the slow case the labs avoid.
Subsets::

    python -m labs_tools.robustness                        # every variant, every lab
    python -m labs_tools.robustness --only lab2 lab3 --variants threads-1 seed-7 --jobs 2
    python -m labs_tools.robustness --report               # rebuild the table from disk
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from labs_common.paths import REPO_ROOT, build_dir

NOTEBOOKS = REPO_ROOT / "notebooks"
DEFAULT_SEED = 42


@dataclass(frozen=True)
class Variant:
    """One way to run the labs: environment variables for the kernels and a seed."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    about: str = ""


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("default-env", {}, about="nothing set: the labs' own thread choice, this CPU's "
                                     "own instruction set"),
    Variant("threads-1", {"OMP_NUM_THREADS": "1"}, about="one thread per kernel"),
    Variant("threads-2", {"OMP_NUM_THREADS": "2"}, about="two threads per kernel"),
    Variant("isa-default", {"ATEN_CPU_CAPABILITY": "default"},
            about="ATen without vector kernels"),
    Variant("isa-avx2", {"ATEN_CPU_CAPABILITY": "avx2"}, about="ATen's AVX2 kernels"),
    Variant("mkl-compatible", {"MKL_CBWR": "COMPATIBLE"},
            about="MKL's reproducible, instruction-set-neutral paths"),
    Variant("ci", {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"},
            about="one thread and AVX2 kernels together, as make test runs the notebooks"),
    Variant("seed-7", {}, seed=7, about="every lab's training seeded with 7"),
    Variant("seed-8", {}, seed=8, about="every lab's training seeded with 8"),
)}


def lab_notebooks(only: Sequence[str] | None = None) -> list[Path]:
    """The lab notebooks in order, or those whose name starts with one of ``only``."""
    paths = sorted(p for p in NOTEBOOKS.glob("lab*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(word) for word in only)]
    return paths


def variant_dir(root: Path, variant: Variant) -> Path:
    return root / variant.name


def cpu_description() -> dict[str, str]:
    """This CPU's model name and the instruction set torch's kernels use here."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {"model": model, "cores": str(os.cpu_count()),
            "torch_capability": str(torch.backends.cpu.get_cpu_capability()),
            "torch": torch.__version__}


# --------------------------------------------------------------------------- one variant


NUMERICS_VARIABLES = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR")


def variant_environment(variant: Variant, out: Path,
                        base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ``base`` (this process's), the variant's numerics, its folder.

    A variant sets exactly the numerics variables it names: any other value of them in
    ``base`` is dropped, so ``threads-1`` run from a shell with ``ATEN_CPU_CAPABILITY`` set
    is still the machine's own instruction set.
    """
    env = {name: value for name, value in (os.environ if base is None else base).items()
           if name not in NUMERICS_VARIABLES}
    env.update(variant.env)
    env.update({"LABS_PROFILE": "tiny", "LABS_BUILD_DIR": str(out),
                "LABS_RESULTS": str(out / "results.json")})
    return env


def run_variant(variant: Variant, root: Path, only: Sequence[str] | None = None) -> dict:
    """Execute the labs of one variant in a child process with the variant's environment.

    The child's kernels inherit the environment, so ``ATEN_CPU_CAPABILITY`` and friends take
    effect before torch loads. Returns the variant's record (see :func:`worker`).
    """
    out = variant_dir(root, variant)
    out.mkdir(parents=True, exist_ok=True)
    env = variant_environment(variant, out)
    command = [sys.executable, "-m", "labs_tools.robustness", "--worker", variant.name,
               "--out", str(root)]
    if only:
        command += ["--only", *only]
    with open(out / "worker.log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    record_path = out / "variant.json"
    return json.loads(record_path.read_text()) if record_path.is_file() else {
        "name": variant.name, "error": f"the worker wrote no record; see {out / 'worker.log'}"}


def worker(variant: Variant, root: Path, only: Sequence[str] | None = None) -> dict:
    """In the child: run each lab notebook with papermill, then state every claim."""
    import papermill

    from labs_common import claims
    from labs_common.results import load_results

    out = variant_dir(root, variant)
    labs_out = out / "labs"
    labs_out.mkdir(parents=True, exist_ok=True)
    record: dict = {"name": variant.name, "env": dict(variant.env), "seed": variant.seed,
                    "about": variant.about, "labs": {}}
    earlier = out / "variant.json"
    if only and earlier.is_file():  # a rerun of some labs keeps what the others recorded
        record["labs"] = json.loads(earlier.read_text()).get("labs", {})
    for notebook in lab_notebooks(only):
        lab = notebook.name.split("_")[0]
        started = time.perf_counter()
        error = None
        try:
            papermill.execute_notebook(
                str(notebook), str(labs_out / notebook.name),
                parameters={"profile_name": "tiny", "seed": variant.seed,
                            "check_claims": False},  # every claim's margin is read below
                cwd=str(notebook.parent), kernel_name="python3", progress_bar=False,
                log_output=False)
        except Exception as exc:  # a failed check cell, or a crash: recorded, not fatal
            error = _first_line(exc)
        record["labs"][lab] = {"seconds": round(time.perf_counter() - started, 1),
                               "error": error}
        print(f"[{variant.name}] {lab}: {'ok' if error is None else error} "
              f"({record['labs'][lab]['seconds']:.0f} s)", flush=True)
    results = load_results(out / "results.json")
    record["claims"] = [
        {"lab": c.lab, "name": c.name, "statement": c.statement, "value": c.value,
         "threshold": c.threshold, "condition": c.condition, "margin": c.margin,
         "holds": c.holds}
        for c in claims.of_results(results, labs=list(record["labs"]))
        if _lab_recorded(results, c.lab)
    ]
    (out / "variant.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _lab_recorded(results: Mapping, lab: str) -> bool:
    return lab in results


def _first_line(exc: Exception) -> str:
    """The failing assertion's message (papermill wraps it), else the exception's name."""
    text = str(exc)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("AssertionError", "ClaimFailed", "- ")):
            return line[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# --------------------------------------------------------------------------- the report


def summarize(records: Sequence[Mapping]) -> dict:
    """Per claim: each variant's margin, and the smallest margin with its variant."""
    by_claim: dict[str, dict] = {}
    for record in records:
        for claim in record.get("claims", []):
            key = f"{claim['lab']}.{claim['name']}"
            entry = by_claim.setdefault(key, {"statement": claim["statement"],
                                              "condition": claim["condition"],
                                              "margins": {}, "values": {}})
            entry["margins"][record["name"]] = claim["margin"]
            entry["values"][record["name"]] = claim["value"]
            entry.setdefault("holds", {})[record["name"]] = claim["holds"]
    for entry in by_claim.values():
        variant, margin = min(entry["margins"].items(), key=lambda item: item[1])
        entry["smallest"] = {"margin": margin, "variant": variant}
        entry["holds_everywhere"] = all(entry["holds"].values())
    return by_claim


def _number(value: float, digits: int) -> str:
    """A signed margin: fixed decimals for ordinary sizes, significant digits for tiny ones."""
    if value == 0 or abs(value) >= 10 ** -digits:
        return f"{value:+.{digits}f}"
    return f"{value:+.2g}"


def markdown_table(records: Sequence[Mapping], summary: Mapping, digits: int = 3) -> str:
    """Claims as rows, variants as columns (margins), and the smallest margin."""
    names = [r["name"] for r in records]
    header = "| claim | condition | " + " | ".join(names) + " | smallest margin |"
    rule = "|---|---|" + "---:|" * len(names) + "---:|"
    rows = [header, rule]
    for key, entry in summary.items():
        cells = []
        for name in names:
            margin = entry["margins"].get(name)
            holds = entry["holds"].get(name)
            cells.append("–" if margin is None else _number(margin, digits)
                         + ("" if holds else " **fails**"))
        smallest = entry["smallest"]
        rows.append(f"| `{key}` | {entry['condition']} | " + " | ".join(cells)
                    + f" | {_number(smallest['margin'], digits)} ({smallest['variant']}) |")
    failures = [f"{r['name']} {lab}: {lab_record['error']}" for r in records
                for lab, lab_record in r.get("labs", {}).items() if lab_record.get("error")]
    lines = ["\n".join(rows)]
    if failures:
        lines.append("Labs that stopped:\n" + "\n".join(f"- {f}" for f in failures))
    return "\n\n".join(lines) + "\n"


def write_report(root: Path, records: Sequence[Mapping]) -> dict:
    summary = summarize(records)
    report = {"date": date.today().isoformat(), "cpu": cpu_description(),
              "variants": {r["name"]: r for r in records}, "claims": summary}
    (root / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (root / "table.md").write_text(
        f"Robustness run of {report['date']} on {report['cpu']['model']} "
        f"({report['cpu']['cores']} cores, torch {report['cpu']['torch']}, kernels "
        f"{report['cpu']['torch_capability']}); margins in each claim's own unit, "
        "positive = holds.\n\n" + markdown_table(records, summary))
    return report


def load_records(root: Path, names: Sequence[str]) -> list[dict]:
    records = []
    for name in names:
        path = root / name / "variant.json"
        if path.is_file():
            records.append(json.loads(path.read_text()))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS),
                        help=f"which variants (default: all): {', '.join(VARIANTS)}")
    parser.add_argument("--only", nargs="*", help="labs to run, e.g. lab2 lab3 (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="variants run side by side")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: build/robustness)")
    parser.add_argument("--report", action="store_true",
                        help="only rebuild the table from the variants already on disk")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.out or build_dir() / "robustness"
    unknown = [name for name in ([args.worker] if args.worker else args.variants)
               if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    if args.worker:
        worker(VARIANTS[args.worker], root, args.only)
        return 0
    root.mkdir(parents=True, exist_ok=True)
    if not args.report:
        from concurrent.futures import ThreadPoolExecutor

        chosen = [VARIANTS[name] for name in args.variants]
        print(f"{len(chosen)} variants x {len(lab_notebooks(args.only))} labs, "
              f"{args.jobs} at a time, into {root}", flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for record in pool.map(lambda v: run_variant(v, root, args.only), chosen):
                labs = record.get("labs", {})
                print(f"{record['name']}: " + ", ".join(
                    f"{lab} {'ok' if r.get('error') is None else 'FAILED'}"
                    for lab, r in labs.items()) + (record.get("error") or ""), flush=True)
    records = load_records(root, args.variants)
    report = write_report(root, records)
    print((root / "table.md").read_text())
    failing = [key for key, entry in report["claims"].items() if not entry["holds_everywhere"]]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
