"""The ``dicec pools`` verb: show the pool catalogue, or read one from a live cluster.

Only click and dicec.errors load at import time; kubernetes only with ``--from-cluster``. Register
with ``cli.add_command(pools)``.
"""

from __future__ import annotations

import json

import click

from dicec.errors import DicecError


@click.command()
@click.option("--pools", "pools_file", metavar="FILE", default=None, help="Catalogue to show (default: the shipped one).")
@click.option("--cloud", default=None, metavar="NAME", help="Show the catalogue as this cloud labels its nodes (e.g. gke).")
@click.option("--from-cluster", is_flag=True,
              help="Build the catalogue from the current cluster's GPU nodes (kubeconfig), priced from the defaults; "
                   "nodes of a class without figures are kept unpriced, with a note.")
@click.option("--kubeconfig", default=None, metavar="FILE", help="kubeconfig to use with --from-cluster (default: ~/.kube/config).")
@click.option("--context", default=None, metavar="NAME", help="kubeconfig context to use with --from-cluster.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the catalogue to FILE (atomically).")
def pools(pools_file: str | None, cloud: str | None, from_cluster: bool, kubeconfig: str | None, context: str | None,
          fmt: str, output: str | None) -> None:
    """Print a pool catalogue (usable as --pools FILE), or build one from a cluster with --from-cluster."""
    import yaml

    from dicec.placement.pools import load_pools, parse_pools

    if not from_cluster and (kubeconfig or context):
        raise DicecError("--kubeconfig and --context are only used with --from-cluster")
    defaults = load_pools(pools_file, cloud=cloud)
    if from_cluster:
        from dicec.placement.cluster import catalogue_from_nodes, read_nodes

        raw, notes = catalogue_from_nodes(read_nodes(kubeconfig=kubeconfig, context=context), defaults)
        parse_pools(raw, path="<cluster>")  # what we write must load back
        for note in notes:
            click.echo(f"dicec pools: {note}", err=True)
    else:
        raw = {"version": 1, "pools": [p.to_json() for p in defaults.pools]}
    text = (json.dumps(raw, indent=2, sort_keys=True) + "\n" if fmt == "json"
            else yaml.safe_dump(raw, sort_keys=False, default_flow_style=False))
    from dicec.output import write_or_echo

    write_or_echo(text, output)
