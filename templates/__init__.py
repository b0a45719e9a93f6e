"""Prompt templates (jinja2), shipped inside the package as ``dicec.templates``."""
