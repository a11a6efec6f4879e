"""What every benchmark shares: scales, synthetic data, models, timing, memory and tables.

No Hub access is needed: models are built from configs with random weights (the real
architectures at ``full`` scale, small ones at ``tiny``) and tokenizers are word-level
vocabularies built in memory, so that a text of n synthetic words is exactly n tokens
plus the end-of-sequence token. Random weights cost the same time and memory as trained
ones; only the generated text is meaningless, which is why generation lengths are forced.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import json
import os
import platform
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import torch

from labs_common.hub import quiet_progress_bars, set_offline
from labs_common.profiles import get_profile

Device = Literal["cpu", "cuda"]
Kind = Literal["throughput", "seconds", "memory"]


def prepare_process() -> None:
    """Offline mode (no 47 s Hub retries), no progress bars, no per-map bars from datasets."""
    set_offline(True)
    quiet_progress_bars()
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # the generation and toxicity benchmarks do not need datasets
        pass


# ---------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    """Model shapes, data lengths and workload sizes of one benchmark scale.

    Batch sizes and learning rates come from the labs' profile of the same name, so the
    benchmarks measure what the labs run.
    """

    name: str
    t5: dict  # T5Config keywords (besides vocabulary and special ids)
    t5_vocab: int  # T5 vocabulary size (the tokenizer has exactly this many ids)
    roberta: dict  # RobertaConfig keywords (besides vocabulary, labels and special ids)
    roberta_vocab: int
    dialogue_tokens: tuple[int, int, int, int]  # mean, sd, min, max of a dialogue's tokens
    summary_tokens: tuple[int, int, int, int]  # the same for a reference summary
    generation_examples: int  # prompts summarized per timed generation run
    new_tokens: int  # generated tokens per summary (forced: min_new_tokens == max_new_tokens)
    toxicity_examples: int  # texts scored per timed toxicity run
    finetune_examples: int  # training pairs (more than steps * batch size)
    finetune_warmup_steps: int  # untimed steps before the timed run
    finetune_steps: int  # timed optimizer steps
    finetune_methods: tuple[str, ...]  # "full" fine-tuning and/or "LoRA r=32"
    ppo_new_tokens: int  # sampled tokens per response (forced)
    ppo_steps: int  # timed PPO steps of ours
    ppo_baseline_steps: int  # timed PPO steps of the seed-style baseline (slow)
    repeats: int  # timed repeats of ours in the generation and toxicity benchmarks
    baseline_repeats: int  # timed repeats of the (slower) baselines there

    @property
    def profile(self):
        return get_profile(self.name)


SCALES: dict[str, Scale] = {
    # The tiny world's shapes (labs_tools.tinyworld): a CPU finishes everything in a minute.
    "tiny": Scale(
        name="tiny",
        t5={"d_model": 128, "d_kv": 32, "d_ff": 512, "num_layers": 2,
            "num_decoder_layers": 2, "num_heads": 4, "feed_forward_proj": "gated-gelu"},
        t5_vocab=2048,
        roberta={"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 256, "max_position_embeddings": 258},
        roberta_vocab=1000,
        dialogue_tokens=(63, 20, 20, 200),
        summary_tokens=(22, 6, 8, 40),
        generation_examples=50,
        new_tokens=24,
        toxicity_examples=100,
        finetune_examples=160,
        finetune_warmup_steps=1,
        finetune_steps=3,
        finetune_methods=("full", "LoRA r=32"),
        ppo_new_tokens=24,
        ppo_steps=3,
        ppo_baseline_steps=2,
        repeats=3,
        baseline_repeats=2,
    ),
    # flan-t5-base and roberta-base shapes; DialogSum-like lengths (dialogues ~200 tokens).
    "full": Scale(
        name="full",
        t5={"d_model": 768, "d_kv": 64, "d_ff": 2048, "num_layers": 12,
            "num_decoder_layers": 12, "num_heads": 12, "feed_forward_proj": "gated-gelu"},
        t5_vocab=32128,
        roberta={"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 3072, "max_position_embeddings": 514,
                 "type_vocab_size": 1},
        roberta_vocab=50265,
        dialogue_tokens=(200, 80, 60, 480),
        summary_tokens=(30, 10, 10, 60),
        generation_examples=32,
        new_tokens=32,
        toxicity_examples=64,
        finetune_examples=256,
        finetune_warmup_steps=2,
        finetune_steps=12,
        finetune_methods=("full", "LoRA r=32"),
        ppo_new_tokens=64,
        ppo_steps=3,
        ppo_baseline_steps=2,
        repeats=3,
        baseline_repeats=1,
    ),
}


# ---------------------------------------------------------------- synthetic data


def draw_length(rng: random.Random, spec: tuple[int, int, int, int]) -> int:
    """A length from a normal distribution (mean, sd) clipped to [min, max]."""
    mean, sd, low, high = spec
    return max(low, min(high, round(rng.gauss(mean, sd))))


def synthetic_text(rng: random.Random, words: int, vocabulary: int) -> str:
    """``words`` space-separated synthetic words ``w<i>``: one token each."""
    return " ".join(f"w{rng.randrange(vocabulary)}" for _ in range(words))


def synthetic_dialogues(scale: Scale, count: int, seed: int = 0) -> list[dict[str, str]]:
    """DialogSum-like rows (``dialogue``, ``summary``) with the scale's token lengths.

    The dialogue's token count includes its end-of-sequence token, as the tokenizer
    counts it, so a mean of 200 means 199 words.
    """
    rng = random.Random(seed)
    words = word_count(scale.t5_vocab, "t5")
    return [
        {
            "dialogue": synthetic_text(rng, draw_length(rng, scale.dialogue_tokens) - 1, words),
            "summary": synthetic_text(rng, draw_length(rng, scale.summary_tokens) - 1, words),
        }
        for _ in range(count)
    ]


# ---------------------------------------------------------------- tokenizers and models

SPECIAL_TOKENS = {
    "t5": ["<pad>", "</s>", "<unk>"],  # FLAN-T5's ids: pad 0, eos 1, unk 2
    "roberta": ["<s>", "<pad>", "</s>", "<unk>"],  # roberta-base's ids: bos 0, pad 1, eos 2, unk 3
}


def word_count(vocab_size: int, kind: Literal["t5", "roberta"]) -> int:
    """How many synthetic words fit in a vocabulary of ``vocab_size`` ids."""
    return vocab_size - len(SPECIAL_TOKENS[kind])


def word_tokenizer(vocab_size: int, kind: Literal["t5", "roberta"], model_max_length: int = 512):
    """A word-level tokenizer with ``vocab_size`` ids: the model's special tokens, then
    ``w0``, ``w1``, ... Texts of synthetic words tokenize to one id per word, plus
    ``</s>`` (T5) or ``<s> ... </s>`` (RoBERTa); any other word is ``<unk>``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = SPECIAL_TOKENS[kind]
    vocab = {token: i for i, token in enumerate(specials)}
    vocab.update({f"w{i}": len(specials) + i for i in range(word_count(vocab_size, kind))})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if kind == "t5":
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
        )
        extra = {}
    else:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])],
        )
        extra = {"bos_token": "<s>", "cls_token": "<s>", "sep_token": "</s>"}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
        **extra,
    )


