"""Checkpoints that survive a disconnect: whole or refused, the newest good one resumed.

A free Colab session can disconnect in the middle of training. The labs' long runs (Lab
2's full fine-tuning and LoRA, Lab 3's main PPO run) therefore write a checkpoint every
few steps into a folder of its own under the build folder (in Google Drive with
``use_google_drive``), and when its cell runs again it continues from the newest good
checkpoint instead of starting over; a run that finished is loaded, not retrained.

A checkpoint is a folder ``checkpoint-<step>`` holding whatever the trainer writes, plus
:data:`MARKER`, written last: the size of every file (and the SHA-256 of the small ones).
A folder without the marker was cut off while it was written; one whose files do not
match it was damaged later. Either is refused, with the reason, and the previous
checkpoint is used. :func:`write` builds a checkpoint in a hidden folder and renames it
into place, so a reader never sees half of one; :func:`seal` adds the marker to a folder
another library wrote (the Trainer's own checkpoints).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

MARKER = "checkpoint.json"
HASHED_BELOW = 64 * 2**20  # files smaller than this are hashed; larger ones checked by size
_NAME = re.compile(r"^checkpoint-(\d+)$")


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            sha.update(block)
    return sha.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def seal(folder: Path, step: int, **extra) -> None:
    """Write :data:`MARKER` into a finished checkpoint ``folder``: what a good one holds."""
    folder = Path(folder)
    files = {}
    for path in _files(folder):
        size = path.stat().st_size
        files[str(path.relative_to(folder))] = {
            "bytes": size, "sha256": _digest(path) if size < HASHED_BELOW else None}
    (folder / MARKER).write_text(json.dumps({"step": step, "files": files, **extra}, indent=1))


def problem(folder: Path) -> str | None:
    """Why ``folder`` is not a good checkpoint, or None when it is."""
    folder = Path(folder)
    marker = folder / MARKER
    if not marker.is_file():
        return "it has no record of being finished (cut off while it was written?)"
    try:
        record = json.loads(marker.read_text())
        expected = record["files"]
    except (ValueError, KeyError, TypeError):
        return f"its {MARKER} is damaged"
    for name, entry in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != entry["bytes"]:
            return f"{name} has {path.stat().st_size} bytes instead of {entry['bytes']}"
        if entry.get("sha256") and _digest(path) != entry["sha256"]:
            return f"{name} is not the file that was written (its SHA-256 differs)"
    return None


def step_of(folder: Path) -> int:
    match = _NAME.match(Path(folder).name)
    if not match:
        raise ValueError(f"{folder} is not named checkpoint-<step>.")
    return int(match.group(1))


def candidates(root: Path) -> list[Path]:
    """Every ``checkpoint-<step>`` folder under ``root``, the newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)]
    return sorted(found, key=step_of, reverse=True)


def latest(root: Path, log: Callable[[str], None] = print) -> Path | None:
    """The newest good checkpoint under ``root`` (None if there is none); each newer one that
    is not good is reported with its reason, and skipped."""
    for folder in candidates(root):
        reason = problem(folder)
        if reason is None:
            return folder
        log(f"{folder.name} in {root} is refused: {reason}. Using the previous checkpoint.")
    return None


RUN_FILE = "run.json"  # what a run was started with: a resumed run must match it


def resume_from(folder: Path, fingerprint, steps: int, what: str,
                log: Callable[[str], None] = print) -> Path | None:
    """The checkpoint a run resumes from, or None to start; says which in a line of ``log``.

    ``fingerprint`` (anything JSON can hold: settings, prompts, a signature of the starting
    weights) is kept in :data:`RUN_FILE`; a folder written with another one is emptied,
    since its checkpoints belong to another run. A checkpoint at ``steps`` is a finished
    run: it is loaded, not retrained.
    """
    folder = Path(folder)
    run_file = folder / RUN_FILE
    fingerprint = json.loads(json.dumps(fingerprint, default=str))  # as it reads back
    if run_file.is_file() and json.loads(run_file.read_text()) != fingerprint:
        log(f"{what}: {folder} holds a run with other settings, so this one starts over (its "
            "checkpoints are removed).")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(fingerprint, indent=1))
    found = latest(folder, log)
    if found is None:
        return None
    step = step_of(found)
    if step >= steps:
        log(f"{what} finished earlier ({steps} steps): loaded from {found}, not retrained. "
            "Delete that folder to train again.")
    else:
        log(f"{what}: resuming from step {step} of {steps} ({found}).")
    return found


def write(root: Path, step: int, writer: Callable[[Path], None], *, keep: int = 2,
          **extra) -> Path:
    """Make ``root/checkpoint-<step>``: ``writer(folder)`` fills a hidden folder, which is
    sealed and renamed into place; then only the ``keep`` newest checkpoints are kept."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".checkpoint-{step}.partial"
    final = root / f"checkpoint-{step}"
    shutil.rmtree(partial, ignore_errors=True)
    writer(partial)
    seal(partial, step, **extra)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in candidates(root)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def weights_signature(parameters) -> list[float]:
    """A cheap fingerprint of the weights a run starts from (their sum and sum of squares,
    rounded): a checkpoint made from another starting model must not be resumed."""
    import torch

    total, squares = 0.0, 0.0
    with torch.no_grad():
        for tensor in parameters:
            values = tensor.detach().double()
            total += float(values.sum())
            squares += float((values * values).sum())
    return [float(f"{total:.6g}"), float(f"{squares:.6g}")]


def record(folder: Path) -> dict:
    """What :func:`seal` wrote besides the files (``step`` and its ``extra`` keywords)."""
    data = json.loads((Path(folder) / MARKER).read_text())
    data.pop("files", None)
    return data
