"""--image-secret: every step that reads the image gets the Secret as variables and read-only files."""

from __future__ import annotations

import pytest

from dicec.analysis import analyse
from dicec.emit import EmitOptions, dump_yaml, emit_workflow
from dicec.emit.hardening import is_hardened_container
from dicec.errors import DicecError
from dicec.placement import place
from dicec.runtime.fetch import CREDENTIALS_DIR_ENV, CREDENTIALS_MOUNT
from dicec.validate import validate_text

PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    return [c.simple_query("Is it damaged?") for c in cars]
'''


@pytest.mark.parametrize("fuse", [False, True])
def test_every_step_gets_the_secret(registry, pools, fuse):
    placed = place(analyse(PROGRAM, registry, path="p.py"), registry, pools, fuse=fuse)
    wf = emit_workflow(placed, EmitOptions(image_secret="photo-reader"))
    containers = [t for t in wf["spec"]["templates"] if "container" in t]
    assert len(containers) >= 2
    for template in containers:
        c = template["container"]
        assert c["envFrom"] == [{"secretRef": {"name": "photo-reader"}}]
        assert {"name": CREDENTIALS_DIR_ENV, "value": CREDENTIALS_MOUNT} in c["env"]
        assert {"mountPath": CREDENTIALS_MOUNT, "name": "image-credentials", "readOnly": True} in c["volumeMounts"]
        assert {"name": "image-credentials", "secret": {"secretName": "photo-reader", "defaultMode": 0o440}} \
            in template["volumes"]
        assert is_hardened_container(c, template.get("securityContext")) == []
    text = dump_yaml([wf])
    assert [str(d) for d in validate_text(text, path="wf.yaml")] == []
    without = emit_workflow(placed, EmitOptions())
    assert "envFrom" not in dump_yaml([without]) and "image-credentials" not in dump_yaml([without])


def test_the_secret_name_is_a_kubernetes_name():
    with pytest.raises(DicecError, match="--image-secret 'Bad Name' is not a valid Kubernetes name"):
        EmitOptions(image_secret="Bad Name")
