"""The seed notebooks' ways of doing things, written compactly, for comparison only.

Each function does what the 2023 course's notebooks did, on the same model and data as
the labs' fast path it is compared with:

* :func:`generate_one_at_a_time`: a Python loop of single-example ``generate`` calls;
* :func:`toxicity_one_at_a_time`: one classifier call per text, as evaluate's
  ``toxicity`` measurement was called in the course's ``evaluate_toxicity`` loop;
* :func:`train_padded_to_max_length`: every input and label padded to 512 tokens with
  the pad id (so padding is trained on), then the plain ``Trainer``;
* :class:`SeedStylePPO`: one PPO step as the course ran it with trl 0.4: a Python loop
  of single-prompt ``generate`` calls, a value head on the policy, a ``deepcopy`` of the
  whole policy as the frozen reference, forward passes in chunks of ``mini_batch_size``
  with per-sample Python loops for the masks and rewards, and the full-vocabulary logits
  kept for the loss.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


@torch.no_grad()
def generate_one_at_a_time(model, tokenizer, prompts: Sequence[str],
                           **generate_kwargs) -> list[str]:
    """One ``generate`` call per prompt (no padding, no attention mask), decoded one by one."""
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for prompt in prompts:
        input_ids = tokenizer(prompt, return_tensors="pt").input_ids.to(device)
        generated = model.generate(input_ids=input_ids, **generate_kwargs)
        outputs.append(tokenizer.decode(generated[0], skip_special_tokens=True).strip())
    return outputs


@torch.no_grad()
def toxicity_one_at_a_time(model, tokenizer, texts: Sequence[str], toxic_index: int,
                           max_length: int) -> list[float]:
    """P(toxic) per text, one forward pass per text (softmax over the two logits)."""
    device = next(model.parameters()).device
    scores = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
        logits = model(**encoded.to(device)).logits.float()
        scores.append(float(logits.softmax(dim=-1)[0, toxic_index]))
    return scores


def pad_to_max_length(pairs, tokenizer, length: int = 512):
    """The seeds' tokenization: inputs and labels padded to ``length`` with the pad id
    (labels too, so the loss trains on predicting padding); no attention mask."""

    def encode(batch):
        return {
            "input_ids": tokenizer(batch["prompt"], padding="max_length", truncation=True,
                                   max_length=length)["input_ids"],
            "labels": tokenizer(batch["target"], padding="max_length", truncation=True,
                                max_length=length)["input_ids"],
        }

    return pairs.map(encode, batched=True, remove_columns=pairs.column_names)


def train_padded_to_max_length(model, tokenizer, pairs, *, max_steps: int, learning_rate: float,
                               batch_size: int, bf16: bool = False, seed: int = 0,
                               length: int = 512):
    """Fine-tune as the seeds did: pre-padded data and the plain ``Trainer``.

    The training arguments are those of ``labs_common.training.train_seq2seq``, so the
    padding is the only difference. Returns a ``TrainingRun`` (time of ``train()`` only).
    """
    import tempfile
    import time
    import warnings

    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from labs_common.hub import silence_library_deprecations
    from labs_common.training import TrainingRun

    tokenized = pad_to_max_length(pairs, tokenizer, length)
    on_gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, max_steps=max_steps, per_device_train_batch_size=batch_size,
            learning_rate=learning_rate, lr_scheduler_type="linear", logging_steps=max_steps,
            save_strategy="no", report_to="none", seed=seed, data_seed=seed, bf16=bf16,
            fp16=False, use_cpu=not on_gpu, disable_tqdm=True, dataloader_num_workers=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=tokenized)
        trainer.remove_callback(PrinterCallback)  # quiet, as train_seq2seq without progress
        start = time.perf_counter()
        with warnings.catch_warnings():
            silence_library_deprecations()
            trainer.train()
        seconds = time.perf_counter() - start
    history = list(trainer.state.log_history)
    model.eval()
    return TrainingRun(
        losses=[(int(h["step"]), float(h["loss"])) for h in history if "loss" in h],
        seconds=seconds,
        steps=int(trainer.state.global_step),
        log_history=history,
    )


# ---------------------------------------------------------------- PPO as trl 0.4 ran it


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    return (values * mask).sum() / mask.sum()


def _masked_whiten(values: Tensor, mask: Tensor) -> Tensor:
    mean = _masked_mean(values, mask)
    variance = _masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(variance + 1e-8)


class ValueHeadModel(nn.Module):
    """A seq2seq LM with trl's value head (dropout, then a linear layer) on the decoder's
    last hidden state; ``forward`` returns ``(logits in float32, None, values)``."""

    def __init__(self, pretrained_model: nn.Module, dropout: float = 0.1):
        super().__init__()
        self.pretrained_model = pretrained_model
        hidden_size = pretrained_model.config.get_text_config().hidden_size
        device = next(pretrained_model.parameters()).device
        self.v_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, 1)).to(device)

    def forward(self, **inputs):
        output = self.pretrained_model(**inputs, output_hidden_states=True)
        hidden = output.decoder_hidden_states[-1]
        values = self.v_head(hidden.to(self.v_head[1].weight.dtype)).squeeze(-1)
        return output.logits.float(), None, values

    def generate(self, **kwargs):
        return self.pretrained_model.generate(**kwargs)


class SeedStylePPO:
    """One PPO step the way the 2023 course ran it on trl 0.4 (compact, for timing).

    ``policy`` is a peft LoRA model; the value head wraps it and ``create_reference_model``'s
    deep copy of the whole wrapped model (base weights included) is the frozen reference.
    The arithmetic (KL-penalized rewards, GAE, clipped losses) is trl 0.4's.
    """

    def __init__(self, policy: nn.Module, tokenizer,
                 reward_fn: Callable[[list[str]], Sequence[float]], *,
                 mini_batch_size: int = 4, ppo_epochs: int = 1, learning_rate: float = 1.41e-5,
                 init_kl_coef: float = 0.2, gamma: float = 1.0, lam: float = 0.95,
                 cliprange: float = 0.2, cliprange_value: float = 0.2, vf_coef: float = 0.1,
                 max_grad_norm: float | None = None, seed: int = 0):
        torch.manual_seed(seed)
        self.model = ValueHeadModel(policy)
        self.ref_model = copy.deepcopy(self.model).eval()  # trl's create_reference_model
        for parameter in self.ref_model.parameters():
            parameter.requires_grad = False
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.mini_batch_size = mini_batch_size
        self.ppo_epochs = ppo_epochs
        self.kl_coef = init_kl_coef
        self.gamma, self.lam = gamma, lam
        self.cliprange, self.cliprange_value, self.vf_coef = cliprange, cliprange_value, vf_coef
        self.max_grad_norm = max_grad_norm
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=learning_rate)
        self.device = next(policy.parameters()).device

    # -- the notebook's loop body: tokenize, generate one by one, decode, score, step
    def step_from_prompts(self, prompts: Sequence[str], timer=None, **generate_kwargs) -> dict:
        phase = timer.phase if timer is not None else _no_phase
        with phase("generate", memory=True):
            queries = [self.tokenizer(p, return_tensors="pt").input_ids[0].to(self.device)
                       for p in prompts]
            responses = []
            with torch.no_grad():
                for query in queries:
                    max_new_tokens = generate_kwargs["max_new_tokens"]
                    summary = self.model.generate(input_ids=query.unsqueeze(0), **generate_kwargs)
                    responses.append(summary.squeeze()[-max_new_tokens:])
            texts = [self.tokenizer.decode(r) for r in responses]
        with phase("reward"):
            scores = [torch.tensor(float(s)) for s in self.reward_fn(texts)]
        return self.step(queries, responses, scores, phase)

    def _model_inputs(self, queries: list[Tensor], responses: list[Tensor]) -> dict[str, Tensor]:
        def pad(rows: list[Tensor]) -> tuple[Tensor, Tensor]:
            ids = nn.utils.rnn.pad_sequence(rows, batch_first=True,
                                            padding_value=self.tokenizer.pad_token_id)
            mask = nn.utils.rnn.pad_sequence([torch.ones_like(r) for r in rows], batch_first=True)
            return ids, mask

        input_ids, attention_mask = pad(queries)
        decoder_input_ids, decoder_attention_mask = pad(responses)
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "decoder_input_ids": decoder_input_ids,
                "decoder_attention_mask": decoder_attention_mask}

    def _batched_forward_pass(self, model, inputs: dict[str, Tensor], return_logits: bool = False):
        size, chunk = inputs["input_ids"].shape[0], self.mini_batch_size
        all_logprobs, all_logits, all_values, all_masks = [], [], [], []
        for i in range(size // chunk):
            batch = {key: value[i * chunk : (i + 1) * chunk] for key, value in inputs.items()}
            logits, _, values = model(**batch)
            decoder_ids, attention = batch["decoder_input_ids"], batch["decoder_attention_mask"]
            logprobs = torch.log_softmax(logits[:, :-1, :], dim=-1)
            logprobs = logprobs.gather(2, decoder_ids[:, 1:].unsqueeze(2)).squeeze(2)
            masks = torch.zeros_like(attention)
            masks[:, :-1] = attention[:, 1:]
            for j in range(chunk):  # per sample: the decoder sentence starts at index 1
                end = int(attention[j].sum()) - 1
                masks[j, :1] = 0
                masks[j, end:] = 0
            if return_logits:
                all_logits.append(logits)
            all_values.append(values)
            all_logprobs.append(logprobs)
            all_masks.append(masks)
        return (torch.cat(all_logprobs),
                torch.cat(all_logits)[:, :-1] if return_logits else None,
                torch.cat(all_values)[:, :-1],
                torch.cat(all_masks)[:, :-1])

    def step(self, queries: list[Tensor], responses: list[Tensor], scores: list[Tensor],
             phase=None) -> dict:
        """trl 0.4's ``PPOTrainer.step(queries, responses, scores)``, compactly."""
        phase = phase or _no_phase
        with phase("forward", memory=True):
            inputs = self._model_inputs(queries, responses)
            with torch.no_grad():
                old_logprobs, _, old_values, masks = self._batched_forward_pass(self.model, inputs)
                ref_logprobs, _, _, _ = self._batched_forward_pass(self.ref_model, inputs)
            masks = masks.float()
            rewards, non_score_rewards = [], []
            for score, logprob, ref_logprob, mask in zip(scores, old_logprobs, ref_logprobs,
                                                         masks, strict=True):
                non_score = -self.kl_coef * (logprob - ref_logprob)
                reward = non_score.clone()
                reward[mask.nonzero()[-1]] += score.to(reward.device)
                rewards.append(reward)
                non_score_rewards.append(non_score)
            rewards = torch.stack(rewards)
        with phase("optimize", memory=True):
            stats = []
            for _ in range(self.ppo_epochs):
                order = torch.randperm(len(queries))
                for start in range(0, len(queries), self.mini_batch_size):
                    rows = order[start : start + self.mini_batch_size].tolist()
                    # trl kept the whole batch's padding in every mini-batch
                    batch_inputs = {key: value[rows] for key, value in inputs.items()}
                    logprobs, logits, values, _ = self._batched_forward_pass(
                        self.model, batch_inputs, return_logits=True)
                    stats.append(self._train_minibatch(
                        old_logprobs[rows], old_values[rows], rewards[rows], logprobs, logits,
                        values, masks[rows]))
            kl = ((old_logprobs - ref_logprobs) * masks).sum(-1).mean()
            return {"objective/kl": float(kl),
                    "objective/entropy": float((-old_logprobs * masks).sum(-1).mean()),
                    "ppo/loss/total": sum(s["loss"] for s in stats) / len(stats),
                    "ppo/policy/entropy": sum(s["entropy"] for s in stats) / len(stats)}

    def _train_minibatch(self, old_logprobs, values, rewards, logprobs, logits, vpreds, mask):
        length = rewards.shape[-1]
        values, rewards = values * mask, rewards * mask
        last, advantages_reversed = 0.0, []
        for t in reversed(range(length)):
            next_values = values[:, t + 1] if t < length - 1 else 0.0
            delta = rewards[:, t] + self.gamma * next_values - values[:, t]
            last = delta + self.gamma * self.lam * last
            advantages_reversed.append(last)
        advantages = torch.stack(advantages_reversed[::-1]).transpose(0, 1)
        returns = advantages + values
        advantages = _masked_whiten(advantages, mask).detach()
        clipped = torch.clamp(vpreds, values - self.cliprange_value, values + self.cliprange_value)
        vf_loss = 0.5 * _masked_mean(torch.max((vpreds - returns) ** 2, (clipped - returns) ** 2),
                                     mask)
        ratio = torch.exp(logprobs - old_logprobs)
        pg_loss = _masked_mean(torch.max(-advantages * ratio, -advantages * torch.clamp(
            ratio, 1.0 - self.cliprange, 1.0 + self.cliprange)), mask)
        loss = pg_loss + self.vf_coef * vf_loss
        log_probs = torch.log_softmax(logits, dim=-1)  # trl logs the entropy of every position
        entropy = _masked_mean(-(log_probs.exp() * log_probs).sum(-1), mask)
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad],
                                     self.max_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach()), "entropy": float(entropy.detach())}


class _NoPhase:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _no_phase(name: str, memory: bool = False) -> _NoPhase:
    return _NoPhase()
