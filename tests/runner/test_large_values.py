"""Values too large for a command line reach the steps as files: a crowded image under ``--isolation process``.

Linux refuses one argument over 128 KiB (MAX_ARG_STRLEN) when a process starts, as it does when a pod's
container starts. 1120 circles found and each checked by ``verify_property`` give the answer step 170 KB of
records; before the records travelled as a raw artifact (a file) the answer step failed to start with
"Argument list too long".
"""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from dicec.cli import cli as main

#: 40 x 28 circles, two in three red.
COLUMNS, ROWS, CELL, RADIUS = 40, 28, 24, 8


def crowded_image(path):
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene import BACKGROUND, COLOURS

    img = np.empty((ROWS * CELL + 20, COLUMNS * CELL + 20, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    ys, xs = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    for i in range(ROWS):
        for j in range(COLUMNS):
            cy, cx = 10 + i * CELL + CELL / 2, 10 + j * CELL + CELL / 2
            img[(xs - cx) ** 2 + (ys - cy) ** 2 <= RADIUS * RADIUS] = COLOURS["red" if (i + j) % 3 else "blue"]
    path.write_bytes(encode_png(img))
    return path


def test_a_crowded_image_runs_as_pods_would(tmp_path):
    image = crowded_image(tmp_path / "crowd.png")
    question = tmp_path / "q.txt"
    question.write_text("How many circles are red?\n")
    wf = tmp_path / "wf.yaml"
    r = CliRunner()
    assert r.invoke(main, ["compile", str(question), "-o", str(wf)]).exit_code == 0
    keep = tmp_path / "keep"
    run = r.invoke(main, ["run", str(wf), "-p", f"image={image}", "--isolation", "process", "--keep", str(keep),
                          "--format", "json"])
    assert run.exit_code == 0, run.output
    body = json.loads(run.output)
    assert body["answer"] == str(sum(1 for i in range(ROWS) for j in range(COLUMNS) if (i + j) % 3))  # 746
    (records_file,) = keep.glob("answer/tmp/dicec/inputs/records.json")
    records = json.loads(records_file.read_text())
    checks = [r for rs in records if isinstance(rs, list) for r in rs if r["operator"] == "verify_property"]
    assert len(checks) == COLUMNS * ROWS == 1120
    assert records_file.stat().st_size > 128 * 1024  # one argument could not have held them
