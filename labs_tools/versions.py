"""Check the ends of pyproject.toml's ranges: the oldest versions it allows, and the newest.

``pyproject.toml`` promises ranges (any transformers from its lower bound on, and so on);
Colab and students' machines keep their own versions inside them. This tool installs one
end of those ranges into an environment of its own and runs the project's checks there:

* ``oldest`` (``make oldest``): every direct dependency at the lowest version its range
  allows, resolved as a new user's resolver would (uv's ``--resolution lowest-direct``:
  the direct dependencies at their lower bounds, what they pull in at its newest);
* ``newest`` (``make newest``): the Hugging Face stack (:data:`HF_STACK`) at its newest
  releases, pyproject's upper bounds ignored, everything else at ``requirements.txt``'s pins.

Both keep torch at the CPU wheel :data:`TORCH` (any other torch request pulls several GB of
CUDA packages), so torch's own lower bound is not exercised. Each run

1. creates ``build/venv-<end>`` afresh, installs torch and uv with pip, then the rest with
   ``uv pip install`` (the test tools at ``requirements-dev.txt``'s pins) and the project
   itself with ``--no-deps``, and checks that no CUDA package came in;
2. runs the unit tests (``pytest -p no:nbval -o addopts= tests/``: not the notebooks),
   deselecting the tests that by design need the pinned versions (:data:`PINNED_ONLY_TESTS`)
   when the installed ones differ;
3. runs Lab 1 on the tiny profile with the labs' runner;
4. for ``newest``, runs a short Lab 3 on tiny with papermill (:data:`LAB3_SHORT` shrinks every
   run; Lab 3 trains its own small Lab 2 adapter) without the cell that checks the tiny
   world's claims, which a run this short cannot meet.

It prints a table (library, range, installed; then each check, what passed and the first
error) and writes it to ``build/versions/<end>/report.md`` and ``report.json``, beside the
logs of every step. About 15 to 20 minutes on two idle cores, most of it the unit tests
(twice that with another run beside it)::

    python -m labs_tools.versions oldest
    python -m labs_tools.versions newest
    python -m labs_tools.versions oldest --reuse-venv --tests tests/test_rl_ppo.py   # quicker tries

This module uses the standard library only, so any Python 3.11 runs it (the environment it
builds holds everything else).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The CPU wheel every environment here uses; pip finds it locally, uv would not.
TORCH = "torch==2.13.0"

# The Hugging Face libraries that ``newest`` takes at their newest releases.
HF_STACK = (
    "transformers",
    "tokenizers",
    "datasets",
    "peft",
    "trl",
    "accelerate",
    "huggingface_hub",
    "safetensors",
)

# The libraries the table lists: the direct dependencies and pyarrow (datasets' own, whose
# NumPy requirement decided the oldest NumPy).
LIBRARIES = (
    "torch",
    *HF_STACK,
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "pyarrow",
    "rouge_score",
    "sacrebleu",
    "sentencepiece",
    "tqdm",
)

# Unit tests that by design hold only with the pinned versions, and why. They are
# deselected when the installed transformers is not the pinned one.
PINNED_ONLY_TESTS = {
    "tests/test_tinyworld.py::"
    "test_classifier_builds_are_deterministic_here_and_behave_as_shipped": (
        "compares a rebuilt classifier's config.json byte for byte with the shipped one, and "
        "the file records the transformers version that wrote it"
    ),
}

# Lab 3 cut to a few examples per run: Lab 2's fallback adapter (a few LoRA steps), two PPO
# steps, two GRPO steps, a few DPO pairs, one extra seed.
LAB3_SHORT = {
    "lab2": {"train_examples": 32, "batch_size": 4, "lora_steps": 4, "warmup_steps": 0,
             "generation_batch_size": 8},
    "lab3": {"eval_examples": 8, "generation_batch_size": 8, "ppo_steps": 2,
             "ppo_batch_size": 4, "ppo_mini_batch_size": 2, "seeds": [0], "grpo_steps": 2,
             "grpo_batch_size": 4, "grpo_generations": 2, "grpo_max_completion_length": 8,
             "dpo_dialogues": 8, "dpo_samples": 2, "dpo_min_margin": 0.0, "dpo_epochs": 1,
             "dpo_batch_size": 4, "ppo_scan_dialogues": 64},
}

DESCRIPTIONS = {
    "oldest": "the lowest versions pyproject.toml allows, by uv's --resolution lowest-direct",
    "newest": "the newest Hugging Face stack, pyproject's upper bounds ignored, the rest at "
              "requirements.txt's pins",
}


# --- requirements -------------------------------------------------------------------------

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


def normalize(name: str) -> str:
    """A distribution name as the package index compares it: ``rouge_score`` -> ``rouge-score``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(requirement: str) -> tuple[str, str]:
    """``"trl>=1.10,<2"`` -> ``("trl", ">=1.10,<2")`` (extras and markers dropped)."""
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"Not a requirement: {requirement!r}")
    return match.group(1), match.group(3).replace(" ", "")


