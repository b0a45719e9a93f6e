"""Validating Argo workflow files: Argo's own schema (patched) plus what a schema cannot see.

:func:`validate_path` / :func:`validate_text` return a list of
:class:`~dicec.validate.messages.Diagnostic`, each one line pointing at ``file:line``. An empty list
means the file is valid.
"""

from dicec.validate.api import validate_document, validate_path, validate_text
from dicec.validate.messages import Diagnostic

__all__ = ["Diagnostic", "validate_document", "validate_path", "validate_text"]
