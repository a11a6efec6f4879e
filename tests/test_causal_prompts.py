"""Prompts for a causal policy (labs_common.causal_prompts): conversations in the chat template
for an instruct model, the plain instruction prompt for a model without one."""

from labs_common import causal_prompts
from labs_common.prompts import instruction_prompt

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_grpo_gives_an_instruct_model_conversations_and_a_plain_model_text(word_tokenizer):
    import copy

    plain = copy.deepcopy(word_tokenizer)
    plain.chat_template = None
    assert causal_prompts.grpo_prompts(plain, ["D"]) == [instruction_prompt("D")]
    assert causal_prompts.causal_prompt_texts(plain, ["D"]) == [instruction_prompt("D")]
    chat = copy.deepcopy(word_tokenizer)
    chat.chat_template = CHATML
    assert causal_prompts.grpo_prompts(chat, ["D"]) == [
        [{"role": "user", "content": instruction_prompt("D")}]]
    text = causal_prompts.causal_prompt_texts(chat, ["D"])[0]
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")
    assert causal_prompts.causal_prompt(chat)("D") == text  # one dialogue at a time (PPO, DPO)
