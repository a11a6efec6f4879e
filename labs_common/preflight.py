"""Preflight: what this runtime is, what a lab needs of it, and a clear stop when it cannot work.

One call at the top of a lab, before anything downloads (:func:`check`):

* **this runtime** (:func:`labs_common.runtime.gather_runtime`): Colab or not, the GPU's
  name and memory, whether it has real bf16 arithmetic, RAM and free disk;
* **what the lab needs** on the chosen profile (:data:`labs_common.lab_needs.NEEDS`): peak
  GPU memory, minutes, RAM and disk, each figure marked as measured or as an estimate, with
  where it comes from;
* **a stop** (:class:`PreflightError`) when the full profile starts in Colab without a GPU
  (it says how to switch the runtime) or on a GPU with too little memory (it names the
  settings to lower); a **warning** on low RAM or disk, and when the full profile runs on a
  CPU outside Colab, which works, very slowly.

The tiny profile on a CPU says so in one line and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labs_common.lab_needs import (
    GPU_HEADROOM_GIB,
    LABS,
    MEMORY_SETTINGS,
    NEEDS,
    REFERENCE_HARDWARE,
    Figure,
    Needs,
)
from labs_common.profiles import get_profile
from labs_common.results import ResultsError, check_results_file
from labs_common.runtime import GIB, Runtime, gather_runtime


class PreflightError(RuntimeError):
    """This lab cannot run here on this profile; the message says exactly what to do."""


@dataclass(frozen=True)
class Report:
    """What :func:`check` found: print it (one line for tiny on a CPU, a table otherwise)."""

    profile: str
    lab: str
    runtime: Runtime
    needs: Needs
    results_file: Path
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        runtime, needs = self.runtime, self.needs
        if self.profile == "tiny" and not runtime.has_gpu:
            line = (f"preflight: {self.lab} on the tiny profile runs on this CPU, no GPU "
                    f"needed: about {needs.minutes.value:.3g} min ({needs.minutes.kind}), "
                    f"{_gib(runtime.ram_bytes)} RAM, {_gib(runtime.free_disk_bytes)} free disk.")
            return [line] + [f"  warning: {w}" for w in self.warnings]
        sources: list[str] = []

        def need(figure: Figure, text: str) -> str:
            sources.append(f"  [{len(sources) + 1}] {figure.kind}: {figure.source}")
            return f"{text} ({figure.kind}) [{len(sources)}]"

        gpu = (f"{runtime.gpu_name}, {_gib(runtime.gpu_memory_bytes)}"
               + (f", capability {'.'.join(map(str, runtime.compute_capability))}"
                  if runtime.compute_capability else "")
               if runtime.has_gpu else "none")
        hardware = REFERENCE_HARDWARE[self.profile]
        rows = [
            ("", "this runtime", f"{self.lab} needs ({self.profile} profile)"),
            ("machine", "Colab" if runtime.in_colab else "not Colab", ""),
            ("GPU", gpu, need(needs.gpu_memory_gib,
                              f"{needs.gpu_memory_gib.value:.3g} GiB at its peak")),
            ("bf16", _bf16(runtime), ""),
            ("time", "", need(needs.minutes, f"about {needs.minutes.value:.3g} min on {hardware}")),
            ("RAM", _gib(runtime.ram_bytes), need(needs.ram_gib,
                                                  f"about {needs.ram_gib.value:.3g} GiB")),
            ("free disk", _disk(runtime), need(needs.disk_gib,
                                               f"about {needs.disk_gib.value:.3g} GiB")),
            ("results", str(self.results_file), ""),
        ]
        width = max(len(r[1]) for r in rows[:-1])
        lines = [f"preflight: {self.lab} on the {self.profile} profile"]
        lines += [f"  {a:<10} {b:<{width}}  {c}".rstrip() for a, b, c in rows]
        lines += sources
        lines += [f"  warning: {w}" for w in self.warnings]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the fields
        printer.text(str(self))


def _gib(count: float | None) -> str:  # bytes, read as GiB
    return "unknown" if count is None else f"{count / GIB:.1f} GiB"


def _disk(runtime: Runtime) -> str:
    text = _gib(runtime.free_disk_bytes)
    cache = runtime.hub_cache_free_bytes
    if cache is not None and cache != runtime.free_disk_bytes:
        text += f" (Hub cache: {_gib(cache)})"
    return text


def _bf16(runtime: Runtime) -> str:
    if not runtime.has_gpu:
        return "no GPU: fp32"
    if runtime.as_t4:
        return "off, run as a T4 (LABS_AS_T4): fp32"
    if runtime.real_bf16:
        return "real: trains with bf16 autocast"
    return "emulated only (capability < 8): fp32"


def _lab_title(lab: str) -> str:
    return f"Lab {lab.removeprefix('lab')}"


def _lowered(profile, lab: str, overrides: dict | None) -> list[str]:
    """The memory settings of ``lab`` that ``overrides`` sets below the profile's value."""
    lowered = []
    for section, name, _ in MEMORY_SETTINGS[lab]:
        value = ((overrides or {}).get(section) or {}).get(name)
        if isinstance(value, int | float) and value < getattr(getattr(profile, section), name):
            lowered.append(f"{section}.{name} = {value}")
    return lowered


