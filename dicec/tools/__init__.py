"""Stage 1, the tools: vision operators discovered at run time.

An operator is a folder holding ``spec.yaml`` (name, Python signature, prompt docstring, container
image, model file, GPU profile with sources) and its code. :func:`discover` finds them in the built-in
``operators/`` folder, in installed packages' ``dicec.operators`` entry points and in any
``--operators DIR``; nothing downstream hard-codes an operator name.
"""

from dicec.tools.registry import Registry, discover
from dicec.tools.spec import Form, OperatorSpec, Param, Profile

__all__ = ["Form", "OperatorSpec", "Param", "Profile", "Registry", "discover"]
