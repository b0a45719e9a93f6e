"""dicec: compile a question about images into a parallel, cost-placed Argo Workflow.

The stages (see DESIGN.md): tools (operator registry) -> codegen -> check -> analysis (task graph)
-> placement -> emit (Argo YAML) -> validate. Each stage is a pure function from one file format to
the next; :mod:`dicec.cli` is a thin shell over them.
"""

__version__ = "0.1.0"
