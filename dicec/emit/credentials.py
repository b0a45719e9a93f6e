"""The Secret steps read the input image with: ``dicec compile --image-secret NAME``.

Where a pod's own identity (IRSA on EKS, Workload Identity on GKE, through ``--service-account``) is
not used, a Secret can carry the credentials. Every step container that reads the image gets the
Secret twice, so either shape of credential works with no change to the step:

* as environment variables (``envFrom``): keys such as ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` are read by boto3 as they are;
* as files, read-only at :data:`dicec.runtime.fetch.CREDENTIALS_MOUNT` (named to the step in
  ``$DICEC_IMAGE_CREDENTIALS``): a Google service-account key under the key
  :data:`dicec.runtime.fetch.GCS_KEY_FILE` is used for ``gs://`` (:mod:`dicec.runtime.fetch`).

The Secret's name is checked as a Kubernetes name; its values never enter the workflow file.
"""

from __future__ import annotations

from typing import Any

from dicec.runtime.fetch import CREDENTIALS_DIR_ENV, CREDENTIALS_MOUNT

VOLUME = "image-credentials"
#: Owner and group (the pod's ``fsGroup``) may read the files; nobody may write them.
FILE_MODE = 0o440


def secret_fields(secret: str) -> dict[str, list[dict[str, Any]]]:
    """What a step container gets for ``secret``: ``env_from``, ``env``, ``volumes``, ``volume_mounts``
    (plain dicts of core/v1 fields, added to the hardened pod's own)."""
    return {
        "env_from": [{"secretRef": {"name": secret}}],
        "env": [{"name": CREDENTIALS_DIR_ENV, "value": CREDENTIALS_MOUNT}],
        "volumes": [{"name": VOLUME, "secret": {"secretName": secret, "defaultMode": FILE_MODE}}],
        "volume_mounts": [{"name": VOLUME, "mountPath": CREDENTIALS_MOUNT, "readOnly": True}],
    }