def t5_tokenizer(scale: Scale):
    """The word-level stand-in for FLAN-T5's tokenizer at this scale."""
    return word_tokenizer(scale.t5_vocab, "t5", model_max_length=512)


def build_t5(scale: Scale, device: Device, dtype: torch.dtype, seed: int = 0):
    """A T5 with the scale's shape and random (seeded) weights, in eval mode on ``device``."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(
        vocab_size=scale.t5_vocab,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        **scale.t5,
    )
    torch.manual_seed(seed)
    with torch.device(device):  # initialize on the device: much faster on a GPU
        model = T5ForConditionalGeneration(config)
    return model.to(dtype).eval()


def save_classifier(scale: Scale, directory: str | Path, seed: int = 0) -> Path:
    """Write a RoBERTa hate classifier (labels nothate/hate) with random weights and its
    word-level tokenizer to ``directory``, loadable by ``ToxicityClassifier``."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    directory = Path(directory)
    positions = scale.roberta["max_position_embeddings"]
    tokenizer = word_tokenizer(scale.roberta_vocab, "roberta", model_max_length=positions - 2)
    config = RobertaConfig(
        vocab_size=scale.roberta_vocab,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        num_labels=2,
        id2label={0: "nothate", 1: "hate"},
        label2id={"nothate": 0, "hate": 1},
        **scale.roberta,
    )
    torch.manual_seed(seed)
    RobertaForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# ---------------------------------------------------------------- timing


