"""The ``dicec submit`` verb (click only at import time; the kubernetes client when it runs)."""

from __future__ import annotations

import sys
from typing import Any

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, parse_parameters


@click.command("submit")
@click.argument("workflow_file", metavar="WORKFLOW.yaml")
@click.option("-n", "--namespace", default=None,
              help="Namespace to create in (default: the file's, else the kubeconfig context's, in a pod the "
                   "service account's, else default).")
@click.option("--kubeconfig", default=None, metavar="FILE",
              help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account).")
@click.option("--context", default=None, metavar="NAME", help="kubeconfig context (default: its current-context).")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Set a workflow parameter, as argo submit -p (e.g. -p image=uploads/car.png).")
@click.option("--watch", "follow", is_flag=True,
              help="Follow the Workflow until it ends; exit 0 if it Succeeded, 1 if it Failed or Errored.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="With --watch: give up (exit 1) after this long; the workflow keeps running.")
@click.option("--interval", type=click.FloatRange(0, min_open=True), default=2.0, show_default=True,
              metavar="SECONDS", help="With --watch: seconds between status polls.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format; json is for scripts.")
def submit(workflow_file: str, namespace: str | None, kubeconfig: str | None, context: str | None,
           parameters: tuple[str, ...], follow: bool, timeout: float | None, interval: float, fmt: str) -> None:
    """Create WORKFLOW.yaml's objects in a cluster through the Kubernetes API and print the Workflow's name.

    Creates Workflows, WorkflowTemplates (then: argo submit --from workflowtemplate/NAME) and the
    model-server Deployments and Services of services mode. `argo submit WORKFLOW.yaml` does the
    same with the argo CLI and stays the documented path.
    """
    from dicec.runner.documents import read_documents
    from dicec.submit import connect, plan, submit_documents, watch, workflow_outputs

    documents = read_documents(workflow_file)
    workflows = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Workflow"]
    if follow and len(workflows) != 1:
        raise DicecError(f"{workflow_file}: --watch follows one Workflow, and the file has {len(workflows)} "
                         "(a WorkflowTemplate does not run by itself: argo submit --from workflowtemplate/NAME)")
    conn = connect(kubeconfig=kubeconfig, context=context)
    file_namespaces = {((d.get("metadata") or {}).get("namespace")) for d in documents if isinstance(d, dict)}
    file_namespaces.discard(None)
    target = namespace or (file_namespaces.pop() if len(file_namespaces) == 1 else None) or conn.namespace
    the_plan = plan(documents, namespace=target, parameters=parse_parameters(parameters), where=workflow_file)

    def log(line: str) -> None:
        click.echo(f"dicec submit: {line}", err=True)

    created = submit_documents(conn, the_plan, log=log)
    main = next((c for c in created if c.kind == "Workflow"), None) or \
        next((c for c in created if not c.existed and c.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate",
                                                                  "CronWorkflow")), created[-1])
    for c in created:
        if not c.existed:
            log(f"created {c.kind} {c.namespace + '/' if c.namespace else ''}{c.name}")
    result: dict[str, Any] = {"name": main.name, "namespace": main.namespace, "kind": main.kind,
                              "created": [c.to_json() for c in created], "server": conn.host}
    if not follow:
        click.echo(dumps_json(result) if fmt == "json" else main.name, nl=fmt != "json")
        return
    tty = sys.stderr.isatty()

    def progress(line: str) -> None:
        if tty:
            click.echo(f"\r\x1b[K{main.name}: {line}", err=True, nl=False)
        else:
            click.echo(f"{main.name}: {line}", err=True)

    wf = watch(conn, main.name, main.namespace, interval=interval, timeout=timeout, progress=progress)
    if tty:
        click.echo("", err=True)
    status = wf.get("status") or {}
    phase = status.get("phase")
    outputs = workflow_outputs(wf)
    result.update({"phase": phase, "message": status.get("message"), "outputs": outputs})
    if fmt == "json":
        click.echo(dumps_json(result), nl=False)
    else:
        click.echo(main.name)
        for key in ("answer", "answers"):
            if key in outputs:
                click.echo(f"{key}: {outputs[key]}")
    if phase != "Succeeded":
        message = " ".join(str(status.get("message") or "no message").split())
        click.echo(f"dicec: Workflow {main.namespace}/{main.name} {phase}: {message}", err=True)
        sys.exit(1)
