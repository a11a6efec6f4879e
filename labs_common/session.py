"""The set-up every lab starts with, in one call: :func:`start`.

It checks the runtime against what the lab needs before anything downloads
(:mod:`labs_common.preflight`), prepares the profile (:func:`labs_common.hub.activate`,
with the parameters cell's overrides), picks the device and the CPU thread count, seeds
every random generator, and prints one block that says all of it::

    lab = session.start("lab2", profile_name, hub_dir, settings_overrides, seed)
    profile, settings, device = lab.profile, lab.settings, lab.device

Each section adds its headline figures where it computes them (:meth:`Session.record`), and
the lab's last section writes them all (:meth:`Session.save_results`), so no cell has to
gather the whole lab's numbers at the end.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field

import torch

from labs_common import preflight
from labs_common.device import model_dtype, select_device, set_cpu_threads, training_precision
from labs_common.hub import activate
from labs_common.paths import build_dir
from labs_common.profiles import Profile
from labs_common.results import deep_merge, format_results, library_versions, record_results

SETTINGS_GROUP = {"lab4": "lab3"}  # a lab whose settings live in another lab's group


@dataclass
class Session:
    """What a lab's set-up decided: the profile, this lab's settings, device and precision."""

    lab: str
    profile: Profile
    device: torch.device
    seed: int
    threads: int
    bf16: bool
    report: preflight.Report
    started: float = field(default_factory=time.perf_counter)
    results: dict = field(default_factory=dict)  # the headline figures, section by section

    @property
    def settings(self):
        """This lab's settings on the profile (``profile.lab2`` for Lab 2, ...). Lab 4 reads
        ``profile.lab3``: the two RL labs share one group of sizes (PPO, GRPO, DPO)."""
        return getattr(self.profile, SETTINGS_GROUP.get(self.lab, self.lab))

    def run_dir(self, name: str, retrain: bool = False):
        """The checkpoint folder of one of the lab's training runs, ``build/runs/<profile>/<name>``:
        a re-run resumes or loads from it (:mod:`labs_common.checkpoints`); ``retrain=True``
        empties it first, to train again from the start."""
        folder = build_dir() / "runs" / self.profile.name / name
        if retrain:
            shutil.rmtree(folder, ignore_errors=True)
        return folder

    def record(self, **figures) -> None:
        """Add a section's figures to :attr:`results`, merged key by key into what is there:
        ``lab.record(kl={"step0": 0.0})`` then ``lab.record(kl={"final": 1.2})`` keeps both."""
        self.results = deep_merge(self.results, figures)

    def save_results(self) -> str:
        """Write :attr:`results` to ``build/labs/results-<profile>.json`` under this lab (with
        the seed and library versions) and return them as text, one figure a line, with
        the lab's running time. Times are printed, never recorded: a re-run of the lab
        records the same file."""
        record_results(self.lab, self.results, profile=self.profile.name, seed=self.seed)
        return (f"{format_results(self.results)}\n\n"
                f"Lab {self.lab.removeprefix('lab')} ran in {self.seconds():.0f} s")

    def seconds(self) -> float:
        """Seconds since the set-up, for the lab's closing line."""
        return time.perf_counter() - self.started

    def settings_table(self):
        """This lab's settings as a one-column pandas table."""
        import pandas as pd

        return pd.Series(asdict(self.settings), dtype=object,
                         name=f"{self.lab} settings ({self.profile.name})").to_frame()

    def describe(self) -> str:
        weights = model_dtype(self.device, trainable=True)
        return (f"profile: {self.profile.name}   device: {self.device}   weights: {weights}   "
                f"bf16 autocast: {self.bf16}   CPU threads: {self.threads}   seed: {self.seed}\n"
                f"{library_versions()}")


def start(lab: str, profile_name: str | None = None, hub_dir: str | None = None,
          settings_overrides: dict | None = None, seed: int = 42, *,
          quiet: bool = False) -> Session:
    """Set up ``lab`` (``"lab1"`` to ``"lab4"``) on ``profile_name``; print what was chosen.

    Raises :class:`labs_common.preflight.PreflightError` (saying what to do) before anything
    downloads when the runtime cannot run the lab on this profile, and
    :class:`labs_common.profiles.ProfileError` when the profile's models or data cannot be
    reached.
    """
    from transformers import set_seed

    report = preflight.check(profile_name, lab, settings_overrides=settings_overrides)
    profile = activate(profile_name, hub_dir).with_settings(**(settings_overrides or {}))
    device = select_device()
    threads = set_cpu_threads(profile.name)
    set_seed(seed)
    session = Session(lab=lab, profile=profile, device=device, seed=seed, threads=threads,
                      bf16=training_precision(device)["bf16"], report=report)
    if not quiet:
        print(report)
        print(session.describe())
    return session