def synchronize(device: Device | torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it includes it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@dataclass
class Timing:
    """Wall-clock seconds of each timed repeat."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_repeats(
    fn: Callable[[], object],
    *,
    device: Device | torch.device = "cpu",
    repeats: int = 3,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    On a GPU the device is synchronized before reading the clock at both ends, so the
    time covers the work ``fn`` queued, not just its Python.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        start = clock()
        fn()
        synchronize(device)
        seconds.append(clock() - start)
    return Timing(seconds)


class PhaseTimer:
    """Accumulates seconds per named phase: ``with timer.phase("generate"): ...``.

    On a GPU, a phase entered with ``memory=True`` also records the peak memory allocated
    while it ran (``peak_bytes``, absolute). Such phases must not be nested in each
    other; an enclosing :class:`PeakMemory` still sees the overall peak.
    """

    def __init__(self, device: Device | torch.device = "cpu",
                 clock: Callable[[], float] = time.perf_counter):
        self.device = device
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.peak_bytes: dict[str, int] = {}

    def phase(self, name: str, memory: bool = False):
        timer = self
        track = memory and torch.device(self.device).type == "cuda"

        class _Phase:
            def __enter__(self):
                synchronize(timer.device)
                if track:
                    reset_cuda_peak()
                self.start = timer.clock()

            def __exit__(self, *exc):
                synchronize(timer.device)
                timer.seconds[name] = timer.seconds.get(name, 0.0) + timer.clock() - self.start
                if track:
                    peak = torch.cuda.max_memory_allocated()
                    timer.peak_bytes[name] = max(timer.peak_bytes.get(name, 0), peak)
                return False

        return _Phase()

    def wrap(self, name: str, fn: Callable, memory: bool = False) -> Callable:
        """``fn`` with its calls counted into phase ``name``."""

        def timed(*args, **kwargs):
            with self.phase(name, memory):
                return fn(*args, **kwargs)

        return timed


# ---------------------------------------------------------------- memory


def release_memory() -> None:
    """Collect garbage, return cached GPU blocks and (glibc) free heap pages to the OS."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _CudaHighWater:
    """The highest ``max_memory_allocated`` seen before a reset inside a PeakMemory block."""

    value = 0


def reset_cuda_peak() -> None:
    """Reset CUDA's peak-memory counter without losing it for an enclosing PeakMemory."""
    _CudaHighWater.value = max(_CudaHighWater.value, torch.cuda.max_memory_allocated())
    torch.cuda.reset_peak_memory_stats()


def resident_bytes() -> int | None:
    """This process's resident set size, from /proc (Linux), else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak memory a block needs beyond what was in use when it started.

    On a GPU: ``torch.cuda.max_memory_allocated`` minus the allocation at the start
    (exact, the caching allocator's own count). On a CPU: the resident set size sampled
    every ``interval`` seconds by a thread, minus the RSS at the start: approximate, since
    the C allocator keeps some freed memory and a short peak between samples is missed.
    """

    def __init__(self, device: Device | torch.device, interval: float = 0.01):
        self.device = torch.device(device)
        self.interval = interval
        self.extra_bytes: int | None = None
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        release_memory()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            _CudaHighWater.value = 0
            self._start = torch.cuda.memory_allocated()
            return self
        self._start = resident_bytes()
        self._peak = self._start
        if self._start is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, resident_bytes() or 0)

    def __exit__(self, *exc) -> bool:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            peak = max(_CudaHighWater.value, torch.cuda.max_memory_allocated())
            self.extra_bytes = peak - self._start
        elif self._start is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, resident_bytes() or 0)
            self.extra_bytes = self._peak - self._start
        return False


# ---------------------------------------------------------------- results and tables


