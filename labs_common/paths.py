"""Where the labs read their data and write what they produce.

Everything is relative to the repository root unless an environment variable says
otherwise, so the same code works from a clone, from Colab and from CI:

* ``LABS_DATA_DIR``: the shipped data (default ``<repo>/data``);
* ``LABS_BUILD_DIR``: what running the labs produces (default ``<repo>/build``);
* ``LABS_RESULTS``: the results file of a run (default: one file per profile,
  ``<build>/labs/results-<profile>.json``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The folder that holds the shipped data (``data/`` in the repository)."""
    return Path(os.environ.get("LABS_DATA_DIR", REPO_ROOT / "data"))


def tiny_dir() -> Path:
    """The tiny world: generated data and the small models trained on it."""
    return data_dir() / "tiny"


def tiny_model_dir(name: str) -> Path:
    """One of the tiny world's models, e.g. ``tiny_model_dir("flan-t5-tiny")``."""
    return tiny_dir() / "models" / name


def build_dir() -> Path:
    """Where executed notebooks, results and trained adapters are written."""
    return Path(os.environ.get("LABS_BUILD_DIR", REPO_ROOT / "build"))


def results_path(profile: str) -> Path:
    """The JSON file the labs record ``profile``'s headline figures into.

    One file per profile, ``<build>/labs/results-<profile>.json``, so that a run on one
    profile never touches another's figures. ``LABS_RESULTS`` names the file of a run
    instead, whatever its profile (:func:`labs_common.results.record_results` refuses to
    record into a file that holds another profile's figures).
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", profile or ""):
        raise ValueError(f"Not a profile name: {profile!r}.")
    default = build_dir() / "labs" / f"results-{profile}.json"
    return Path(os.environ.get("LABS_RESULTS") or default)


def lab2_adapter_dir(profile_name: str) -> Path:
    """Where Lab 2 saves its LoRA adapter and Labs 3 and 4 look for it."""
    return build_dir() / "adapters" / profile_name / "lab2-lora"


def lab3_adapter_dir(profile_name: str) -> Path:
    """Where Lab 3 saves its main PPO run's adapter and Lab 4 looks for it."""
    return build_dir() / "adapters" / profile_name / "lab3-ppo"
