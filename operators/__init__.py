"""Built-in operators: one folder each (spec.yaml + code), shipped as ``dicec.builtin_operators``."""
