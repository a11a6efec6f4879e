"""Reinforcement learning and preference tuning for Lab 3: PPO and DPO on a LoRA policy.

Read the modules in this order: the math, the rollout and the policy first; then what PPO
trains (the actor-critic) and its settings; then each trainer before the helpers only it
calls (checkpoints and several processes for PPO, the preference pairs for DPO):

* :mod:`~labs_common.rl.ppo_math`: PPO's arithmetic as pure functions on masked tensors:
  masked mean, variance and whitening, log-probs and KL from logits, per-token rewards,
  GAE, the clipped policy and value losses, the KL controllers;
* :mod:`~labs_common.rl.rollout`: a batch of prompts and sampled responses
  (:class:`~labs_common.rl.rollout.Rollout`), pure sampling, and the one function that
  reads a policy's logits on a rollout (:func:`~labs_common.rl.rollout.forward_logits`);
* :mod:`~labs_common.rl.policy`: the set-up PPO and DPO share: the trained LoRA adapter,
  its frozen copy as the reference, and switching between policy, reference and base;
* :mod:`~labs_common.rl.actor_critic`: what PPO trains and reads: the policy (actor), its
  frozen reference and a value head (critic); sampling, the log-probabilities and values
  of a rollout, and the KL to the reference and to the base;
* :mod:`~labs_common.rl.ppo_config`: PPO's settings and what one step returns;
* :mod:`~labs_common.rl.ppo`: :class:`~labs_common.rl.ppo.PPOTrainer`, an actor-critic that
  learns: its step (sample, score, optimize) and update read top to bottom;
* :mod:`~labs_common.rl.checkpoint`: a PPO run's files on disk, written from and read
  into the trainer's public state;
* :mod:`~labs_common.rl.processes`: what changes on several processes
  (``accelerate launch``); on one process every helper returns its input;
* :mod:`~labs_common.rl.dpo`: the DPO loss, sequence log-probabilities and
  :class:`~labs_common.rl.dpo.DPOTrainer`;
* :mod:`~labs_common.rl.preferences`: preference pairs from a policy's own samples,
  scored by the reward model;
* :mod:`~labs_common.rl.trl_runs`: trl's maintained trainers on the same task: GRPO's
  configuration and reward function, DPO's dataset, configuration and run.

Import from the modules themselves (``from labs_common.rl.ppo import PPOTrainer``); this
package re-exports nothing.
"""
