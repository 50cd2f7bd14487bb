"""The pipeline's own workflows under faults: a campaign of amorphous-cell workflows (``--workflow cell --protocol
fast``: AmberTools typing + LAMMPS packing, one polymer each) on PostgreSQL + RabbitMQ with 2 daemon workers, the
workers SIGKILLed twice and RabbitMQ restarted once mid-flight (the faults of tests/test_production_stack.py, on
real work instead of the light stack-check workflow).

It prints what each fault hit, then checks: every polymer of the library has exactly one workflow, finished ok;
no workflow ran twice at once (the advisory lock of :mod:`aiida_polymer.workchains.exclusive`: redelivered tasks
dropped are counted); and each workflow's CalcJobs by call label — a step resumed after its worker was killed
before its checkpoint runs again (AiiDA's steps are at-least-once) and reuses the process it had submitted
(:meth:`~aiida_polymer.workchains.exclusive.Exclusive.submit`, counted), or, without that, submits it twice
(counted as resubmitted). A stall
(no workflow ended for ``--stall`` s) is repaired with :func:`aiida_polymer.campaign.repair.repair`, at most twice::

    .venv/bin/python benchmarks/campaign_faults.py [--count 100] [--max-concurrent 8] [--stall 600]

The library (``--count`` distinct repeat units, canonical keys all different) is made from substituents on a
vinyl backbone and a few main-chain families. Needs scripts/services.sh (root or sudo). A throwaway profile (its own
database, dropped afterwards) in a temporary AIIDA_PATH.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
os.environ["AIIDA_PATH"] = tempfile.mkdtemp(prefix="campaign-faults-")

SUBSTITUENTS = ("C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCC", "C(C)C", "CC(C)C", "C(C)(C)C", "F", "Cl", "Br", "C#N",
                "OC", "OCC", "OCCC", "OCCCC", "C(=O)OC", "C(=O)OCC", "C(=O)OCCC", "C(=O)OCCCC", "OC(=O)C",
                "OC(=O)CC", "C(=O)C", "C(=O)N", "C(=O)NC", "c1ccccc1", "c1ccc(C)cc1", "c1ccc(Cl)cc1",
                "c1ccc(F)cc1", "c1ccncc1", "C1CCCCC1", "CO", "CCO", "CCl", "CF", "C(F)(F)F", "OC(C)C", "SC", "N(C)C")


def library(count: int) -> str:
    """A CSV of ``count`` polymers with distinct canonical repeat units."""
    from aiida_polymer.campaign.identity import canonical_repeat_unit

    candidates = [f"*CC(*){r}" for r in SUBSTITUENTS] + [f"*CC(*)(C){r}" for r in SUBSTITUENTS]
    candidates += ["*" + "C" * n + "O*" for n in range(1, 8)] + ["*" + "C" * n + "OC(=O)*" for n in range(1, 8)]
    candidates += ["*" + "C" * n + "NC(=O)*" for n in range(2, 8)] + ["*C(F)(F)C(*)" + r for r in SUBSTITUENTS]
    seen, rows = set(), []
    for smiles in candidates:
        key = canonical_repeat_unit(smiles)
        if key not in seen:
            seen.add(key)
            rows.append(f"u{len(rows):03d},{smiles}")
        if len(rows) == count:
            return "id,smiles\n" + "\n".join(rows) + "\n"
    raise SystemExit(f"only {len(rows)} distinct repeat units available, asked for {count}")


def kill_workers(client) -> list[int]:
    pids = [int(pid) for pid in client.get_worker_info().get("info", {})]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # circus starts new workers
    return pids


def check(label: str, count: int, log: list[str]) -> None:
    from aiida import orm
    from aiida.common.links import LinkType

    from aiida_polymer.campaign.submission import KEY, group_workflows
    from aiida_polymer.workchains.exclusive import DROPPED

    group = orm.Group.collection.get(label=label)
    nodes = group_workflows(group, "*").all(flat=True)
    keys = Counter(node.base.extras.get(KEY) for node in nodes)
    states = Counter("finished ok" if node.is_finished_ok else
                     f"{node.process_state.value if node.process_state else None} {node.exit_status}" for node in nodes)
    everything = orm.QueryBuilder().append(orm.WorkflowNode, filters={
        "process_type": "aiida.workflows:polymer.amorphous_cell"}).count()
    resubmitted, dropped, reused, calcjobs = [], 0, 0, 0
    for node in orm.QueryBuilder().append(orm.WorkflowNode).all(flat=True):
        jobs = Counter(link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
                       if isinstance(link.node, orm.CalcJobNode))
        calcjobs += sum(jobs.values())
        resubmitted += [(node.pk, node.process_label, label, n) for label, n in jobs.items() if n > 1]
        messages = [entry.message for entry in orm.Log.collection.get_logs_for(node)]
        dropped += sum(DROPPED in message for message in messages)
        reused += sum(": reusing " in message for message in messages)
    print("\nfaults: " + "; ".join(log))
    print(f"polymers {count}; workflows in the group {len(nodes)} (distinct keys {len(keys)}); amorphous-cell "
          f"workflows in the profile {everything}; states {dict(states)}")
    print(f"CalcJobs {calcjobs}; a call label used twice by one workflow (a step resubmitted): {len(resubmitted)} "
          f"{resubmitted[:10]}; steps run again that reused their process: {reused}; redelivered tasks dropped by "
          f"the lock: {dropped}")
    for node in nodes:
        if not node.is_finished_ok:  # what went wrong, for the note
            children = [(link.link_label, link.node.pk, link.node.process_state.value if link.node.process_state
                         else None, link.node.exit_status) for link in node.base.links.get_outgoing(
                             link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()]
            print(f"not ok: {node.pk} {node.process_state} {node.exit_status} {node.exit_message!r} "
                  f"children {children}")
            for failed in [node, *(link.node for link in node.base.links.get_outgoing().all()
                                   if isinstance(link.node, orm.ProcessNode) and link.node.is_excepted)]:
                print(f"  exception of {failed.pk}: " + (failed.exception or "")[-1200:].replace("\n", "\n  "))
            for entry in orm.Log.collection.get_logs_for(node):
                print(f"  log: {entry.message[:300]}")
    ok = len(nodes) == count == len(keys) == everything and states == Counter({"finished ok": count})
    print("RESULT: " + ("every polymer once, finished ok" if ok else "FAILED"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--max-concurrent", type=int, default=8)
    parser.add_argument("--stall", type=float, default=600.0, help="seconds without a workflow ending: repair")
    args = parser.parse_args()

    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, profile_context

    from aiida_polymer import production
    from aiida_polymer.campaign import submit_campaign
    from aiida_polymer.campaign.repair import repair
    from aiida_polymer.campaign.submission import group_workflows
    from aiida_polymer.codes import ensure_codes, localhost

    workdir = Path(tempfile.mkdtemp(prefix="campaign-faults-work-"))
    (workdir / "library.csv").write_text(library(args.count))
    production.services("start")
    name = "bench_faults_" + secrets.token_hex(3)
    database = production.ensure_database(name, secrets.token_urlsafe(18))
    config = get_config(create=True)
    profile = create_profile(config, storage_backend="core.psql_dos",
                             storage_config=database.storage_config(workdir / "repository"),
                             broker_backend="core.rabbitmq", broker_config=dict(production.RABBITMQ), name=name,
                             email="bench@localhost")
    profile.set_option("warnings.rabbitmq_version", False)
    config.update_profile(profile)
    config.store()
    label = "faults"
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.count} cell workflows (fast), "
          f"max {args.max_concurrent} at once, 2 daemon workers", flush=True)
    try:
        with profile_context(profile, allow_switch=True):
            from aiida import orm

            ensure_codes(localhost(workdir=str(workdir / "scratch")))
            client = get_daemon_client(profile.name)
            client.start_daemon(number_workers=2)
            get_manager().reset_runner()
            faults = [(args.count // 10, "kill"), (args.count * 4 // 10, "broker"), (args.count * 3 // 4, "kill")]
            log: list[str] = []
            start = time.monotonic()
            last, before, repairs = start, -1, 0
            try:
                while True:
                    submit_campaign(label, workdir / "library.csv", workflow="cell", protocol="fast",
                                    max_concurrent=args.max_concurrent)
                    nodes = group_workflows(orm.Group.collection.get(label=label), "*").all(flat=True)
                    ended = sum(node.is_terminated for node in nodes)
                    now = time.monotonic() - start
                    if faults and ended >= faults[0][0]:
                        fault = faults.pop(0)[1]
                        if fault == "kill":
                            log.append(f"{now:.0f} s: SIGKILL workers {kill_workers(client)} ({ended} ended, "
                                       f"{len(nodes) - ended} active)")
                        else:
                            production.services("restart-rabbitmq")
                            log.append(f"{now:.0f} s: RabbitMQ restart ({ended} ended, {len(nodes) - ended} active)")
                        print(log[-1], flush=True)
                    if len(nodes) == args.count and ended == args.count:
                        break
                    if ended != before:
                        last, before = time.monotonic(), ended
                        print(f"{now:.0f} s: {ended}/{args.count} ended", flush=True)
                    if time.monotonic() - last > args.stall:
                        if repairs == 2:
                            log.append(f"{now:.0f} s: stalled after 2 repairs")
                            break
                        done = repair(profile.name)
                        repairs += 1
                        log.append(f"{now:.0f} s: no workflow ended for {args.stall:.0f} s; repair: {done.summary()}")
                        print(log[-1], flush=True)
                        last = time.monotonic()
                    time.sleep(5)
                print(f"wall {time.monotonic() - start:.0f} s", flush=True)
                check(label, args.count, log)
            finally:
                try:
                    client.stop_daemon(wait=True, timeout=120)
                except Exception as exc:  # a busy machine: the temporary profile goes anyway
                    print(f"(daemon stop: {exc})")
                get_manager().reset_broker()
    finally:
        production.drop_database(database.name)


if __name__ == "__main__":
    main()
