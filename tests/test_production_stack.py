"""The production stack under faults: a campaign of light workflows on PostgreSQL + RabbitMQ with 2 daemon workers,
SIGKILLed twice mid-flight, and RabbitMQ restarted once; every workflow ends finished ok, once, with the result of a
clean run, and no step's calcfunction runs twice; then the same faults on a campaign of the pipeline's own
amorphous-cell workflows (AmberTools CalcJobs), whose cells must be those of a clean run.

What the faults do (seen in the worker logs of earlier runs of this test): a worker holds the task of each process it
runs unacknowledged; on the broker restart every held task goes back to the queue and RabbitMQ hands it out again
as soon as the workers reconnect, while they still run those processes (at-least-once delivery, aiida-core #1748).
Run by a second worker, the workflow ran twice at once: a step's calcfunction twice (1 to 14 of 100 workflows), or
the node sealed by one worker and marked excepted by the other (8 of 100 in one run). A duplicate that reaches the
worker running the process is dropped by AiiDA (``DuplicateSubscriberIdentifier``), and every workflow of the
package drops it on every worker (a PostgreSQL advisory lock per workflow, ``aiida_polymer.workchains.exclusive``),
so no workflow runs twice;
but the workflow is then left without a task, and if its worker is killed before it ends nothing resumes it: the
workflows seen "running" for ever in earlier runs. The remedy is an operator's: ``aiida-polymer campaign repair``
(daemon stopped, every active process given exactly one task, daemon started), which the campaign runs itself with
``submit --watch --repair-after``. The test does the same when no workflow has ended for STALL seconds (it reports
each repair; after 2 it fails), and tests the repair itself on the state a lost task leaves.

The services are Debian's, started by scripts/services.sh (root or sudo). Without the packages the test is skipped,
unless CI is set (then it fails). The profile is a throwaway one (its own role and database, dropped afterwards).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiida import orm
from aiida.common.links import LinkType

from aiida_polymer import production
from aiida_polymer.campaign.repair import repair, stalled
from aiida_polymer.stackcheck import KEY, StackCheckController, StackCheckWorkChain, expected, workflows
from aiida_polymer.workchains.exclusive import DROPPED

N = 100  # workflows in the campaign
STALL = 90  # seconds without a workflow ending (40 light ones running) after which the profile is repaired
MAX_CONCURRENT = 40
LABEL = "stack-campaign"


def _require_stack() -> None:
    problem = None
    if not production.packages_installed():
        problem = "Debian's postgresql and rabbitmq-server are not installed (scripts/system-deps.sh installs them)"
    elif os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        problem = "scripts/services.sh needs root or password-less sudo"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set and the production stack cannot run: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def stack(aiida_config, tmp_path_factory):
    """A psql_dos + rabbitmq profile of its own with 2 daemon workers; profile, role, database and queues removed
    after. Not a test profile: AiiDA gives test profiles (``is_test_profile``, as aiida_profile_factory makes them)
    non-durable RabbitMQ queues, which a broker restart deletes with every task in them; production profiles have
    durable queues and persistent task messages."""
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, profile_context

    _require_stack()
    production.services("start")
    name = "aiida_test_" + secrets.token_hex(4)
    database = production.ensure_database(name, secrets.token_urlsafe(18))
    previous = aiida_config.default_profile_name
    storage = database.storage_config(tmp_path_factory.mktemp("repository"))
    profile = None
    try:
        profile = create_profile(aiida_config, storage_backend="core.psql_dos", storage_config=storage,
                                 broker_backend="core.rabbitmq", broker_config=dict(production.RABBITMQ), name=name,
                                 email="test@localhost")
        profile.set_option("warnings.rabbitmq_version", False)  # consumer_timeout is off (scripts/services.sh)
        aiida_config.update_profile(profile)
        aiida_config.store()
        with profile_context(profile, allow_switch=True):
            client = get_daemon_client(profile.name)
            client.start_daemon(number_workers=2)
            get_manager().reset_runner()
            try:
                yield client
            finally:
                _stop_daemon(client)
                if os.environ.get("AIIDA_POLYMER_STACK_LOG"):  # the workers' log, kept for a look at a failure
                    with contextlib.suppress(OSError):
                        shutil.copyfile(client.daemon_log_file, os.environ["AIIDA_POLYMER_STACK_LOG"])
                get_manager().reset_broker()
    finally:
        if profile is not None:
            _delete_queues(profile.uuid)
            aiida_config.remove_profile(name)
        if previous:
            aiida_config.set_default_profile(previous, overwrite=True)
        aiida_config.store()
        production.drop_database(name)


def _stop_daemon(client) -> None:
    """Stop the daemon; circus may not answer in time on a busy machine: then end it by its pid."""
    from aiida.engine.daemon.client import DaemonException

    try:
        if client.is_daemon_running:
            client.stop_daemon(wait=True, timeout=60)
    except DaemonException:
        pid = client.get_daemon_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # circus stops its workers


def _delete_queues(uuid: str) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    listed = subprocess.run([*sudo, "rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True)
    for queue in listed.stdout.split():
        if uuid in queue:
            subprocess.run([*sudo, "rabbitmqctl", "-q", "delete_queue", queue], capture_output=True)


def _kill_workers(client) -> list[int]:
    pids = [int(pid) for pid in client.get_worker_info().get("info", {})]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # circus starts new workers
    return pids


def _exception(node) -> str:
    """The error's type and message (the head of the traceback's last line) and where it was raised."""
    text = (node.exception or "").strip()
    lines = text.splitlines()
    raised = [line for line in lines if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Exit)\w*: ", line)]
    where = [line.strip() for line in lines if line.strip().startswith("File ")][-3:]
    return f"{(raised or lines or [''])[-1][:400]} at {where}"


def _states(nodes) -> Counter:
    return Counter(node.process_state.value if node.process_state else "none" for node in nodes)


def _diagnose(client, nodes, path) -> str:
    """What the workflows left active look like before a repair (written to ``path``): each one's state, checkpoint
    and calcfunctions, the profile's RabbitMQ queues, and the worker log lines that name them."""
    from aiida.manage import get_manager

    def described(node) -> str:
        calls = [(link.link_label, link.node.process_state.value)
                 for link in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()]
        state = node.process_state.value if node.process_state else None
        return f"{node.pk} {state} checkpoint={node.checkpoint is not None} calls={calls}"

    active = [node for node in nodes if not node.is_terminated]
    lines = [f"{len(active)} active: " + ", ".join(described(node) for node in active)]
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    queues = subprocess.run([*sudo, "rabbitmqctl", "-q", "list_queues", "name", "messages_ready",
                             "messages_unacknowledged", "consumers"], capture_output=True, text=True).stdout
    uuid = get_manager().get_profile().uuid
    lines += ["queues (ready, unacknowledged, consumers): " + "; ".join(
        line for line in queues.splitlines() if uuid in line)]
    log = Path(client.daemon_log_file)
    text = log.read_text(errors="replace") if log.exists() else ""
    for node in active:
        named = [line for line in text.splitlines() if f"<{node.pk}>" in line or f"pid={node.pk}" in line]
        lines += [f"log lines naming {node.pk}: {len(named)}", *named[-6:]]
    lines += ["exceptions in the worker log:", *[line for line in text.splitlines()
                                                 if "Traceback" in line or "Error" in line][-40:]]
    path.write_text("\n".join(lines) + "\n\n" + text)
    return lines[0] + "; " + lines[1]


