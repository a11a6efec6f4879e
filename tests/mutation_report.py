"""Per-module score of a mutmut run (``make mutate``), read from mutmut's ``mutants/`` folder.

    python tests/mutation_report.py [--min-score 90] PATTERN...

Only the mutants whose names match one of the fnmatch ``PATTERN`` s count (the scope
``make mutate`` ran). A surviving mutant named in tests/README.md is counted as explained
(equivalent or harmless, with the reason given there) and left out of the score:
score = killed / (killed + unexplained survivors). Exits with 1 if a module scores
below ``--min-score`` or a mutant in scope was not checked.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
EXPLANATIONS = ROOT / "tests" / "README.md"
NAME = re.compile(r"`(labs_common\.[^`\s]+__mutmut_\d+)`")

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped the way the score needs.
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # a test failed, or the mutant timed out
SURVIVED = {0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="+", help="fnmatch patterns of mutant names in scope")
    parser.add_argument("--min-score", type=float, default=90.0)
    args = parser.parse_args(argv)

    explained = set(NAME.findall(EXPLANATIONS.read_text(encoding="utf-8")))
    rows = []
    unexplained: list[str] = []
    failed = False
    for meta in sorted(MUTANTS.glob("labs_common/**/*.py.meta")):
        exit_codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        in_scope = {
            name: code
            for name, code in exit_codes.items()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in args.patterns)
        }
        if not in_scope:
            continue
        counts = Counter()
        for name, code in sorted(in_scope.items()):
            if code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED and name in explained:
                counts["explained"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                unexplained.append(name)
            else:  # not checked, no tests, suspicious, segfault
                counts["other"] += 1
                unexplained.append(f"{name} (exit code {code})")
        decided = counts["killed"] + counts["survived"]
        score = 100.0 * counts["killed"] / decided if decided else 100.0
        failed |= score < args.min_score or counts["other"] > 0
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        rows.append((module, len(in_scope), counts, score))

    if not rows:
        print("No mutants in scope: run `make mutate` (mutmut run) first.", file=sys.stderr)
        return 1
    header = f"{'module':<30}{'mutants':>8}{'killed':>8}{'explained':>10}{'survived':>9}"
    print(header + f"{'other':>7}{'score':>8}")
    for module, total, counts, score in rows:
        print(
            f"{module:<30}{total:>8}{counts['killed']:>8}{counts['explained']:>10}"
            f"{counts['survived']:>9}{counts['other']:>7}{score:>7.1f}%"
        )
    print("score = killed / (killed + survived); explained survivors: tests/README.md")
    if unexplained:
        print("\nSurvivors not explained in tests/README.md (`mutmut show NAME` shows one):")
        print("\n".join(f"  {name}" for name in unexplained))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
