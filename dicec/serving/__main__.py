"""``python -m dicec.serving op serve NAME...``: the model server without the rest of the ``dicec`` command.

``dicec run --isolation process`` starts a services-mode workflow's model servers this way (see
:data:`dicec.runner.launcher.SERVER_LAUNCHER`). Errors are one line and a non-zero exit, as in ``dicec``.
"""

from __future__ import annotations

import sys

from dicec.runtime.commands import entry_point
from dicec.serving.commands import op_group

main = entry_point("dicec model server: op serve.", op_group())

if __name__ == "__main__":
    main(prog_name="dicec", args=sys.argv[1:])
