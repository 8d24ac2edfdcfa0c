"""``python -m aether.cluster status --server URL --cluster NAME``: show a cluster."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import click
import nats

from aether.cluster.status import ClusterStatus, read_status
from aether.errors import AetherError


@click.group()
def main() -> None:
    """Inspect Aether clusters on a NATS server."""


@main.command()
@click.option("--server", default="nats://127.0.0.1:4222", show_default=True,
              help="NATS server URL.")
@click.option("--cluster", "cluster", required=True, help="Cluster name (its namespace).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def status(server: str, cluster: str, as_json: bool) -> None:
    """Members, leader and epoch, and the shard table of CLUSTER."""
    try:
        result = asyncio.run(_read(server, cluster))
    except AetherError as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, nats.errors.Error) as exc:
        raise click.ClickException(
            f"cannot reach NATS at {_shown(server)} ({type(exc).__name__}: {exc}): "
            f"check --server and that nats-server is running") from exc
    click.echo(json.dumps(_as_json(result), indent=2) if as_json else result.render())


async def _read(server: str, cluster: str) -> ClusterStatus:
    # One quick retry and a quiet error callback: a CLI reports, it does not reconnect.
    refused: list[Exception] = []

    async def note(error: Exception) -> None:
        # nats-py passes the server's -ERR as a plain Error: "'Authorization Violation'",
        # "'Authentication Timeout'", "'User Authentication Expired'".
        if isinstance(error, nats.errors.AuthorizationError) or any(
                word in str(error).lower() for word in ("authoriz", "authenticat")):
            refused.append(error)

    try:
        nc = await nats.connect(server, connect_timeout=3, max_reconnect_attempts=1,
                                reconnect_time_wait=0.1, error_cb=note)
    except (OSError, nats.errors.Error) as exc:
        if refused:  # it answered, and said no: "is it running?" would mislead
            raise click.ClickException(
                f"NATS at {_shown(server)} refused the connection ({refused[-1]}): give a user "
                f"allowed on it in --server, as nats://USER:PASSWORD@HOST:PORT") from exc
        raise
    try:
        return await read_status(nc, cluster)
    finally:
        await nc.close()


def _shown(server: str) -> str:
    """``server`` for a message: a password in it is not printed."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", server)


def _as_json(result: ClusterStatus) -> dict[str, object]:
    return {
        "cluster": result.cluster,
        "bucket": result.bucket,
        "shard_count": result.settings.shard_count if result.settings else None,
        "leader": result.leader.node_id if result.leader else None,
        "leader_live": result.leader_live(),
        "leader_age": result.leader_age,
        "epoch": result.epoch,
        "members": [m.model_dump() for m in result.members],
        "table_version": result.table.version if result.table else None,
        "table_epoch": result.table.epoch if result.table else None,
        "shards_per_node": result.shards_per_node(),
    }


if __name__ == "__main__":
    sys.exit(main())
