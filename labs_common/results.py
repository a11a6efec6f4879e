"""Recording each lab's headline figures into one ``results.json``.

The file holds one object: ``profile``, one key per lab (``lab1``, ``lab2``, ``lab3``)
with nested figures such as ``lab1.rouge1.zero_shot``, ``seconds`` (wall-clock times,
which differ from run to run) and ``meta`` (seed and library versions per lab).
Everything except ``seconds`` is meant to be identical when a lab is run twice.
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


def load_results(path: Path | None = None) -> dict:
    """The recorded results, or an empty dict if nothing was recorded yet."""
    path = Path(path or results_path())
    return json.loads(path.read_text()) if path.is_file() else {}


def record_results(
    lab: str,
    figures: Mapping,
    *,
    profile: str,
    seed: int | None = None,
    seconds: float | None = None,
    path: Path | None = None,
) -> dict:
    """Merge ``figures`` under ``lab`` into results.json and return the lab's entry.

    Recording for a different profile than the file holds starts a new file, so
    tiny and full figures are never mixed.
    """
    path = Path(path or results_path())
    results = load_results(path)
    if results.get("profile") not in (None, profile):
        results = {}
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
