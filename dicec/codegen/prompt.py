"""The code-generation prompt, rendered from ``templates/prompts/`` and the discovered operators.

The template lists the model-free ImagePatch API and, for every operator in the registry, its
signature and one-line docstring, so an operator from ``--operators DIR`` reaches the LLM with no
code change. Rendering is deterministic (operators in name order), so a prompt's hash can pin a build.
"""

from __future__ import annotations

import hashlib

from dicec.tools.registry import Registry

TEMPLATE = "program.j2"


def render_prompt(registry: Registry, *, template: str = TEMPLATE) -> str:
    """The static part of the prompt (everything but the question), for this registry."""
    return render_template(template, operators=list(registry))


def render_template(template: str, **values) -> str:
    """Render one template of ``templates/prompts/`` (missing values are errors, nothing is escaped)."""
    import jinja2

    from dicec.resources import package_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(package_dir("dicec.templates") / "prompts")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(template).render(**values)


def prompt_hash(prompt: str) -> str:
    """sha256 of the rendered prompt, the key that pins a generated program to the prompt it came from."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()
