"""Where the labs' models and data load from, and :func:`activate`, which prepares a process.

The full profile names Hugging Face Hub repositories; the tiny profile names folders on
disk (:mod:`labs_common.profiles`). This module decides, for the process it runs in, how a
name becomes something to load (:func:`resolve`, a :class:`Source`):

* a Hub id loads from the Hub at the commit pinned in :data:`HUB_REVISIONS`;
* with a local folder of the Hub's repositories (``LABS_HUB_DIR``, or the notebooks'
  ``hub_dir`` parameter), a Hub id loads from ``<folder>/<id>/`` instead, nothing waits
  on a network, and a missing repository stops at once with the command that downloads
  it (:func:`download_command`);
* a folder on disk loads as it is.

:func:`activate` is what a notebook's first cell calls: it switches the Hugging Face
libraries offline or online for the profile (:func:`set_offline`, :func:`hub_reachable`),
quiets their progress bars and their deprecation warnings about each other, and stops at
once with what to do when the profile cannot run here.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from labs_common.device import as_t4, emulate_t4
from labs_common.profiles import Profile, ProfileError, get_profile

HUB_DIR_VARIABLE = "LABS_HUB_DIR"

# Every Hub repository the full profile names, pinned to one commit, so that a re-upload
# (the tweets were re-uploaded with another schema) cannot change what the labs load.
# Loading at a commit also keeps transformers from asking the Hub's conversion service to
# turn pickled weights into safetensors, which would open a pull request on the owner's
# repository: it only does that on ``main``.
HUB_REVISIONS: dict[str, str] = {
    "google/flan-t5-base": "7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
    "facebook/roberta-hate-speech-dynabench-r4-target": "391c99ab8b3f65beb77746a2cf6ddf1ddf9817e6",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "12fd25f77366fa6b3b4b768ec3050bf629380bac",
    "textdetox/xlmr-large-toxicity-classifier": "b9c7c563427c591fc318d91eb592381ae2fbde66",
    # the revision with ``id, text, label, label_text`` that MTEB's task files evaluate on
    "mteb/tweet_sentiment_extraction": "d604517c81ca91fe16a244d1248fc021f9ecee7a",
}
# Repositories that load from ``main`` until a commit of theirs can be checked, and why.
UNPINNED: dict[str, str] = {
    "knkarthick/dialogsum": "no commit of it could be verified; its CSVs have not changed "
                            "since 2022, and the loader checks their columns",
}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers within ``timeout`` seconds."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def set_offline(offline: bool = True) -> None:
    """Tell the Hugging Face libraries not to wait on a network (they retry for ~47 s).

    The libraries read the variables once, at import: huggingface_hub into its
    ``constants`` and datasets into its ``config``. Both copies are updated too, so that a
    kernel can switch from ``tiny`` (offline) to ``full`` (online) and back.
    """
    value = "1" if offline else "0"
    for variable in _OFFLINE_VARIABLES:
        os.environ[variable] = value
    try:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = offline
    except (ImportError, AttributeError):
        pass
    try:
        from datasets import config as datasets_config

        datasets_config.HF_HUB_OFFLINE = offline
        datasets_config.HF_DATASETS_OFFLINE = offline
    except (ImportError, AttributeError):
        pass
    _state["offline_set_by_labs"] = offline


def _offline_requested_by_user() -> bool:
    """Whether HF_HUB_OFFLINE is on and it was not :func:`set_offline` that turned it on."""
    on = any(os.environ.get(v, "0") not in ("", "0") for v in _OFFLINE_VARIABLES)
    return on and not _state["offline_set_by_labs"]


def quiet_progress_bars() -> None:
    """Hide download/loading bars: in a notebook they become widget outputs."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


# Deprecations raised inside the libraries' own calls, with nothing for a student to change.
_LIBRARY_DEPRECATIONS = (
    # peft 0.21 and trl 1.16 still call the name transformers 5.2x deprecated
    r"`is_gradient_checkpointing` is deprecated",
    r"`gradient_checkpointing_(enable|disable)` is deprecated",
)


def silence_library_deprecations() -> None:
    """Hide the FutureWarnings that libraries raise about each other's renamed methods."""
    for message in _LIBRARY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)


# What :func:`activate` decided for this process: where Hub ids resolve, and whether the
# offline variables are the labs' doing (so a later profile may turn them off again).
_state: dict = {"hub_dir": None, "offline_set_by_labs": False}


@dataclass(frozen=True)
class Source:
    """Where one model or dataset loads from: ``from_pretrained(path, revision=revision)``."""

    name: str  # the name the profile uses: a Hub id or a local folder
    path: str  # what the loader is given
    revision: str | None  # a pinned commit on the Hub; None for a folder on disk

    @property
    def on_disk(self) -> bool:
        return self.revision is None and os.path.isdir(self.path)


