"""``dicec submit``: create a compiled workflow (and services mode's model servers) in a cluster.

Through the kubernetes client, with a kubeconfig or the in-cluster service account
(:mod:`dicec.submit.connection`); :mod:`dicec.submit.submit` creates the objects and follows a
Workflow to its end. ``argo submit wf.yaml`` remains the documented path; this verb is for
environments that have a kubeconfig but no argo CLI, and for scripts (``--format json``).
"""

from dicec.submit.connection import Connection, connect
from dicec.submit.submit import Created, plan, submit_documents, watch, workflow_outputs

__all__ = ["Connection", "Created", "connect", "plan", "submit_documents", "watch", "workflow_outputs"]
