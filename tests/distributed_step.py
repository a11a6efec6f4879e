"""One optimizer step of the Trainer (LoRA) and of PPO, on however many processes run this.

``python tests/distributed_step.py OUT`` takes the step on one process;
``accelerate launch --multi_gpu --num_processes 2 ... tests/distributed_step.py OUT`` on
two, each with its share of the same global batch of 4. Dropout is off (the tiny
summarizer has none, the adapters get none), so both must end with the same weights;
tests/test_rl_processes.py compares them. The main process writes ``OUT`` (torch.save):
the weights before and after each step, and each step's logged figures.
"""

from __future__ import annotations

import sys

import torch
from accelerate import Accelerator
from datasets import Dataset
from transformers import AutoTokenizer, T5ForConditionalGeneration

from labs_common import lora, training
from labs_common.hub import activate
from labs_common.paths import tiny_model_dir
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig
from labs_common.rl.ppo_math import mask_after_eos
from labs_common.rl.rollout import Rollout

GLOBAL_BATCH = 4
PROMPTS = [
    "Summarize: #Person1#: Where is my ticket? #Person2#: It is at the desk, sir.",
    "Summarize: #Person1#: The soup is cold. #Person2#: I am sorry, I will bring another.",
    "Summarize: #Person1#: Can I pay by card? #Person2#: Yes.",
    "Summarize: #Person1#: My flight was cancelled and I need a hotel for tonight. "
    "#Person2#: We will book one for you near the airport.",
]
# Of different lengths, so that the two processes hold different numbers of tokens.
TARGETS = [
    "#Person2# says the ticket is at the desk.",
    "#Person1# complains that the soup is cold and #Person2# will bring another one.",
    "#Person1# pays by card.",
    "#Person2# books a hotel near the airport.",
]
REWARDS = [1.0, -0.5, 2.0, 0.25]


def _summarizer():
    path = tiny_model_dir("flan-t5-tiny")
    model = T5ForConditionalGeneration.from_pretrained(path, dropout_rate=0.0)
    return model.eval(), AutoTokenizer.from_pretrained(path)


def _trainable(model, extra=None) -> dict[str, torch.Tensor]:
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for name, parameter in (extra or {}).items():
        weights[name] = parameter.detach().clone()
    return weights


def trainer_step(processes: int) -> dict:
    """One step of training.train_seq2seq (the HF Trainer) on a fresh LoRA adapter."""
    torch.manual_seed(0)
    base, tokenizer = _summarizer()
    model = lora.make_lora_model(base, dropout=0.0, in_place=True)
    before = _trainable(model)
    pairs = Dataset.from_dict({"prompt": PROMPTS, "target": TARGETS})
    run = training.train_seq2seq(model, tokenizer, pairs, max_steps=1, learning_rate=1e-2,
                                 batch_size=GLOBAL_BATCH // processes, logging_steps=1, seed=0)
    logged = next(h for h in run.log_history if "loss" in h)
    return {"before": before, "after": _trainable(model),
            "stats": {"loss": logged["loss"], "grad_norm": logged["grad_norm"]}}


def ppo_step(accelerator: Accelerator) -> dict:
    """One PPOTrainer.optimize on a fixed rollout of 4, each process taking its share."""
    base, tokenizer = _summarizer()
    torch.manual_seed(0)
    policy = lora.make_lora_model(base, dropout=0.0, in_place=True)
    config = PPOConfig(batch_size=GLOBAL_BATCH, mini_batch_size=GLOBAL_BATCH, ppo_epochs=1,
                       learning_rate=1e-2, seed=0)
    trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer,
                         reward_fn=lambda texts: [0.0] * len(texts), accelerator=accelerator)
    extra = {f"value_head.{n}": p for n, p in trainer.value_head.named_parameters()}
    before = _trainable(trainer.model, extra)
    queries = tokenizer(PROMPTS, padding=True, return_tensors="pt")
    responses = tokenizer(text_target=TARGETS, padding=True, return_tensors="pt")["input_ids"]
    rollout = Rollout(PROMPTS, TARGETS, queries["input_ids"], queries["attention_mask"],
                      responses, mask_after_eos(responses, [tokenizer.eos_token_id]))
    share = GLOBAL_BATCH // accelerator.num_processes
    rows = torch.arange(accelerator.process_index * share, (accelerator.process_index + 1) * share)
    local = rollout.select(rows, left_padded_queries=False)
    stats = trainer.optimize(local, [REWARDS[i] for i in rows.tolist()])
    stats.pop("time/step_seconds")
    return {"before": before, "after": _trainable(trainer.model, extra), "stats": stats}


def main(out: str) -> None:
    activate("tiny")
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    result = {"processes": accelerator.num_processes,
              "trainer": trainer_step(accelerator.num_processes),
              "ppo": ppo_step(accelerator)}
    if accelerator.is_main_process:
        torch.save(result, out)
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1])