def display_name(name: str) -> str:
    """How outputs name a model: a Hub id as it is, a local folder by its last part."""
    return Path(name).name if Path(name).is_absolute() else name


def download_command(repo_id: str, kind: str, folder: str | Path) -> str:
    """The command that puts ``repo_id`` where ``LABS_HUB_DIR=folder`` looks for it."""
    revision = HUB_REVISIONS.get(repo_id)
    parts = ["hf download", repo_id]
    if kind == "dataset":
        parts.append("--repo-type dataset")
    if revision:
        parts.append(f"--revision {revision}")
    parts.append(f"--local-dir {Path(folder) / repo_id}")
    return " ".join(parts)


def resolve(name: str) -> Source:
    """Where ``name`` (a Hub id or a folder) loads from in this process.

    With a Hub folder active (``LABS_HUB_DIR``), a Hub id is the folder's ``<id>``
    subfolder, and a missing one stops at once with the command that downloads it. Without
    one, a Hub id loads from the Hub at its pinned commit (:data:`HUB_REVISIONS`) and a
    folder on disk loads as it is.
    """
    hub_dir = _state["hub_dir"]
    if hub_dir is not None and not Path(name).is_absolute():
        path = Path(hub_dir) / name
        if not path.is_dir():
            raise ProfileError(_missing_repository_message(name, hub_dir))
        return Source(name=name, path=str(path), revision=None)
    if os.path.isdir(name):
        return Source(name=name, path=name, revision=None)
    return Source(name=name, path=name, revision=HUB_REVISIONS.get(name))


def _missing_repository_message(name: str, hub_dir: str | Path, kind: str = "model") -> str:
    return (
        f"{name} is not in the Hub folder {hub_dir} ({HUB_DIR_VARIABLE}). Download it once, "
        f"where the internet is reachable, with:\n  {download_command(name, kind, hub_dir)}"
    )


def activate(profile: Profile | str | None = None, hub_dir: str | Path | None = None) -> Profile:
    """Prepare this process for ``profile`` and return it.

    ``tiny``: offline mode on, and a clear error if the tiny world is missing.
    ``full`` with a Hub folder (``hub_dir``, else ``$LABS_HUB_DIR``): offline mode on, every
    Hub id resolves in that folder, and a repository missing there stops at once.
    ``full`` without one: online, and a clear error at once if the Hub cannot be reached,
    instead of minutes of retries further down.

    Either way transformers may never ask the Hub to convert pickled weights (that would
    open a pull request on someone else's repository), and no usage telemetry is sent.
    """
    if not isinstance(profile, Profile):
        profile = get_profile(profile)
    quiet_progress_bars()
    silence_library_deprecations()
    if as_t4():
        emulate_t4()
    os.environ["DISABLE_SAFETENSORS_CONVERSION"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    hub_dir = hub_dir or os.environ.get(HUB_DIR_VARIABLE) or None
    _state["hub_dir"] = None
    if profile.local:
        set_offline(True)
        missing = [
            path
            for path in (profile.summarizer, profile.dialogue_dataset, profile.toxicity_classifier)
            if not os.path.isdir(path)
        ]
        if missing:
            raise ProfileError(
                f"The tiny world is missing ({missing[0]}). Rebuild it with "
                "`make tiny-world` (or `python -m labs_tools.tinyworld.build`)."
            )
    elif hub_dir is not None:
        folder = Path(hub_dir).expanduser().resolve()
        for repo_id, kind in profile.hub_repositories().items():
            if not (folder / repo_id).is_dir():
                raise ProfileError(_missing_repository_message(repo_id, folder, kind))
        set_offline(True)
        _state["hub_dir"] = str(folder)
    else:
        if _offline_requested_by_user():
            raise ProfileError(
                "The 'full' profile downloads models and data from the Hugging Face Hub, but "
                "HF_HUB_OFFLINE is set. Unset it, or download the repositories once and set "
                f"{HUB_DIR_VARIABLE} (README: 'Without internet'), or run with LABS_PROFILE=tiny."
            )
        set_offline(False)
        if not hub_reachable():
            raise ProfileError(
                "The 'full' profile downloads models and data from the Hugging Face Hub, which "
                "cannot be reached from here. Connect to the internet, or download the "
                f"repositories once and set {HUB_DIR_VARIABLE} (README: 'Without internet'), "
                "or run with LABS_PROFILE=tiny (profile_name = 'tiny')."
            )
    return profile