def _suggested_overrides(profile, lab: str) -> dict[str, dict[str, int]]:
    """Every memory setting of ``lab`` halved: a ``settings_overrides`` to paste."""
    suggestion: dict[str, dict[str, int]] = {}
    for section, name, _ in MEMORY_SETTINGS[lab]:
        current = getattr(getattr(profile, section), name)
        suggestion.setdefault(section, {})[name] = max(1, current // 2)
    return suggestion


def _no_gpu_in_colab(lab: str) -> str:
    return (
        f"{_lab_title(lab)} on the full profile needs a GPU, and this Colab runtime has none. "
        "Switch it: Runtime → Change runtime type → Hardware accelerator: T4 GPU → Save. Colab "
        "then starts a new runtime: run the notebook again from the top (the first cell "
        "installs the course again). Or set profile_name = \"tiny\" in the parameters cell to "
        "run the lab's offline miniature on this CPU."
    )


def _gpu_too_small(profile, lab: str, needs: Needs, runtime: Runtime) -> str:
    figure = needs.gpu_memory_gib
    settings = "\n".join(
        f"    {section}.{name} ({what}): {getattr(getattr(profile, section), name)}"
        for section, name, what in MEMORY_SETTINGS[lab]
    )
    return (
        f"{_lab_title(lab)} on the full profile needs about {figure.value:.3g} GiB of GPU memory "
        f"at its peak ({figure.kind}: {figure.source}) and about {GPU_HEADROOM_GIB:.3g} GiB for "
        f"CUDA itself; this GPU ({runtime.gpu_name}) has {_gib(runtime.gpu_memory_bytes)}."
        + (" (The figure is for fp32, as on a T4; with this GPU's bf16 the lab needs less, "
           "by an amount not measured.)" if runtime.real_bf16 else "") + "\n"
        "Lower the settings that size its batches, with the settings_overrides parameter in "
        "the parameters cell, for example to half:\n\n"
        f"    settings_overrides = {_suggested_overrides(profile, lab)!r}\n\n"
        f"The settings and their values on the full profile:\n{settings}\n"
        "Smaller batches keep fewer activations, most of the peak (a smaller training batch "
        "also means fewer examples per step); if CUDA still runs out of memory, halve them "
        f"again. Or run on a GPU with at least {figure.value + GPU_HEADROOM_GIB:.3g} GiB (a Colab "
        "T4 has 15 GiB), or set profile_name = \"tiny\"."
    )


def check(
    profile_name: str | None,
    lab: str,
    runtime: Runtime | None = None,
    *,
    settings_overrides: dict | None = None,
) -> Report:
    """Check that ``lab`` can run here on ``profile_name``; return a :class:`Report`.

    A notebook calls it in its set-up, after the parameters cell and before
    :func:`labs_common.hub.activate` (so before anything downloads), and prints it::

        from labs_common import preflight

        print(preflight.check(profile_name, "lab2", settings_overrides=settings_overrides))

    ``profile_name`` is resolved as :func:`labs_common.profiles.get_profile` does (None:
    ``$LABS_PROFILE``, else tiny); ``lab`` is one of ``lab1`` to ``lab4``; ``runtime``
    defaults to :func:`labs_common.runtime.gather_runtime` (tests pass their own).

    Raises :class:`PreflightError`, whose message says what to do, when

    * the full profile starts in Colab without a GPU (how to switch the runtime);
    * the full profile starts on a GPU with less memory than the lab's peak and CUDA's
      own share, unless ``settings_overrides`` already lowers one of the settings that size
      the lab's batches (:data:`labs_common.lab_needs.MEMORY_SETTINGS`): then it warns and
      goes on;
    * the results file named by ``LABS_RESULTS`` holds another profile's figures, which
      the lab's last cell would refuse to replace.

    It warns (in the report) when RAM or free disk fall short of the lab's estimates, when
    another process holds part of the GPU, and when the full profile runs on a CPU outside
    Colab (it works, very slowly; an instructor may want it).
    """
    profile = get_profile(profile_name)
    if lab not in LABS:
        raise ValueError(f"No lab named {lab!r}: use one of {', '.join(LABS)}.")
    if profile.name not in NEEDS:
        raise ValueError(f"No preflight figures for the {profile.name!r} profile.")
    needs = NEEDS[profile.name][lab]
    runtime = runtime or gather_runtime()
    try:
        results_file = check_results_file(profile.name)
    except ResultsError as error:
        raise PreflightError(str(error)) from None
    warnings: list[str] = []
    gpu_need = (needs.gpu_memory_gib.value + GPU_HEADROOM_GIB) * GIB
    if profile.name == "full" and not runtime.has_gpu:
        if runtime.in_colab:
            raise PreflightError(_no_gpu_in_colab(lab))
        warnings.append(
            f"no GPU: the full profile runs on this CPU, very slowly (hours where "
            f"{REFERENCE_HARDWARE['full']} takes about {needs.minutes.value:.3g} min). Going on; "
            "a GPU, or Colab with a T4 runtime, takes minutes."
        )
    elif profile.name == "full" and (runtime.gpu_memory_bytes or 0) < gpu_need:
        lowered = _lowered(profile, lab, settings_overrides)
        if not lowered:
            raise PreflightError(_gpu_too_small(profile, lab, needs, runtime))
        warnings.append(
            f"this GPU has {_gib(runtime.gpu_memory_bytes)}, less than the profile's settings "
            f"need ({needs.gpu_memory_gib.value:.3g} GiB and ~{GPU_HEADROOM_GIB:.3g} for CUDA); "
            f"going on with {', '.join(lowered)}. If CUDA runs out of memory, lower them more."
        )
    elif (runtime.has_gpu and runtime.gpu_free_bytes is not None
          and runtime.gpu_free_bytes < min(gpu_need, runtime.gpu_memory_bytes or gpu_need)):
        warnings.append(
            f"only {_gib(runtime.gpu_free_bytes)} of this GPU's {_gib(runtime.gpu_memory_bytes)} "
            "are free: another process holds the rest (another lab's kernel?). Shut it down "
            "if this lab runs out of memory."
        )
    ram_need = needs.ram_gib.value + (0 if runtime.has_gpu else needs.gpu_memory_gib.value)
    if runtime.ram_bytes is not None and runtime.ram_bytes < ram_need * GIB:
        warnings.append(
            f"{_gib(runtime.ram_bytes)} of RAM, and this lab needs about {ram_need:.3g} GiB "
            f"({needs.ram_gib.kind}{'' if runtime.has_gpu else ', its GPU share included'}): "
            "it may be stopped for lack of memory. Close other programs or notebooks."
        )
    for where, free in (("the build folder's disk", runtime.free_disk_bytes),
                        ("the Hub cache's disk", runtime.hub_cache_free_bytes)):
        if free is not None and free < needs.disk_gib.value * GIB:
            warnings.append(
                f"{_gib(free)} free on {where}, and this lab needs about "
                f"{needs.disk_gib.value:.3g} GiB ({needs.disk_gib.kind}): free some space."
            )
            break
    return Report(profile.name, lab, runtime, needs, results_file, tuple(warnings))
