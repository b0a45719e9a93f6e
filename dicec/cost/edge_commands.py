"""The ``dicec edge`` verb: an edge-cloud plan's latency, uplink bytes and cloud dollars against cloud-only.

Only click and dicec.errors are imported here; the stages load inside the command. Register with
``cli.add_command(edge)``.
"""

from __future__ import annotations

import click

from dicec.errors import DicecError


def _size(text: str, what: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DicecError(f"--{what} expects WIDTHxHEIGHT in pixels, e.g. 1920x1080 (got {text!r})") from None
    return w, h


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--pools", "pools_file", metavar="FILE", required=True,
              help="Pool catalogue with an edge pool (edge: true), e.g. examples/marine/pools.yaml.")
@click.option("--operators", "operator_dirs", multiple=True, metavar="DIR", help="Also load operator folders from DIR.")
@click.option("--mode", type=click.Choice(["pods", "services"]), default="services", show_default=True,
              help="pods: each step a pod that loads its model; services: warm model servers (cloud and edge).")
@click.option("--hit-rate", type=float, default=0.1, show_default=True,
              help="Fraction of frames in which the edge detects something (the stream figures).")
@click.option("--frames", type=int, default=1000, show_default=True, help="Frames in the stream.")
@click.option("--frame", "frame", default="1920x1080", show_default=True, metavar="WxH", help="Frame size in pixels.")
@click.option("--crop", "crop", default="160x160", show_default=True, metavar="WxH",
              help="Size of one detection's crop in pixels.")
@click.option("--bytes-per-pixel", type=float, default=3.0, show_default=True,
              help="Bytes per pixel on the uplink (3: raw 8-bit RGB).")
@click.option("--uplink-mbps", type=float, default=None, metavar="MBIT/S",
              help="Uplink speed (default: the edge pool's uplink_mbps).")
@click.option("--fanout", type=int, default=None, metavar="N",
              help="Detections per frame when the edge finds something (default 3).")
@click.option("--pod-startup", "pod_startup", type=float, default=None, metavar="SECONDS",
              help="Override the pod start-up figure (default 5 s, the Kubernetes p99 SLO).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the report to FILE (atomically).")
def edge(inputs: tuple[str, ...], pools_file: str, operator_dirs: tuple[str, ...], mode: str, hit_rate: float,
         frames: int, frame: str, crop: str, bytes_per_pixel: float, uplink_mbps: float | None, fanout: int | None,
         pod_startup: float | None, fmt: str, output: str | None) -> None:
    """Edge-cloud against cloud-only for each INPUT: end-to-end latency, bytes sent over the uplink and
    cloud dollars, when the edge finds something, when it finds nothing, and over a stream of frames
    at --hit-rate.

    INPUT: a question (.txt), a program (.py), a task graph (.json) or a compiled workflow (.yaml).
    """
    from dicec.output import dumps_json, write_or_echo
    from dicec.cost.edge import LinkModel
    from dicec.cost.edge_report import compare_inputs, markdown
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel, with_model_overrides
    from dicec.tools import discover

    fw, fh = _size(frame, "frame")
    cw, ch = _size(crop, "crop")
    link = LinkModel(frame_width=fw, frame_height=fh, crop_width=cw, crop_height=ch, bytes_per_pixel=bytes_per_pixel,
                     uplink_mbps=uplink_mbps)
    model = with_model_overrides(TimingModel(), fanout=fanout, pod_startup_s=pod_startup)
    registry = discover(operator_dirs)
    catalogue = load_pools(pools_file)
    if not any(p.edge for p in catalogue.pools):
        raise DicecError(f"{pools_file}: the catalogue has no edge pool (edge: true), so there is no edge-cloud plan")
    reports = compare_inputs(list(inputs), registry, catalogue, model, link, mode=mode, hit_rate=hit_rate, frames=frames)
    write_or_echo(dumps_json({"version": 1, "kind": "dicec/edge-reports", "reports": reports}) if fmt == "json"
         else markdown(reports), output)