def version_key(version: str) -> tuple[int, ...]:
    """The release numbers of a version, for ordering: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``.

    Trailing zeros are dropped, so ``"5.0"`` and ``"5.0.0"`` compare equal; pre-release and
    local labels are ignored.
    """
    release = re.match(r"\d+(\.\d+)*", version.strip().lstrip("v"))
    if not release:
        raise ValueError(f"Not a version: {version!r}")
    numbers = [int(part) for part in release.group(0).split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def lower_bound(specifier: str) -> str | None:
    """The lowest version a specifier allows: ``">=5.23,<6"`` -> ``"5.23"``; None if unbounded.

    ``==`` and ``~=`` give their version; ``>`` has no lowest version and gives None.
    """
    for clause in filter(None, specifier.split(",")):
        match = re.match(r"(>=|==|~=)\s*([^,*]+)$", clause.strip())
        if match:
            return match.group(2)
    return None


def upper_bound(specifier: str) -> str | None:
    """The exclusive upper bound of a specifier: ``">=1.10,<2"`` -> ``"2"``; None if none."""
    for clause in filter(None, specifier.split(",")):
        match = re.match(r"<\s*([^=,]+)$", clause.strip())
        if match:
            return match.group(1)
    return None


def project_dependencies(pyproject: Path = REPO_ROOT / "pyproject.toml") -> dict[str, str]:
    """``{name: specifier}`` of pyproject.toml's runtime dependencies, in its order."""
    listed = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return dict(split_requirement(requirement) for requirement in listed)


def read_pins(path: Path) -> dict[str, str]:
    """``{name: version}`` of a requirements file's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, specifier = split_requirement(line)
            if not specifier.startswith("=="):
                raise ValueError(f"{path.name}: {line!r} is not an exact pin")
            pins[name] = specifier[2:]
    return pins


def oldest_requirements(dependencies: dict[str, str]) -> list[str]:
    """What ``oldest`` asks uv for, lowest-direct: pyproject's ranges as they are, less torch."""
    return [f"{name}{spec}" for name, spec in dependencies.items() if normalize(name) != "torch"]


def newest_requirements(dependencies: dict[str, str], pins: dict[str, str]) -> list[str]:
    """What ``newest`` asks for: the Hugging Face stack with no bounds, the rest at its pins.

    A dependency that is neither in the stack nor pinned keeps pyproject's range.
    """
    stack = {normalize(name) for name in HF_STACK}
    pinned = {normalize(name): version for name, version in pins.items()}
    wanted = []
    for name, spec in dependencies.items():
        key = normalize(name)
        if key == "torch":
            continue
        if key in stack:
            wanted.append(name)
        elif key in pinned:
            wanted.append(f"{name}=={pinned[key]}")
        else:
            wanted.append(f"{name}{spec}")
    return wanted


def pinned_only_deselections(installed: dict[str, str | None],
                             pins: dict[str, str]) -> dict[str, str]:
    """The :data:`PINNED_ONLY_TESTS` to leave out: all of them unless transformers is the pin."""
    pinned = {normalize(name): version for name, version in pins.items()}
    have = installed.get("transformers")
    want = pinned.get("transformers")
    if have and want and version_key(have) == version_key(want):
        return {}
    return dict(PINNED_ONLY_TESTS)


# --- reading what the checks printed ------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b")
# A line that names an error: "ValueError: ...", "E   ImportError: ...", "error: ...", "× ...".
_ERROR_LINE = re.compile(
    r"^(?:E\s+)?(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b:?.*|error:.*|×.*)$"
)


def parse_pytest_summary(text: str) -> dict[str, int]:
    """The counts of pytest's last summary line, ``"3 failed, 280 passed, 2 errors in 9s"``.

    Keys: passed, failed, errors, skipped, deselected (absent kinds count 0). Raises
    ValueError when the text has no summary line (pytest did not get that far).
    """
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "deselected": 0}
    for line in reversed(_ANSI.sub("", text).splitlines()):
        found = _COUNT.findall(line)
        if found and re.search(r"\bin [\d.]+s", line):
            for number, kind in found:
                kind = "errors" if kind.startswith("error") else kind
                if kind in counts:
                    counts[kind] = int(number)
            return counts
    raise ValueError("no pytest summary line")


