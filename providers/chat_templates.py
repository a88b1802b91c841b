"""Named chat templates: Jinja sources for the common instruction formats, chosen by name in a
deployment's ``chat_template`` (any other value there is Jinja text of its own).

Each renders ``messages`` (role and text content) and, with ``add_generation_prompt``, the start
of the reply. A ``developer`` message counts as a system one; models without a system role
(Gemma, Mistral) get it as a user turn.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

_SYSTEM_ROLES = "('system', 'developer')"

CHATML = (
    "{% for message in messages %}"
    f"{{% set role = 'system' if message['role'] in {_SYSTEM_ROLES} else message['role'] %}}"
    r"{{ '<|im_start|>' + role + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAMA3 = (
    "<|begin_of_text|>"
    "{% for message in messages %}"
    f"{{% set role = 'system' if message['role'] in {_SYSTEM_ROLES} else message['role'] %}}"
    r"{{ '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

GEMMA = (
    "<bos>"
    "{% for message in messages %}"
    f"{{% set role = 'user' if message['role'] in {_SYSTEM_ROLES} else message['role'] %}}"
    "{% set role = 'model' if role == 'assistant' else role %}"
    r"{{ '<start_of_turn>' + role + '\n' + message['content'] + '<end_of_turn>\n' }}"
    "{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

# Mistral's reply needs no opening marker: generation continues after the last [/INST].
MISTRAL = (
    "<s>"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{{ message['content'] + '</s>' }}"
    "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}"
    "{% endfor %}"
)

PLAIN = (
    "{% for message in messages %}"
    f"{{% set role = 'system' if message['role'] in {_SYSTEM_ROLES} else message['role'] %}}"
    r"{{ role + ': ' + message['content'] + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)

NAMED_TEMPLATES: dict[str, str] = {
    "chatml": CHATML,
    "llama3": LLAMA3,
    "gemma": GEMMA,
    "mistral": MISTRAL,
    "plain": PLAIN,
}


def check_chat_template(value: str) -> str:
    """A template name, or Jinja text (settings validator). Text without any Jinja markup would
    render the same words for every chat, so it is taken for a mistyped name and refused."""
    if value in NAMED_TEMPLATES or "{{" in value or "{%" in value:
        return value
    raise ValueError(
        f"{value!r} is neither a named chat template ({', '.join(NAMED_TEMPLATES)}) nor a Jinja "
        "template (no {{ }} or {% %} in it)"
    )


# A deployment setting choosing its chat template, checked at config load.
ChatTemplate = Annotated[str, AfterValidator(check_chat_template)]


def template_source(value: str) -> str:
    """The Jinja source of a ``chat_template`` value: a named template's, or the value itself."""
    return NAMED_TEMPLATES.get(value, value)
