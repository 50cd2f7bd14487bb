"""Queries of the polymer database at 10^5 polymers on PostgreSQL: the full table and two-condition filters
(aiida_polymer.database.query), and the storage per polymer.

A throwaway ``core.psql_dos`` profile in a temporary AIIDA_PATH (its own role and database, dropped afterwards;
no broker), filled with N synthetic polymers (aiida_polymer.database.synthetic: workflow node with the key,
library and property-summary extras, merge_properties calcfunction, properties Dict of every property, group
membership) by bulk insert, then ``ANALYZE`` (what autovacuum does to a database that grew). Each query is timed
``--repeat`` times; figures only, no assertions (targets: full table <= 2 s, two-condition filter <= 0.5 s). Per
query: the first run, the best, the CPU time of this process (Python and the driver; the database server's is not
in it) in the best run, with ``--server-cpu`` the PostgreSQL backend's CPU time in it (parallel workers off; read
from ``/proc``: on a shared machine the wall time is not the work), and the load average after it::

    .venv/bin/python benchmarks/database_queries.py [--polymers 100000] [--repeat 3] [--keep DIR] [--drop] [--cases 1,3]
        [--server-cpu]

``--keep DIR``: the profile lives in DIR (its AIIDA_PATH) and in the database ``bench_queries_keep_N`` and is kept
afterwards; a later run with the same DIR and N reuses it instead of generating the polymers again (while
iterating on the queries; the 10^5 take minutes). ``--keep DIR --drop`` drops that database and DIR.

Needs scripts/services.sh to work (root or sudo) to start PostgreSQL.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

LABEL = "bench-synthetic"


def timed(function, repeat: int, server=None) -> tuple[float, float, float, float, object]:
    """(first wall time, best wall time, this process's CPU time and the server's (``server()``: CPU seconds so far;
    NaN without) in the best run, the last result)."""
    times, result = [], None
    server = server or (lambda: math.nan)
    for _ in range(repeat):
        served = server()
        start, cpu = time.perf_counter(), time.process_time()
        result = function()
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        times.append((wall, used, server() - served))
    return times[0][0], *min(times), result


def backend_cpu():
    """A function giving the CPU seconds so far of the PostgreSQL backend of the profile storage's session (its
    ``/proc`` stat), after turning its parallel workers off so that the backend does all of the server's work."""
    from aiida.manage import get_manager
    from sqlalchemy import text

    session = get_manager().get_profile_storage().get_session()
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    session.execute(text("SET max_parallel_workers_per_gather = 0"))
    session.commit()
    tick = os.sysconf("SC_CLK_TCK")

    def seconds() -> float:
        if session.execute(text("SELECT pg_backend_pid()")).scalar() != pid:
            return math.nan  # another connection of the pool: not measured
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return seconds


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polymers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the profile in DIR; reuse it if there")
    parser.add_argument("--drop", action="store_true", help="with --keep: drop the kept profile and stop")
    parser.add_argument("--cases", help="only these queries, by number from 1, comma-separated (default: all)")
    parser.add_argument("--server-cpu", action="store_true", help="also the PostgreSQL backend's CPU time per query "
                        "(its parallel workers turned off)")
    args = parser.parse_args()
    if args.drop and not args.keep:
        parser.error("--drop needs --keep DIR")
    workdir = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="database-queries-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["AIIDA_PATH"] = str(workdir)

    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, profile_context

    from aiida_polymer import production

    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.polymers} synthetic polymers")
    production.services("start")
    name = f"bench_queries_keep_{args.polymers}" if args.keep else f"bench_queries_{secrets.token_hex(3)}"
    repository = workdir / name / "repository"
    config = get_config(create=True)
    kept = name in config.profile_names
    if args.drop:
        production.drop_database(name)
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"dropped {name} and {workdir}")
        return
    if kept:
        profile = config.get_profile(name)
        database = production.ensure_database(name, profile.storage_config["database_password"])
    else:
        database = production.ensure_database(name, secrets.token_urlsafe(18))
    try:
        if not kept:
            profile = create_profile(config, storage_backend="core.psql_dos", storage_config=database.storage_config(
                repository), broker_backend=None, broker_config=None, name=name, email="bench@localhost")
            config.update_profile(profile)
            config.store()
        with profile_context(profile, allow_switch=True):
            try:
                run(args, database.name, repository, generate=not kept)
            finally:
                get_manager().get_profile_storage().close()  # before its database is dropped
    finally:
        if not args.keep:
            production.drop_database(database.name)
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, database: str, repository: Path, generate: bool = True) -> None:
    from aiida import orm

    from aiida_polymer import production
    from aiida_polymer.database import query
    from aiida_polymer.database.synthetic import synthetic_campaign

    def db_size() -> int:
        return int(production.psql(f"SELECT pg_database_size('{database}')"))

    start = time.perf_counter()

    def progress(done: int) -> None:
        if done % 20_000 == 0 or done == args.polymers:
            print(f"  {done:7d} polymers stored, {time.perf_counter() - start:6.1f} s", flush=True)

    if generate:
        empty = db_size()
        synthetic_campaign(args.polymers, LABEL, progress=progress, batch=5000)
        made = time.perf_counter() - start
        production.psql("ANALYZE", database=database)
        repository.parent.mkdir(parents=True, exist_ok=True)  # the empty profile's size, kept for reuses
        (repository.parent / "empty-size").write_text(str(empty))
        print(f"generated in {made:.1f} s ({args.polymers / made:.0f} polymers/s)")
    else:
        empty = int((repository.parent / "empty-size").read_text())
        print(f"reusing the kept profile {database}")
    nodes = orm.QueryBuilder().append(orm.Node).count()
    total = db_size()
    print(f"{nodes} nodes")

    n = args.polymers
    from aiida_polymer.database.query import PROPERTIES

    cases = [
        (f"full table (default columns: pk, key fields, state, {len(PROPERTIES)} values)", lambda: query(LABEL)),
        (f"full table, every column ({4 * len(PROPERTIES)} property columns, flags, uuids, library ids)",
         lambda: query(LABEL, columns=list(query_columns()))),
        ("filter density>1.1 & thermal_conductivity>=0.3 (~1/3 of the rows)",
         lambda: query(LABEL, where=["density>1.1", "thermal_conductivity>=0.3"])),
        ("filter density>1.45 & thermal_conductivity>=0.55, sort -thermal_conductivity (~1/150)",
         lambda: query(LABEL, where=["density>1.45", "thermal_conductivity>=0.55"], sort="-thermal_conductivity")),
        ("filter protocol==precise & density>1.4, 3 columns, whole profile",
         lambda: query(where=["protocol==precise", "density>1.4"], columns=["smiles", "density", "rg"])),
    ]
    if args.cases:
        cases = [cases[int(i) - 1] for i in args.cases.split(",")]
    server = backend_cpu() if args.server_cpu else None
    print(f"\n{'query':88s} {'rows':>7s} {'first s':>8s} {'best s':>7s} {'CPU s':>6s} {'server':>6s} {'load':>5s}")
    for title, function in cases:
        first, best, cpu, served, frame = timed(function, args.repeat, server)
        print(f"{title:88s} {len(frame):7d} {first:8.3f} {best:7.3f} {cpu:6.3f} {served:6.2f} "
              f"{os.getloadavg()[0]:5.1f}", flush=True)
    print(f"\nPostgreSQL database: {total / 1e6:.1f} MB for {n} polymers = {total / n / 1024:.2f} KiB per polymer "
          f"({(total - empty) / n / 1024:.2f} KiB above the empty profile's {empty / 1e6:.1f} MB)")
    print(f"file repository: {size(repository) / 1e6:.2f} MB ({size(repository) / n:.0f} B per polymer; the "
          "synthetic polymers have no files)")
    print(f"load average now {os.getloadavg()[0]:.1f}")


def query_columns():
    from aiida_polymer.database.query import COLUMNS

    return COLUMNS


if __name__ == "__main__":
    main()