def parse_junit(xml_text: str) -> tuple[dict[str, int], str | None]:
    """Counts and the first failure of a pytest ``--junitxml`` report.

    The first failure reads ``"<test id>: <first line of its message>"``; None if all passed.
    """
    root = ElementTree.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "deselected": 0}
    first = None
    for suite in suites:
        for case in suite.iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed" if child.tag == "failure" else "errors"
                    if first is None:
                        first = f"{_test_id(case)}: {_message_line(child)}"
                    break
                if child.tag == "skipped":
                    outcome = "skipped"
            counts[outcome] += 1
    return counts, first


def _test_id(case: ElementTree.Element) -> str:
    module = case.get("classname", "").replace(".", "/")
    name = case.get("name", "")
    return f"{module}.py::{name}" if module else name


def _message_line(element: ElementTree.Element) -> str:
    """The error a junit failure names: in its message, else in its text (a collection
    error's message is only "collection failure"), else the message's first line."""
    message = (element.get("message") or "").strip()
    found = first_error_line(message) or first_error_line(element.text or "")
    return found or (message.splitlines()[0] if message else "(no message)")


def first_error_line(text: str, limit: int = 200) -> str | None:
    """The line of a log that says what went wrong, shortened to ``limit`` characters.

    The last line that names an error (``ValueError: ...``, pytest's ``E   ...Error: ...``,
    uv's ``error: ...``/``× ...``): a traceback ends with its cause, and papermill prints the
    cell's exception after its own. None if no line looks like an error.
    """
    found = None
    for raw in _ANSI.sub("", text).splitlines():
        line = raw.strip()
        if _ERROR_LINE.match(line):
            found = re.sub(r"^E\s+", "", line)
    if found is None:
        return None
    return found if len(found) <= limit else found[: limit - 1] + "…"


# --- the report -----------------------------------------------------------------------------


@dataclass
class Check:
    """One check of a run: what it is, what passed, how long it took, what failed first."""

    name: str
    ok: bool | None  # None: not run
    result: str
    seconds: float = 0.0
    first_error: str | None = None


@dataclass
class Report:
    """Everything one run found: the versions and the checks."""

    end: str
    date: str
    python: str
    ranges: dict[str, str | None] = field(default_factory=dict)
    installed: dict[str, str | None] = field(default_factory=dict)
    newest_releases: dict[str, str | None] = field(default_factory=dict)  # newest only
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def version_note(specifier: str | None, version: str | None, newest: str | None = None) -> str:
    """How an installed version sits in its range (at its floor, above the upper bound, ...)
    and, given the newest release, whether it is that one."""
    if version is None:
        return "not installed"
    notes = []
    key = version_key(version)
    low, high = lower_bound(specifier or ""), upper_bound(specifier or "")
    if high is not None and key >= version_key(high):
        notes.append("above the range")
    elif low is not None and key < version_key(low):
        notes.append("below the range")
    elif low is not None and key == version_key(low):
        notes.append("the lower bound")
    if newest is not None:
        older = key < version_key(newest)
        notes.append(f"not the newest release, {newest}" if older else "the newest release")
    return f"{version} ({'; '.join(notes)})" if notes else version


def resolver_reason(text: str, limit: int = 300) -> str | None:
    """Why uv found no solution: its first "Because ..." clause, shortened.

    On a terminal uv draws it as ``╰─▶ Because ...``, into a pipe as ``cause: Because ...``.
    """
    for raw in _ANSI.sub("", text).splitlines():
        at = raw.find("Because ")
        if at >= 0:
            line = raw[at:].strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return None


