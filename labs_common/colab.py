"""Setting up a Colab runtime for the labs: install, keep results in Drive, say when to restart.

The first cell of every notebook clones the course and calls :func:`setup`. It must run
before the course's requirements are installed, so this module uses the standard library
only.

* **Install with ranges.** The package is installed from ``pyproject.toml``, whose ranges
  Colab's preinstalled torch, numpy, pandas, scipy and matplotlib already satisfy, so pip
  leaves them alone. (``requirements.txt`` holds exact pins for CI; installed over Colab's
  own libraries in a running kernel, they would leave old modules loaded.)
* **Restart only when needed.** If pip had to change a library that the kernel has already
  imported, the old version stays loaded until the runtime restarts: :func:`setup` compares
  versions before and after, and says so.
* **Drive, when asked.** Each notebook opened in Colab runs on a fresh machine, so what
  Lab 2 writes under ``/content`` is gone when Lab 3 opens. With ``use_google_drive=True``
  the labs keep what they produce (adapters, results, executed runs) in Google Drive.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

DRIVE_MOUNT = "/content/drive"
DRIVE_BUILD_DIR = f"{DRIVE_MOUNT}/MyDrive/llm-labs/build"

# Distributions whose modules a fresh Colab kernel may already have imported.
WATCHED = ("numpy", "pandas", "scipy", "matplotlib", "torch", "transformers", "datasets",
           "tokenizers", "huggingface_hub", "safetensors", "accelerate", "peft", "tqdm")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def imported_versions(names: Iterable[str] = WATCHED) -> dict[str, str]:
    """Installed versions of the watched distributions whose modules are imported now."""
    versions = {}
    for name in names:
        if name in sys.modules:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return versions


def changed_since(before: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{name: (old, new)}`` for the distributions in ``before`` whose version changed."""
    changed = {}
    for name, old in before.items():
        try:
            new = metadata.version(name)
        except metadata.PackageNotFoundError:
            new = "removed"
        if new != old:
            changed[name] = (old, new)
    return changed


def install_command(repo: Path, gpu: bool = False) -> list[str]:
    """pip, installing the course package with the ranges of its ``pyproject.toml``.

    On a GPU runtime (``gpu``) with the ``qlora`` extra too: bitsandbytes, for Lab 2's
    4-bit QLoRA section, which needs CUDA and is skipped elsewhere.
    """
    target = f"{repo}[qlora]" if gpu else str(repo)
    return [sys.executable, "-m", "pip", "install", "-q", "-e", target]


def has_gpu() -> bool:
    """Whether this runtime has an NVIDIA GPU (asked before torch may be imported)."""
    return shutil.which("nvidia-smi") is not None


def use_drive(mount: Callable[[str], object] | None = None) -> Path:
    """Mount Google Drive and make it the labs' build folder (``LABS_BUILD_DIR``)."""
    if mount is None:
        from google.colab import drive  # only on Colab

        mount = drive.mount
    mount(DRIVE_MOUNT)
    folder = Path(DRIVE_BUILD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["LABS_BUILD_DIR"] = str(folder)
    return folder


def setup(
    repo: Path,
    *,
    use_google_drive: bool = False,
    run: Callable[..., object] = subprocess.run,
    mount: Callable[[str], object] | None = None,
) -> list[str]:
    """Install the course into this runtime; return (and print) what the student must know."""
    messages = []
    if use_google_drive:
        folder = use_drive(mount)
        messages.append(f"The labs keep what they produce in Google Drive: {folder}")
    else:
        messages.append(
            "The labs write under /content, which is lost when this runtime ends; set "
            "use_google_drive = True to keep Lab 2's adapter for Lab 3."
        )
    before = imported_versions()
    run(install_command(repo, gpu=has_gpu()), check=True)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    changed = changed_since(before)
    if changed:
        listed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in changed.items())
        messages.append(
            f"Installing changed libraries this runtime had already imported ({listed}). "
            "Restart the runtime (Runtime > Restart session) and run the notebook again "
            "from the top; the install is kept."
        )
    for message in messages:
        print(message)
    return messages
