"""Where the labs read their data and write what they produce.

Everything is relative to the repository root unless an environment variable says
otherwise, so the same code works from a clone, from Colab and from CI:

* ``LABS_DATA_DIR``: the shipped data (default ``<repo>/data``);
* ``LABS_BUILD_DIR``: what running the labs produces (default ``<repo>/build``);
* ``LABS_RESULTS``: the results file (default ``<build>/labs/results.json``).
"""

from __future__ import annotations

import os
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


def results_path() -> Path:
    """The JSON file every lab records its headline figures into."""
    return Path(os.environ.get("LABS_RESULTS", build_dir() / "labs" / "results.json"))


def lab2_adapter_dir(profile_name: str) -> Path:
    """Where Lab 2 saves its LoRA adapter and Lab 3 looks for it."""
    return build_dir() / "adapters" / profile_name / "lab2-lora"
