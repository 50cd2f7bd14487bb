"""Workflows per hour that an AiiDA stack sustains here: SQLite + ZeroMQ (the default profile) against PostgreSQL +
RabbitMQ (``setup --production``), each with 2 daemon workers, for a trivial workflow (StackCheckWorkChain: two
calcfunctions) and for the amorphous-cell workflow (``--workflow cell --protocol fast``, AmberTools + packing).

Each case uses a throwaway profile in a temporary AIIDA_PATH (the PostgreSQL one with its own role and database,
dropped afterwards), submits N workflows at once and times first submission to last end::

    .venv/bin/python benchmarks/stack_throughput.py [--trivial 30] [--cells 3]

Needs scripts/services.sh to work (root or sudo) for the PostgreSQL + RabbitMQ rows; skips them otherwise.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
os.environ["AIIDA_PATH"] = tempfile.mkdtemp(prefix="stack-throughput-")

CELLS = "id,smiles\nPE,*CC*\nPP,*CC(C)*\nPEO,*CCO*\nPVC,*CC(Cl)*\nPS,*CC(c1ccccc1)*\nPMA,*CC(C(=O)OC)*\n"


def wait(nodes, timeout: float = 1200) -> None:
    start = time.monotonic()
    while not all(node.is_terminated for node in nodes):
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not all ended in {timeout} s")
        time.sleep(0.5)


def trivial(count: int) -> tuple[float, int]:
    from aiida_polymer.stackcheck import StackCheckController, workflows

    label = "bench-" + secrets.token_hex(3)
    start = time.monotonic()
    StackCheckController.over(label, count, count).submit_new_batch()
    nodes = workflows(label)
    wait(nodes)
    return time.monotonic() - start, sum(node.is_finished_ok for node in nodes)


def cells(count: int, workdir: Path) -> tuple[float, int]:
    from aiida import orm

    from aiida_polymer.campaign import submit_campaign
    from aiida_polymer.codes import ensure_codes, localhost

    ensure_codes(localhost(workdir=str(workdir / "scratch")))
    library = workdir / "cells.csv"
    library.write_text("\n".join(CELLS.splitlines()[: count + 1]) + "\n")
    label = "bench-cells-" + secrets.token_hex(3)
    start = time.monotonic()
    submit_campaign(label, library, workflow="cell", protocol="fast", max_concurrent=count)
    query = orm.QueryBuilder().append(orm.Group, filters={"label": label}, tag="g").append(
        orm.WorkflowNode, with_group="g")
    nodes = query.all(flat=True)
    wait(nodes)
    return time.monotonic() - start, sum(node.is_finished_ok for node in nodes)


def run_stack(kind: str, n_trivial: int, n_cells: int, workdir: Path) -> list[tuple]:
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, profile_context

    from aiida_polymer import production

    config = get_config(create=True)
    name = f"bench_{kind.replace('+', '_')}_{secrets.token_hex(3)}"
    database = None
    if kind == "sqlite+zeromq":
        storage, storage_config, broker, broker_config = ("core.sqlite_dos", {"filepath": str(workdir / name)},
                                                          "core.zeromq", None)
    else:
        production.services("start")
        database = production.ensure_database(name, secrets.token_urlsafe(18))
        storage, storage_config = "core.psql_dos", database.storage_config(workdir / name / "repository")
        broker, broker_config = "core.rabbitmq", dict(production.RABBITMQ)
    profile = create_profile(config, storage_backend=storage, storage_config=storage_config, broker_backend=broker,
                             broker_config=broker_config, name=name, email="bench@localhost")
    profile.set_option("warnings.rabbitmq_version", False)
    config.update_profile(profile)
    config.store()
    rows = []
    try:
        with profile_context(profile, allow_switch=True):
            client = get_daemon_client(profile.name)
            client.start_daemon(number_workers=2)
            get_manager().reset_runner()
            try:
                for workflow, count, function in (("trivial", n_trivial, lambda n: trivial(n)),
                                                  ("cell", n_cells, lambda n: cells(n, workdir))):
                    if count:
                        seconds, ok = function(count)
                        rows.append((kind, workflow, count, ok, seconds, 3600 * ok / seconds))
                        print(f"  {kind:15s} {workflow:8s} {ok}/{count} ok in {seconds:6.1f} s", flush=True)
            finally:
                try:
                    client.stop_daemon(wait=True, timeout=120)
                except Exception as exc:  # a busy machine: say so, the temporary profile goes anyway
                    print(f"  (daemon stop: {exc})", flush=True)
                get_manager().reset_broker()
    finally:
        if database is not None:
            production.drop_database(database.name)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=30, help="trivial workflows per stack")
    parser.add_argument("--cells", type=int, default=3, help="amorphous-cell workflows per stack (at most 6)")
    args = parser.parse_args()
    from aiida_polymer import production

    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f}; 2 daemon workers; N submitted at once")
    stacks = ["sqlite+zeromq"] + (["psql+rabbitmq"] if production.packages_installed() else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="stack-bench-") as workdir:
        for kind in stacks:
            rows += run_stack(kind, args.trivial, min(args.cells, 6), Path(workdir))
    print(f"\n{'stack':15s} {'workflow':8s} {'N':>4s} {'ok':>4s} {'seconds':>8s} {'per hour':>9s}")
    for kind, workflow, count, ok, seconds, per_hour in rows:
        print(f"{kind:15s} {workflow:8s} {count:4d} {ok:4d} {seconds:8.1f} {per_hour:9.0f}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
