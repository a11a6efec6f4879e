"""The helper package the llm-labs notebooks import: one module per concern, each tested in
``tests/test_<module>.py`` (``tests/test_rl_<module>.py`` for :mod:`labs_common.rl`).

Setting up a lab
    session           a lab's first call: preflight, profile, device, threads, seed
    preflight         what this runtime offers against what the lab needs, before downloads
    runtime           this runtime's facts: Colab, the GPU and its bf16, RAM, free disk
    lab_needs         what each lab needs per profile (GPU memory, minutes, RAM, disk)
    profiles          the tiny and full profiles: models, datasets and every lab's sizes
    rehearsal         every lab's sizes cut to a few examples, for ``make rehearse``
    hub               where models and data load from (pinned Hub commits, a local Hub
                      folder, disk), and ``activate``, which ``session.start`` calls
    device            the device, the dtype, mixed precision, CPU threads; T4 emulation
    paths             where data is read and results, adapters and runs are written
    colab             installing on Colab, keeping results in Google Drive
    results           recording each lab's figures into ``results-<profile>.json``
    checkpoints       checkpoints that survive a disconnect: written whole, checked, resumed

Data, prompts and models (every lab)
    data              the dialogue and tweet datasets, from the Hub or ``data/``
    prompts           prompt templates, few-shot builders, the prompt-token budget
    models            loading models, counting parameters, size on disk and GPU memory
    generation        batched generation with a progress bar
    evaluation        scoring a model on the labs' two tasks: summaries and sentiment
    metrics           ROUGE, BLEU, accuracy, a confusion matrix
    stats             bootstrap confidence intervals for the labs' comparisons
    narrate           sentences computed from numbers that differ between profiles
    claims            what each lab claims, checked on its recorded results
    plots             plots that return ``(fig, ax)`` and write no files

Fine-tuning (Lab 2)
    training          supervised fine-tuning of a seq2seq model with the Trainer
    lora              LoRA adapters with peft: create, save, reload, compare
    quantization      QLoRA on a 4-bit base, on a CUDA GPU
    memory            an estimate of training memory from parameter counts

Detoxification and preference optimization (Labs 3 and 4)
    start_policy      the policies the RL labs start from: Lab 2's adapter, Lab 3's PPO policy
    toxicity          the toxicity classifiers: logits, P(hate), the PPO reward
    insults           the tiny world's insult words and how a summary reports one
    detox             the PPO detoxification run: its settings, prompts and loop
    ppo_stats         reading a PPO run: a live table, what each statistic means
    detox_evaluation  summaries before and after, their toxicity, KL moved, runs over seeds
    comparison        methods side by side on the same judges, with paired intervals
    causal_prompts    prompts for a decoder-only policy, chat template included
    rl                PPO (actor-critic, settings, trainer) and DPO on a LoRA policy, and
                      trl's GRPO and DPO runs (:mod:`labs_common.rl` lists its modules in
                      reading order)

The tools that build the tiny world and the Hub replica, run the notebooks headless and
train without a notebook are in :mod:`labs_tools`, which imports this package; this package
never imports it.
"""

__version__ = "0.1.0"
