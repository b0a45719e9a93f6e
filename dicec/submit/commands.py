"""The ``dicec submit`` verb (click only at import time; the kubernetes client when it runs)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, parse_parameters
from dicec.runner.commands import weight_options


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
@click.option("--images-file", default=None, metavar="FILE",
              help="A batch's images: a JSON list, or one per line (instead of -p images=JSON).")
@click.option("--max-images", type=click.IntRange(1), default=None, metavar="N",
              help="A batch: at most N images per Workflow (it is also split to stay under --max-workflow-bytes).")
@weight_options
@click.option("--dry-run", is_flag=True,
              help="Print how the file would be submitted (a batch: its parts) and create nothing.")
@click.option("--watch", "follow", is_flag=True,
              help="Follow the Workflow(s) until they end; exit 0 if all Succeeded, 1 if any Failed or Errored.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="With --watch: give up (exit 1) after this long; the workflows keep running.")
@click.option("--interval", type=click.FloatRange(0, min_open=True), default=2.0, show_default=True,
              metavar="SECONDS", help="With --watch: seconds between status polls.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format; json is for scripts.")
def submit(workflow_file: str, namespace: str | None, kubeconfig: str | None, context: str | None,
           parameters: tuple[str, ...], images_file: str | None, max_images: int | None, detections: float,
           bound: int, dry_run: bool, follow: bool, timeout: float | None, interval: float, fmt: str) -> None:
    """Create WORKFLOW.yaml's objects in a cluster through the Kubernetes API and print the Workflow's name.

    Creates Workflows, WorkflowTemplates (then: argo submit --from workflowtemplate/NAME) and the
    model-server Deployments and Services of services mode. `argo submit WORKFLOW.yaml` does the
    same with the argo CLI and stays the documented path.

    A batch whose images would make a Workflow past --max-workflow-bytes (Argo's MAX_WORKFLOW_SIZE, 1 MiB;
    weighed as dicec compile does, at --detections boxes per find, with the images' own URIs) runs as several
    Workflows, each with a contiguous part of the images and the labels dicec.dev/batch, dicec.dev/part and
    dicec.dev/parts (argo list -l dicec.dev/batch=ID); one name is printed per part.
    """
    from dicec.files import read_text
    from dicec.runner.documents import read_documents
    from dicec.submit import split as splitting
    from dicec.submit import plan, submit_documents

    documents = read_documents(workflow_file)
    given = parse_parameters(parameters)
    if images_file is not None:
        if splitting.BATCH_PARAMETER in given:
            raise DicecError("give the images with -p images=... or --images-file, not both")
        given[splitting.BATCH_PARAMETER] = "[]"  # checked by plan(); the list itself is set per part
    workflows = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Workflow"]
    if follow and len(workflows) != 1:
        raise DicecError(f"{workflow_file}: --watch follows one Workflow, and the file has {len(workflows)} "
                         "(a WorkflowTemplate does not run by itself: argo submit --from workflowtemplate/NAME)")
    file_namespaces = {((d.get("metadata") or {}).get("namespace")) for d in documents if isinstance(d, dict)}
    file_namespaces.discard(None)
    conn = None if dry_run else _connect(kubeconfig, context)
    target = namespace or (file_namespaces.pop() if len(file_namespaces) == 1 else None) or \
        (conn.namespace if conn is not None else "default")
    the_plan = plan(documents, namespace=target, parameters=given, where=workflow_file)
    batch = splitting.batch_workflow(the_plan.documents)
    parts, weight, images = None, None, None
    if batch is not None and (images_file is not None or splitting.BATCH_PARAMETER in given):
        text = read_text(images_file, what="images file") if images_file is not None else given[splitting.BATCH_PARAMETER]
        images = splitting.read_images(text, where=images_file or "-p images")
        weight = _weigh(batch, detections=detections, bound=bound)
        parts = splitting.parts_of(images, weight=weight, max_images=max_images)
        the_plan = type(the_plan)(documents=tuple(splitting.split(the_plan.documents, images, parts)),
                                  namespace=the_plan.namespace)
    elif max_images is not None:
        raise DicecError(f"{workflow_file}: --max-images goes with a batch Workflow and its images "
                         "(-p images=JSON or --images-file)")

    def log(line: str) -> None:
        click.echo(f"dicec submit: {line}", err=True)

    if dry_run:
        _print_dry_run(the_plan, parts, images, weight, fmt)
        return
    if parts is not None and len(parts) > 1:
        for line in splitting.describe(parts, len(images), weight):
            log(line)
    created = submit_documents(conn, the_plan, log=log)
    runs = [c for c in created if c.kind == "Workflow"]
    main = (runs or [None])[0] or next((c for c in created if not c.existed and c.kind in (
        "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")), created[-1])
    for c in created:
        if not c.existed:
            log(f"created {c.kind} {c.namespace + '/' if c.namespace else ''}{c.name}")
    result: dict[str, Any] = {"name": main.name, "namespace": main.namespace, "kind": main.kind,
                              "created": [c.to_json() for c in created], "server": conn.host}
    if parts is not None and len(parts) > 1:
        result["parts"] = [{**p.to_json(), "name": c.name} for p, c in zip(parts, runs)]
    if not follow:
        names = [c.name for c in runs] if len(runs) > 1 else [main.name]
        click.echo(dumps_json(result) if fmt == "json" else "\n".join(names), nl=fmt != "json")
        return
    _follow(conn, runs, result, parts, timeout=timeout, interval=interval, fmt=fmt)


def _connect(kubeconfig: str | None, context: str | None) -> Any:
    from dicec.submit import connect

    return connect(kubeconfig=kubeconfig, context=context)


def _weigh(workflow: dict, *, detections: float, bound: int) -> Any:
    """The batch Workflow's weight, or ``None`` when it is not one dicec can model (its steps are not dicec's)."""
    from dicec.runner.commands import weigh

    try:
        return weigh(workflow, detections=detections, bound=bound)
    except DicecError:
        return None


def _print_dry_run(the_plan: Any, parts: list | None, images: list | None, weight: Any, fmt: str) -> None:
    from dicec.submit import split as splitting

    objects = [f"{d['kind']} {d['metadata'].get('name') or d['metadata'].get('generateName') + '...'}"
               for d in the_plan.documents]
    if fmt == "json":
        click.echo(dumps_json({"namespace": the_plan.namespace, "objects": objects,
                               "parts": [p.to_json() for p in parts] if parts is not None else None,
                               "argo": weight.to_json() if weight is not None else None}), nl=False)
        return
    for line in objects if parts is None else splitting.describe(parts, len(images), weight):
        click.echo(line)


def _follow(conn: Any, runs: list, result: dict, parts: list | None, *, timeout: float | None, interval: float,
            fmt: str) -> None:
    """Watch every created Workflow in turn (they run at once) and print each one's outputs."""
    from dicec.submit import watch, workflow_outputs

    tty = sys.stderr.isatty()
    start = time.monotonic()
    finished = []
    for run in runs:
        def progress(line: str, name: str = run.name) -> None:
            if tty:
                click.echo(f"\r\x1b[K{name}: {line}", err=True, nl=False)
            else:
                click.echo(f"{name}: {line}", err=True)

        left = timeout if timeout is None or not finished else max(1e-3, timeout - (time.monotonic() - start))
        wf = watch(conn, run.name, run.namespace, interval=interval, timeout=left, progress=progress)
        if tty:
            click.echo("", err=True)
        status = wf.get("status") or {}
        finished.append((run, status, workflow_outputs(wf)))
    one = len(finished) == 1
    if fmt == "json":
        if one:
            run, status, outputs = finished[0]
            result.update({"phase": status.get("phase"), "message": status.get("message"), "outputs": outputs})
        else:
            result["phase"] = "Succeeded" if all(s.get("phase") == "Succeeded" for _, s, _ in finished) else "Failed"
            for entry, (run, status, outputs) in zip(result["parts"], finished):
                entry.update({"phase": status.get("phase"), "message": status.get("message"), "outputs": outputs})
        click.echo(dumps_json(result), nl=False)
    else:
        for run, status, outputs in finished:
            click.echo(run.name)
            for key in ("answer", "answers"):
                if key in outputs:
                    click.echo(f"{key}: {outputs[key]}")
    failed = [(run, status) for run, status, _ in finished if status.get("phase") != "Succeeded"]
    for run, status in failed:
        message = " ".join(str(status.get("message") or "no message").split())
        click.echo(f"dicec: Workflow {run.namespace}/{run.name} {status.get('phase')}: {message}", err=True)
    if failed:
        sys.exit(1)