def test_campaign_survives_killed_workers_and_a_broker_restart(stack, tmp_path):
    controller = StackCheckController.over(LABEL, N, MAX_CONCURRENT)
    faults = [(10, "kill"), (40, "broker"), (75, "kill")]  # after that many workflows finished
    done_faults, log, repairs = [], [], []
    start = time.monotonic()
    began = datetime.now(UTC)
    last_progress, finished_before = start, -1
    while True:
        nodes = workflows(LABEL)
        finished = sum(node.is_terminated for node in nodes)
        if faults and finished >= faults[0][0]:
            _, fault = faults.pop(0)
            active = len(nodes) - finished
            if fault == "kill":
                log.append(f"{time.monotonic() - start:.0f} s: SIGKILL workers {_kill_workers(stack)} "
                           f"({finished} finished, {active} active)")
            else:
                log.append(f"{time.monotonic() - start:.0f} s: RabbitMQ restart ({finished} finished, {active} active)")
                production.services("restart-rabbitmq")  # this process's connection reconnects by itself
            done_faults.append(fault)
        if len(nodes) == N and finished == N:
            break
        controller.submit_new_batch(sort=True)
        if finished != finished_before:
            last_progress, finished_before = time.monotonic(), finished
        stuck_for = time.monotonic() - last_progress
        if stuck_for >= STALL and len(repairs) < 2:
            seen = _diagnose(stack, nodes, tmp_path / f"stalled-{len(repairs)}.txt")
            done = repair(stack.profile.name)
            repairs.append(done)
            log.append(f"{time.monotonic() - start:.0f} s: no workflow ended for {stuck_for:.0f} s ({seen}); "
                       f"repair: {done.summary()} (details: {tmp_path})")
            last_progress = time.monotonic()
        elif stuck_for >= STALL:
            pytest.fail(f"no workflow ended for {stuck_for:.0f} s after {len(repairs)} repairs: {_states(nodes)}; "
                        f"{log}")
        time.sleep(1)
    elapsed = time.monotonic() - start
    print(f"\n{N} workflows in {elapsed:.0f} s through {done_faults}: " + "; ".join(log))
    assert done_faults == ["kill", "broker", "kill"]

    nodes = workflows(LABEL)
    keys = [node.base.extras.get(KEY) for node in nodes]
    assert len(nodes) == N and len(set(keys)) == N
    everything = orm.QueryBuilder().append(orm.WorkflowNode, filters={
        "process_type": {"like": f"%{StackCheckWorkChain.__name__}"}}).count()
    assert everything == N  # no workflow submitted twice
    assert all(node.is_finished_ok for node in nodes), (_states(nodes), [
        (node.pk, node.process_state.value, node.exit_status, _exception(node))
        for node in nodes if not node.is_finished_ok], log)

    # each step's calcfunction finished once; one killed while running stays behind unsealed, never finished
    reused = orphans = dropped = 0
    duplicates = []
    for node in nodes:
        calls = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
        finished = Counter(link.link_label for link in calls if link.node.is_finished_ok)
        assert set(finished) == {"add", "double"}, (node.pk, [(c.link_label, c.node.process_state) for c in calls])
        orphans += sum(not link.node.is_terminated for link in calls)
        messages = [entry.message for entry in orm.Log.collection.get_logs_for(node)]
        reused += sum("reusing" in message for message in messages)
        dropped += sum(DROPPED in message for message in messages)
        if max(finished.values()) > 1:
            duplicates.append((node.pk, [(c.link_label, c.node.pk, f"{(c.node.ctime - began).total_seconds():.0f} s")
                                         for c in calls if c.node.is_finished_ok]))
    print(f"steps resumed with their earlier calcfunction: {reused}; calcfunctions killed mid-run: {orphans}; "
          f"redelivered tasks of a workflow another worker ran, dropped: {dropped}; repairs: {len(repairs)}")
    assert not duplicates, f"a step's calcfunction ran twice (pk, [(step, pk, time since start)]): {duplicates}; {log}"
    # the results of a clean run (the same workflow run here, without faults) for a few, the formula for all
    from aiida.engine import run

    for x in (0, N // 2, N - 1):
        assert run(StackCheckWorkChain, x=orm.Int(x))["result"].value == expected(x)
    assert {node.base.extras.get(KEY): node.outputs.result.value for node in nodes} == {
        key: expected(int(key[1:])) for key in keys}


def test_repair_gives_every_active_process_one_task(stack):
    """campaign repair on the state a lost task leaves: a workflow with its checkpoint and no task (what a dropped
    redelivery leaves once its worker dies) is revived; a second task of one workflow and a task of a workflow that
    has ended are dropped; each ends once, finished ok, each calcfunction run once."""
    from aiida.engine import run, submit
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    _stop_daemon(stack)
    manager = get_manager()
    runner = manager.get_runner()
    lost = instantiate_process(runner, StackCheckWorkChain, x=orm.Int(7))  # as submit does, without the task
    runner.persister.save_checkpoint(lost)
    lost.close()
    twice = submit(StackCheckWorkChain, x=orm.Int(8))
    manager.get_process_controller().continue_process(twice.pk, nowait=False, no_reply=True)
    ended = run(StackCheckWorkChain, x=orm.Int(9))
    ended_node = orm.QueryBuilder().append(orm.Int, filters={"id": ended["result"].pk}, tag="r").append(
        orm.WorkflowNode, with_outgoing="r").one()[0]
    manager.get_process_controller().continue_process(ended_node.pk, nowait=False, no_reply=True)

    done = repair(stack.profile.name)  # the daemon is stopped: repair leaves it so
    print(f"\nrepair: {done.summary()}")
    assert done.revived == [lost.node.pk]
    assert sorted(done.dropped) == sorted([twice.pk, ended_node.pk]) and done.tasks == 3
    stack.start_daemon(number_workers=2)
    deadline = time.monotonic() + 300
    nodes = [orm.load_node(lost.node.pk), orm.load_node(twice.pk)]
    while not all(node.is_terminated for node in nodes) and time.monotonic() < deadline:
        time.sleep(2)
    assert all(node.is_finished_ok for node in nodes), _states(nodes)
    assert [node.outputs.result.value for node in nodes] == [expected(7), expected(8)]
    for node in nodes:
        calls = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
        assert sorted(link.link_label for link in calls) == ["add", "double"]


CELL_UNITS = ("*CC*", "*CC(*)C", "*CC(*)F", "*CC(*)Cl", "*CC(*)Br", "*CC(*)C#N", "*CC(*)OC", "*CC(*)CC", "*CC(*)(C)C",
              "*CC(*)CO", "*CO*", "*CCO*", "*CCCO*", "*C(F)(F)C(*)F", "*CC(*)C(C)=O", "*CC(*)SC")


CELL_STALL = 120  # seconds without any change to an active cell workflow or its descendants: repair


def test_cell_campaign_survives_killed_workers_and_a_broker_restart(stack, tmp_path):
    """The pipeline's own workflows through the same faults: a campaign of amorphous-cell workflows (AmberTools
    typing as CalcJobs, cell building as calcfunctions; ``--workflow cell --protocol fast``), the workers SIGKILLed
    twice and RabbitMQ restarted once while they run; a workflow left without a task (a redelivery dropped, then its
    worker killed) is revived by the operator's repair, as above. Every polymer once, finished ok, no CalcJob
    submitted twice by a workflow (a step run again after its worker died reuses its job), and the cells those
    workflows built are the cells a clean run builds."""
    from aiida.engine import run
    from aiida.manage.caching import disable_caching

    from aiida_polymer.campaign import submit_campaign
    from aiida_polymer.campaign.submission import KEY as CAMPAIGN_KEY
    from aiida_polymer.campaign.submission import group_workflows
    from aiida_polymer.codes import ensure_codes, localhost

    ensure_codes(localhost(workdir=str(tmp_path / "scratch")))
    library = tmp_path / "library.csv"
    library.write_text("id,smiles\n" + "".join(f"c{i:02d},{smiles}\n" for i, smiles in enumerate(CELL_UNITS)))
    count = len(CELL_UNITS)
    faults = [(count // 4, "kill"), (count // 2, "broker"), (count * 3 // 4, "kill")]
    log, repairs, start = [], [], time.monotonic()
    last = start
    while True:
        submit_campaign("cell-faults", library, workflow="cell", protocol="fast", max_concurrent=8)
        nodes = group_workflows(orm.Group.collection.get(label="cell-faults"), "*").all(flat=True)
        ended = sum(node.is_terminated for node in nodes)
        if faults and ended >= faults[0][0]:
            fault = faults.pop(0)[1]
            if fault == "kill":
                log.append(f"{time.monotonic() - start:.0f} s: SIGKILL workers {_kill_workers(stack)} ({ended} ended)")
            else:
                production.services("restart-rabbitmq")
                log.append(f"{time.monotonic() - start:.0f} s: RabbitMQ restart ({ended} ended)")
        if len(nodes) == count and ended == count:
            break
        if stalled(nodes, CELL_STALL) and time.monotonic() - last > CELL_STALL:  # tasks lost: the operator's repair
            seen = _diagnose(stack, nodes, tmp_path / f"stalled-{len(repairs)}.txt")
            if len(repairs) == 2:
                pytest.fail(f"no cell workflow changed for {CELL_STALL} s after 2 repairs: {seen}; {log}")
            repairs.append(repair(stack.profile.name))
            log.append(f"{time.monotonic() - start:.0f} s: nothing changed for {CELL_STALL} s ({seen}); "
                       f"repair: {repairs[-1].summary()}")
            last = time.monotonic()
        time.sleep(2)
    print(f"\n{count} cell workflows in {time.monotonic() - start:.0f} s, {len(repairs)} repairs: " + "; ".join(log))
    assert not faults, log

    keys = Counter(node.base.extras.get(CAMPAIGN_KEY) for node in nodes)
    everything = orm.QueryBuilder().append(orm.WorkflowNode, filters={
        "process_type": "aiida.workflows:polymer.amorphous_cell"}).count()
    assert len(keys) == count == everything  # every polymer once, none submitted twice
    assert all(node.is_finished_ok for node in nodes), (_states(nodes), [
        (node.pk, node.process_state.value, node.exit_status, _exception(node)) for node in nodes
        if not node.is_finished_ok], log)
    for node in nodes:
        jobs = Counter(link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
                       if isinstance(link.node, orm.CalcJobNode))
        assert jobs and max(jobs.values()) == 1, (node.pk, jobs)  # no job of a step submitted twice

    # the cells of a clean run (the same inputs, in this process, nothing faulted, nothing taken from the cache)
    for node in (nodes[0], nodes[count // 2], nodes[-1]):
        with disable_caching():
            clean = run(node.get_builder_restart())
        for name in ("data_file", "template"):
            assert clean[name].get_content() == getattr(node.outputs, name).get_content(), (node.pk, name)
        assert clean["structure"].get_ase() == node.outputs.structure.get_ase()
