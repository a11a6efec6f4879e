"""Recording each lab's headline figures, one file per profile.

Each profile's labs record into their own file, ``build/labs/results-<profile>.json``
(:func:`labs_common.paths.results_path`; ``LABS_RESULTS`` names another for a run). A file
holds one object: ``profile``, one key per lab (``lab1``, ``lab2``, ``lab3``) with nested
figures such as ``lab1.rouge1.zero_shot``, ``seconds`` (wall-clock times, which differ from
run to run) and ``meta`` (seed and library versions per lab). Everything except ``seconds``
is meant to be identical when a lab is run twice.

Why a file per profile rather than one file keyed by profile: a file's layout stays what
the claims (:mod:`labs_common.claims`), the runner's summary and older results files
already read, one lab per top-level key; a run only ever reads and rewrites its own
profile's file, so a tiny run in CI and a full run started elsewhere at the same time
cannot overwrite each other's figures between read and write; and a profile's results
are deleted or copied as one file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from labs_common.paths import results_path

LIBRARIES = (
    "torch",
    "transformers",
    "datasets",
    "peft",
    "trl",
    "rouge_score",
    "accelerate",
    "numpy",
)


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries the labs depend on."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def gpu_peak_bytes() -> int | None:
    """The most GPU memory this process has allocated so far; None without a GPU.

    Recorded under ``meta`` (like ``seconds``, it is not a lesson's figure), so that a run
    of the labs shows what each needs of a GPU.
    """
    import torch

    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


def _plain(value):
    """Numbers as JSON floats/ints, tuples as lists; NaN and infinities are refused."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy and torch scalars
        value = value.item()
    if isinstance(value, int):
        return value
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Refusing to record a non-finite figure ({number}).")
    return number


def deep_merge(base: dict, update: Mapping) -> dict:
    """``base`` updated with ``update``, merging nested mappings key by key."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ResultsError(ValueError):
    """Recording would replace another profile's results; the message says what to do."""


def load_results(path: Path | None = None, *, profile: str | None = None) -> dict:
    """The results recorded in ``path``, else in ``profile``'s file; {} if none yet."""
    if path is None:
        if profile is None:
            raise TypeError("load_results needs a path or a profile (its results file).")
        path = results_path(profile)
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def check_results_file(profile: str, path: Path | None = None) -> Path:
    """The file ``profile``'s figures go to; raises if it holds another profile's figures.

    Only a file named on purpose (``LABS_RESULTS``, or ``path``) can: each profile has a
    file of its own otherwise.
    """
    path = Path(path) if path is not None else results_path(profile)
    recorded = load_results(path).get("profile")
    if recorded not in (None, profile):
        raise ResultsError(
            f"{path} holds the {recorded!r} profile's results; recording the {profile!r} "
            "profile's there would replace them. Unset LABS_RESULTS (each profile then "
            "records into its own file, build/labs/results-<profile>.json) or point it to "
            "another file."
        )
    return path


def record_results(
    lab: str,
    figures: Mapping,
    *,
    profile: str,
    seed: int | None = None,
    seconds: float | None = None,
    path: Path | None = None,
) -> dict:
    """Merge ``figures`` under ``lab`` into ``profile``'s results file; return the lab's entry.

    The file is ``path``, else :func:`labs_common.paths.results_path` of ``profile``. A file
    that holds another profile's figures is never replaced: :class:`ResultsError`.
    """
    path = check_results_file(profile, path)
    results = load_results(path)
    results["profile"] = profile
    results[lab] = deep_merge(results.get(lab, {}), _plain(figures))
    meta = {"versions": library_versions()}
    if seed is not None:
        meta["seed"] = seed
    peak = gpu_peak_bytes()
    if peak is not None:
        meta["gpu_peak_bytes"] = peak
    metas = results.setdefault("meta", {})
    metas[lab] = deep_merge(metas.get(lab, {}), meta)
    if seconds is not None:
        results.setdefault("seconds", {})[lab] = round(float(seconds), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)
    return results[lab]


def flatten(figures: Mapping, prefix: str = "") -> dict[str, object]:
    """``{"rouge1": {"full": 0.4}}`` → ``{"rouge1.full": 0.4}``, for printing tables."""
    flat: dict[str, object] = {}
    for key, value in figures.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def format_results(figures: Mapping, digits: int = 4) -> str:
    """One ``name  value`` line per figure, floats rounded for reading."""
    flat = flatten(figures)
    width = max((len(name) for name in flat), default=0)
    lines = []
    for name, value in flat.items():
        if isinstance(value, float):
            value = round(value, digits)
        elif isinstance(value, list):
            value = [round(v, digits) if isinstance(v, float) else v for v in value]
        lines.append(f"{name:<{width}}  {value}")
    return "\n".join(lines)
