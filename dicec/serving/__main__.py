"""``python -m dicec.serving op serve NAME...`` / ``answer serve``: the servers without the rest of ``dicec``.

``dicec run --isolation process`` starts a services-mode workflow's model servers and answer server this
way (see :data:`dicec.runner.launcher.SERVER_LAUNCHER`). Errors are one line and a non-zero exit, as in ``dicec``.
"""

from __future__ import annotations

import sys

from dicec.runtime.commands import entry_point
from dicec.serving.commands import answer_group, op_group

main = entry_point("dicec servers: op serve (model server), answer serve (answer server).", op_group(),
                   answer_group())

if __name__ == "__main__":
    main(prog_name="dicec", args=sys.argv[1:])
