"""Prompts for a causal (decoder-only) policy: Lab 4's GRPO, PPO and DPO on one (sections 2 and 4).

An instruct model was tuned on its chat template (for SmolLM2, ``<|im_start|>user ...
<|im_end|>`` turns and an assistant turn to answer in); given plain text it sees a format
it was never trained on. These functions give it the lab's instruction prompt in its
template, as conversations for trl (:func:`grpo_prompts`) or as text to continue for the
project's trainers (:func:`causal_prompt_texts`, :func:`causal_prompt`). A model without a
template (the tiny world's) gets the plain prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from labs_common.prompts import instruction_prompt


def grpo_prompts(tokenizer, dialogues: Sequence[str]) -> list:
    """GRPO's training prompts: conversations where the model has a chat template.

    An instruct model was tuned on its chat template (for SmolLM2, ``<|im_start|>user ...
    <|im_end|>`` turns and an assistant turn to answer in); given plain text it sees a
    format it was never trained on. trl applies the template itself when each prompt is a
    list of messages. A model without a template (the tiny world's) gets the plain prompt.
    """
    texts = [instruction_prompt(d) for d in dialogues]
    if getattr(tokenizer, "chat_template", None):
        return [[{"role": "user", "content": text}] for text in texts]
    return texts


def causal_prompt_texts(tokenizer, dialogues: Sequence[str]) -> list[str]:
    """The same prompts as text to generate from, with the chat template applied if any."""
    chat = grpo_prompts(tokenizer, dialogues)
    if chat and not isinstance(chat[0], str):
        return [tokenizer.apply_chat_template(messages, tokenize=False,
                                              add_generation_prompt=True)
                for messages in chat]
    return chat


def causal_prompt(tokenizer) -> Callable[[str], str]:
    """``dialogue -> text`` for a causal policy: :func:`causal_prompt_texts` of one dialogue.

    For PPO and DPO on the causal model, whose prompts are text to continue.
    """

    def prompt(dialogue: str) -> str:
        return causal_prompt_texts(tokenizer, [dialogue])[0]

    return prompt