def parse_pip_index(text: str) -> str | None:
    """The newest version ``pip index versions NAME`` reports (its first line, ``NAME (X)``)."""
    match = re.search(r"^\S+ \(([^)]+)\)", text, re.MULTILINE)
    return match.group(1) if match else None


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_table(report: Report) -> str:
    """The report as Markdown: a heading, the versions table, the checks table, the notes."""
    lines = [
        f"**{report.end}**: {DESCRIPTIONS.get(report.end, report.end)}; {report.date}, "
        f"Python {report.python}, {_minutes(report.seconds)} in all.",
        "",
        "| library | pyproject.toml | installed |",
        "| --- | --- | --- |",
    ]
    for name in LIBRARIES:
        specifier = report.ranges.get(name)
        note = version_note(specifier, report.installed.get(name),
                            report.newest_releases.get(name))
        if name == "torch" and report.installed.get(name):
            note += " (the CPU wheel, kept)"
        lines.append(f"| {name} | {specifier or '(not direct)'} | {note} |")
    lines += ["", "| check | result | first error |", "| --- | --- | --- |"]
    for check in report.checks:
        error = (check.first_error or "").replace("|", "\\|")
        time_taken = f" ({_minutes(check.seconds)})" if check.seconds else ""
        lines.append(f"| {check.name} | {check.result}{time_taken} | {error} |")
    lines += [""] + [f"* {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def pytest_result(counts: dict[str, int]) -> str:
    """``"283 passed, 34 failed, 2 errors, 1 deselected"``: the kinds that occurred."""
    text = f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed"
    for kind in ("errors", "skipped", "deselected"):
        if counts.get(kind):
            text += f", {counts[kind]} {kind}"
    return text


# --- running it -----------------------------------------------------------------------------

_VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
names = json.loads(sys.argv[1])
versions = {}
for name in names:
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        versions[name] = None
every = sorted({(d.metadata["Name"] or "").lower() for d in metadata.distributions()})
print(json.dumps({"versions": versions, "every": every}))
"""


class Run:
    """One run of one end: its environment, its folder and its logs."""

    def __init__(self, end: str, venv: Path, out: Path, quiet: bool = False):
        self.end, self.venv, self.out, self.quiet = end, venv, out, quiet
        self.python = venv / "bin" / "python"
        self.env = dict(os.environ)
        self.env.update({
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(venv),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "LABS_PROFILE": "tiny",
            "LABS_BUILD_DIR": str(out / "labs-build"),
            "MPLBACKEND": "Agg",
        })
        self.env.setdefault("OMP_NUM_THREADS", "1")
        self.env.pop("LABS_RESULTS", None)
        self.env.pop("PYTHONPATH", None)

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def command(self, args: list[str], log: str, env: dict | None = None) -> tuple[int, str]:
        """Run ``args`` in the repository, appending its output to ``<out>/<log>``."""
        shown = " ".join(str(a) if "\n" not in str(a) else "<script>" for a in args)
        self.say("  $ " + (shown if len(shown) < 300 else shown[:299] + "…"))
        result = subprocess.run([str(a) for a in args], cwd=REPO_ROOT, env=env or self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with open(self.out / log, "a") as handle:
            handle.write("$ " + " ".join(str(a) for a in args) + "\n" + result.stdout + "\n")
        return result.returncode, result.stdout

    def versions(self) -> tuple[dict[str, str | None], list[str]]:
        code, output = self.command([self.python, "-c", _VERSIONS_SCRIPT,
                                     json.dumps(list(LIBRARIES))], "install.log")
        if code:
            raise RuntimeError(first_error_line(output) or "could not read the versions")
        found = json.loads(output.strip().splitlines()[-1])
        return found["versions"], found["every"]


def install(run: Run, requirements: list[str], reuse: bool) -> Check:
    """A fresh venv: torch and uv with pip, the rest with uv, the project with --no-deps."""
    start = time.perf_counter()
    (run.out / "requirements.in").write_text("\n".join(requirements) + "\n")
    (run.out / "constraints.txt").write_text(TORCH + "\n")
    uv = run.venv / "bin" / "uv"
    steps = []
    if not (reuse and run.python.exists()):
        steps.append([sys.executable, "-m", "venv", "--clear", run.venv])
    steps.append([run.python, "-m", "pip", "install", "--quiet", TORCH, "uv"])
    resolve = ["--resolution", "lowest-direct"] if run.end == "oldest" else []
    # --upgrade-package: installed versions are no preference (matters with --reuse-venv)
    again = [arg for req in requirements for arg in ("--upgrade-package",
                                                     split_requirement(req)[0])]
    steps.append([uv, "pip", "install", "--python", run.python, *resolve, *again,
                  "-r", run.out / "requirements.in", "-r", REPO_ROOT / "requirements-dev.txt",
                  "-c", run.out / "constraints.txt"])
    steps.append([uv, "pip", "install", "--python", run.python, "--no-deps", "-e", REPO_ROOT])
    for step in steps:
        code, output = run.command(step, "install.log")
        if code:
            return Check("install", False, "failed", time.perf_counter() - start,
                         first_error_line(output) or f"exit status {code}")
    _, every = run.versions()
    cuda = [name for name in every if name.startswith(("nvidia-", "triton"))]
    seconds = time.perf_counter() - start
    if cuda:
        return Check("install", False, "failed", seconds,
                     f"CUDA packages came in: {', '.join(cuda[:4])}")
    return Check("install", True, "ok", seconds)


def held_back(run: Run, wanted: list[str], name: str, release: str, have: str) -> str:
    """Why the resolver installed ``have`` rather than the newest release: uv's answer when
    asked for that release beside everything else."""
    asked = [req for req in wanted if normalize(split_requirement(req)[0]) != normalize(name)]
    asked.append(f"{name}=={release}")
    wish = run.out / f"wish-{normalize(name)}.in"
    wish.write_text("\n".join(asked) + "\n")
    _, output = run.command([run.venv / "bin" / "uv", "pip", "install", "--dry-run",
                             "--python", run.python, "-r", wish,
                             "-r", REPO_ROOT / "requirements-dev.txt",
                             "-c", run.out / "constraints.txt"], "install.log")
    reason = resolver_reason(output) or first_error_line(output) or "uv gave no reason"
    return f"{name} {release}, its newest release, was not installed ({have} was): {reason}"


def unit_tests(run: Run, deselect: dict[str, str], tests: list[str]) -> Check:
    start = time.perf_counter()
    junit = run.out / "pytest.xml"
    junit.unlink(missing_ok=True)
    args = [run.python, "-m", "pytest", "-p", "no:nbval", "-p", "no:cacheprovider",
            "-o", "addopts=", "-q", "--junitxml", junit, *tests]
    for test in deselect:
        args += ["--deselect", test]
    code, output = run.command(args, "pytest.log")
    seconds = time.perf_counter() - start
    try:
        counts = parse_pytest_summary(output)
    except ValueError:
        counts = None
    first = None
    if junit.exists():
        junit_counts, first = parse_junit(junit.read_text())
        if counts is None:
            counts = junit_counts
    if counts is None:
        return Check("unit tests", False, "did not run", seconds,
                     first_error_line(output) or f"exit status {code}")
    counts["deselected"] = counts.get("deselected") or len(deselect)
    ok = code == 0 and not counts["failed"] and not counts["errors"]
    return Check("unit tests", ok, pytest_result(counts), seconds,
                 None if ok else first or first_error_line(output))


def lab1(run: Run) -> Check:
    start = time.perf_counter()
    code, output = run.command([run.python, "-m", "labs_tools.runner", "--profile", "tiny",
                                "--only", "lab1"], "lab1.log")
    seconds = time.perf_counter() - start
    if code:
        return Check("Lab 1 (tiny)", False, "failed", seconds,
                     first_error_line(output) or f"exit status {code}")
    return Check("Lab 1 (tiny)", True, "ok", seconds)


def lab3_short(run: Run) -> Check:
    """Lab 3 on tiny, shortened by :data:`LAB3_SHORT`; its claims are reported, not enforced
    (``check_claims=False``): a shortened run cannot meet what the full tiny budget shows."""
    start = time.perf_counter()
    source = REPO_ROOT / "notebooks" / "lab3_ppo_detox.ipynb"
    executed = run.out / "labs-build" / "lab3_ppo_detox.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"profile_name": "tiny", "settings_overrides": LAB3_SHORT,
                  "check_claims": False}
    code, output = run.command(
        [run.venv / "bin" / "papermill", source, executed, "--cwd", REPO_ROOT / "notebooks",
         "-k", "python3", "--no-progress-bar", "-y", json.dumps(parameters)], "lab3.log")
    seconds = time.perf_counter() - start
    name = "Lab 3 (tiny, short)"
    if code:
        return Check(name, False, "failed", seconds, first_error_line(output)
                     or f"exit status {code}")
    return Check(name, True, "ok, claims reported only", seconds)


def run_end(end: str, venv: Path, out: Path, reuse: bool, tests: list[str],
            skip_labs: bool) -> Report:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run = Run(end, venv, out)
    started = time.perf_counter()
    dependencies = project_dependencies()
    pins = read_pins(REPO_ROOT / "requirements.txt")
    wanted = (oldest_requirements(dependencies) if end == "oldest"
              else newest_requirements(dependencies, pins))
    report = Report(end=end, date=date.today().isoformat(),
                    python=".".join(map(str, sys.version_info[:3])),
                    ranges={name: dependencies.get(name) for name in LIBRARIES})
    report.notes.append(
        f"torch stays at the CPU wheel ({TORCH.split('==')[1]}) in both runs: its lower bound "
        f"({lower_bound(dependencies.get('torch', '')) or 'none'}) is not exercised.")

    run.say(f"{end}: installing into {venv}")
    check = install(run, wanted, reuse)
    report.checks.append(check)
    if not check.ok:
        for name in ("unit tests", "Lab 1 (tiny)") + (("Lab 3 (tiny, short)",)
                                                       if end == "newest" else ()):
            report.checks.append(Check(name, None, "not run"))
        report.seconds = time.perf_counter() - started
        return report
    report.installed, _ = run.versions()
    if end == "newest":  # what the index offers, to see where the resolver held one back
        for name in HF_STACK:
            _, output = run.command([run.python, "-m", "pip", "index", "versions", name],
                                    "install.log")
            report.newest_releases[name] = parse_pip_index(output)
        for name in HF_STACK:
            release, have = report.newest_releases.get(name), report.installed.get(name)
            if release and have and version_key(have) < version_key(release):
                report.notes.append(held_back(run, wanted, name, release, have))

    deselect = pinned_only_deselections(report.installed, pins)
    for test, why in deselect.items():
        report.notes.append(f"Left out `{test}`: it {why}.")
    run.say(f"{end}: unit tests")
    report.checks.append(unit_tests(run, deselect, tests))
    if not skip_labs:
        run.say(f"{end}: Lab 1 on tiny")
        report.checks.append(lab1(run))
        if end == "newest":
            run.say(f"{end}: a short Lab 3 on tiny")
            report.checks.append(lab3_short(run))
            report.notes.append(
                "Lab 3 ran with its runs shortened (2 PPO steps, 2 GRPO steps, 8 test "
                "dialogues, Lab 2's adapter trained for 4 steps) and without the cell that "
                "checks the tiny world's claims, which need the full budget.")
    report.seconds = time.perf_counter() - started
    return report


def write_report(report: Report, out: Path) -> str:
    table = render_table(report)
    (out / "report.md").write_text(table)
    data = asdict(report)
    data["ok"] = report.ok
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("end", choices=("oldest", "newest"))
    parser.add_argument("--venv", type=Path, help="default: build/venv-<end>")
    parser.add_argument("--out", type=Path, help="default: build/versions/<end>")
    parser.add_argument("--reuse-venv", action="store_true",
                        help="install into the existing environment instead of a fresh one")
    parser.add_argument("--tests", nargs="+", default=["tests/"],
                        help="what pytest runs (default: tests/)")
    parser.add_argument("--skip-labs", action="store_true", help="the unit tests only")
    args = parser.parse_args(argv)
    venv = (args.venv or REPO_ROOT / "build" / f"venv-{args.end}").resolve()
    out = (args.out or REPO_ROOT / "build" / "versions" / args.end).resolve()
    report = run_end(args.end, venv, out, args.reuse_venv, args.tests, args.skip_labs)
    table = write_report(report, out)
    print()
    print(table)
    print(f"written to {out / 'report.md'} and report.json; logs beside them")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
