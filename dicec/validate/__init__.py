"""The validate stage: is a file a valid Argo workflow, and if not, where exactly is it wrong?

Argo's own JSON schema (v4.1.2, patched so that numbers are accepted where Argo accepts them and unknown
keys are refused, see :mod:`dicec.validate.schema`) plus what a schema cannot see (DAG cycles,
dangling dependencies and template references, unresolved ``{{...}}`` references, Kubernetes and Argo
name rules, see :mod:`dicec.validate.semantic`).

:func:`validate_path`, :func:`validate_text` and :func:`validate_document` return a list of
:class:`~dicec.validate.messages.Diagnostic` (one class per kind of problem, see
:mod:`dicec.validate.messages`); ``str(d)`` is one line, ``path:line: where: message``. An empty list
means the input is valid. Importing this package loads neither the schema nor ``jsonschema``; the
first validation does (once per process).
"""

from dicec.validate.api import validate_document, validate_path, validate_text
from dicec.validate.messages import Diagnostic

__all__ = ["Diagnostic", "validate_document", "validate_path", "validate_text"]