@dataclass
class Result:
    """One row of the ratio table: the seed-style baseline and ours on one measure.

    ``kind`` says how to read the numbers: ``throughput`` (higher is better, e.g.
    examples/s), ``seconds`` (lower is better) or ``memory`` (bytes, lower is better).
    """

    benchmark: str
    metric: str
    kind: Kind
    baseline: float | None
    ours: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times faster ours is (speed), or ours / baseline (memory)."""
        if self.baseline is None or self.ours is None or self.baseline <= 0 or self.ours <= 0:
            return None
        if self.kind == "throughput":
            return self.ours / self.baseline
        if self.kind == "seconds":
            return self.baseline / self.ours
        return self.ours / self.baseline

    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        if self.kind == "memory":
            return f"{ratio:.2f}× the memory"
        return f"{ratio:.1f}× faster" if ratio >= 1 else f"{ratio:.2f}× the speed (slower)"

    def format_value(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.kind == "memory":
            return format_bytes(value)
        if self.kind == "seconds":
            return f"{value:.3g} s"
        return f"{value:.3g}"


def format_bytes(size: float) -> str:
    """Bytes in binary units: ``1536`` → ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"


def format_table(results: list[Result]) -> str:
    """The results as a Markdown table: benchmark, metric, seed-style, ours, ratio."""
    lines = [
        "| benchmark | metric | seed-style | ours | ours vs seed-style |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.benchmark}{note} | {r.metric} | {r.format_value(r.baseline)} | "
            f"{r.format_value(r.ours)} | {r.verdict()} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: Device) -> dict[str, str]:
    """Where and with what the numbers were measured."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    gpu = torch.cuda.get_device_name() if device == "cuda" else "none used"
    return {
        "date": date.today().isoformat(),
        "device": device,
        "gpu": gpu,
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical cores, torch threads "
               f"{torch.get_num_threads()})",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": package("transformers"),
        "peft": package("peft"),
        "datasets": package("datasets"),
        "tokenizers": package("tokenizers"),
    }


def format_environment(env: dict[str, str]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in env.items())


def save_results(path: str | Path, env: dict[str, str], results: list[Result],
                 extra: dict | None = None) -> None:
    """Write the environment, the rows (with their ratios) and extras as JSON."""
    rows = [{**asdict(r), "ratio": r.ratio, "verdict": r.verdict()} for r in results]
    payload = {"environment": env, "results": rows, **(extra or {})}
    Path(path).write_text(json.dumps(payload, indent=2))


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------- command line

Details = dict[str, object]
Benchmark = Callable[[Scale, Device], tuple[list[Result], Details]]


def parse_arguments(description: str, argv: list[str] | None = None):
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", choices=sorted(SCALES), default="tiny",
                        help="tiny: small models for a CPU; full: flan-t5-base and roberta-base "
                             "shapes (default: tiny)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None,
                        help="default: cuda if available, else cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice). On a shared "
                             "2-core machine 1 is steadier: busy cores make OpenMP threads "
                             "wait for each other")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--finetune-steps", type=int, default=None,
                        help="timed fine-tuning steps (default: the scale's). A long run shows "
                             "the steady state, once every padded shape has been met")
    parser.add_argument("--ppo-steps", type=int, default=None,
                        help="timed PPO steps of ours (default: the scale's)")
    return parser.parse_args(argv)


def chosen_scale(args) -> Scale:
    """The ``--scale`` named on the command line, with any step counts it overrides."""
    scale = SCALES[args.scale]
    if args.finetune_steps:
        scale = dataclasses.replace(
            scale, finetune_steps=args.finetune_steps,
            finetune_examples=max(scale.finetune_examples,
                                  (args.finetune_steps + scale.finetune_warmup_steps + 1)
                                  * scale.profile.lab2.batch_size))
    if args.ppo_steps:
        scale = dataclasses.replace(scale, ppo_steps=args.ppo_steps)
    return scale


def resolve_device(requested: str | None) -> Device:
    """The device to run on. ``cpu`` hides any GPU, so that code choosing the device by
    itself (the trainer) also stays on the CPU."""
    if requested == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no GPU.")
    return "cuda" if requested == "cuda" or torch.cuda.is_available() else "cpu"


def run_cli(description: str, benchmark: Benchmark, argv: list[str] | None = None) -> None:
    """Parse ``--scale/--device/--json``, run one benchmark and print its table."""
    args = parse_arguments(description, argv)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    prepare_process()
    results, details = benchmark(chosen_scale(args), device)
    env = environment(device)
    print(format_environment(env), end="\n\n")
    print(format_table(results))
    if args.json:
        save_results(args.json, env, results, {"details": details})
