"""``python -m dicec.runtime VERB``: what a step container runs (``op``, ``op call``, ``op stage``, ``answer``,
``exec``) without the rest of the ``dicec`` command, so a step starts fast.

``dicec run --isolation process`` launches steps this way (see :data:`dicec.runner.launcher.LAUNCHER`).
Errors are one line and a non-zero exit, as in ``dicec``.
"""

from __future__ import annotations

import sys

from dicec.runtime.commands import answer, entry_point, exec_, op_verb

main = entry_point("dicec step verbs: op, op call, op stage, answer, exec.", op_verb(), answer, exec_)

if __name__ == "__main__":
    main(prog_name="dicec", args=sys.argv[1:])
