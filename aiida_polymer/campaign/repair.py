"""Repair of a profile whose active processes have no task in RabbitMQ (they would stay "running" for ever).

A process runs in a daemon worker while the worker holds its task unacknowledged; the task is what brings the
process back (from its checkpoint) when a worker dies. A RabbitMQ restart or a lost connection can leave an active
process without any task: nothing will ever continue it. RabbitMQ only shows the tasks that no worker holds, so the
comparison of active processes and tasks is sound with the daemon stopped only (as for ``verdi process repair``,
which refuses to run while the daemon runs). :func:`repair` therefore

1. stops the daemon (its workers' tasks return to the queue) and waits until the launch queue has no consumer;
2. reads every task in the queue: a task of a terminated process, or a second task of the same process, is
   acknowledged (dropped); each active process without a task gets one (a ``continue`` task, as ``submit`` sends);
   process functions (calcfunctions, workfunctions) are left alone: they cannot be continued, and one killed while
   it ran stays unsealed;
3. starts the daemon again with as many workers as before.

``aiida-polymer campaign repair NAME`` runs it for the campaign's profile; ``campaign submit --watch --repair-after
SECONDS`` runs it when no workflow of the campaign has changed for that long. Only the ``core.rabbitmq`` broker is
handled (with AiiDA's ZeroMQ broker, use ``verdi process repair`` with the daemon stopped).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from dataclasses import dataclass, field


class RepairError(RuntimeError):
    """The repair could not be done; the message says why."""


@dataclass
class Repair:
    active: list[int] = field(default_factory=list)  # active processes (process functions apart)
    tasks: int = 0  # tasks in the queue with the daemon stopped
    revived: list[int] = field(default_factory=list)  # active processes without a task: given one
    dropped: list[int] = field(default_factory=list)  # tasks of terminated processes, or duplicates
    workers: int = 0  # daemon workers before and after
    seconds: float = 0.0
    dry_run: bool = False

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        return (f"{len(self.active)} active processes, {self.tasks} tasks with the daemon stopped; "
                f"{would}revived (no task): {self.revived or 'none'}; {would}dropped tasks: {self.dropped or 'none'}; "
                f"daemon with {self.workers} workers, {self.seconds:.0f} s")


def _queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``: a passive declare on a connection of its own, in a thread of its
    own (so no event loop of this process's AiiDA runner is touched)."""

    async def counts() -> tuple[int, int]:
        import aio_pika

        connection = await aio_pika.connect(url, timeout=30)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            result = declared.declaration_result
            return result.message_count, result.consumer_count

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, counts()).result(timeout=120)


def _stop(client, timeout: float) -> None:
    import os
    import signal

    from aiida.engine.daemon.client import DaemonException

    try:
        client.stop_daemon(wait=True, timeout=timeout)
    except DaemonException:  # circus did not answer in time on a busy machine: end it by its pid
        pid = client.get_daemon_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # circus stops its workers
        deadline = time.monotonic() + timeout
        while client.is_daemon_running and time.monotonic() < deadline:
            time.sleep(1)
        if client.is_daemon_running:
            raise RepairError(f"the daemon of profile {client.profile.name!r} did not stop") from None


def repair(profile_name: str | None = None, *, dry_run: bool = False, timeout: float = 180.0) -> Repair:
    """Stop the daemon, give every active process of the profile exactly one task, start the daemon again (with as
    many workers as it had; not started if it was not running). ``dry_run``: stop and start it all the same, but
    change nothing in the queue."""
    from aiida.brokers.rabbitmq.broker import RabbitmqBroker
    from aiida.brokers.rabbitmq.utils import get_launch_queue_name
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.engine.processes.control import get_active_processes
    from aiida.manage import get_manager

    start = time.monotonic()
    manager = get_manager()
    profile = manager.get_profile() if profile_name is None else manager.load_profile(profile_name)
    broker = manager.get_broker()
    if not isinstance(broker, RabbitmqBroker):
        raise RepairError(f"profile {profile.name!r} has the {profile.process_control_backend} broker: this repair is "
                          f"for core.rabbitmq (use verdi process repair with the daemon stopped)")
    client = get_daemon_client(profile.name)
    result = Repair(dry_run=dry_run)
    if client.is_daemon_running:
        result.workers = int(client.get_numprocesses().get("numprocesses", 1))
        _stop(client, timeout)
    queue = get_launch_queue_name(f"aiida-{profile.uuid}")
    url = broker.get_url()
    deadline = time.monotonic() + timeout
    while True:  # a killed worker's connection may linger a moment; its tasks return to the queue when it closes
        _, consumers = _queue_counts(url, queue)
        if consumers == 0:
            break
        if time.monotonic() > deadline:
            raise RepairError(f"{consumers} consumers still on {queue} with the daemon stopped: another daemon or "
                              f"worker of this profile runs; stop it first")
        time.sleep(2)
    try:
        from aiida import orm

        functions = set(orm.QueryBuilder().append(orm.ProcessNode, filters={
            "node_type": {"or": [{"like": "process.calculation.calcfunction.%"},
                                 {"like": "process.workflow.workfunction.%"}]},
            "attributes.process_state": {"in": ["created", "waiting", "running"]}}, project="id").all(flat=True))
        active = sorted(set(get_active_processes(project="id")) - functions)
        result.active = active
        seen: set[int] = set()
        for task in broker.iterate_tasks():  # the tasks not acknowledged here go back to the queue
            result.tasks += 1
            pid = task.body.get("args", {}).get("pid") if isinstance(task.body, dict) else None
            if pid in seen or pid not in active:
                result.dropped.append(pid)
                if not dry_run:
                    with task.processing() as outcome:
                        outcome.set_result(False)
            else:
                seen.add(pid)
        result.revived = [pid for pid in active if pid not in seen]
        if result.revived and not dry_run:
            controller = manager.get_process_controller()
            for pid in result.revived:
                controller.continue_process(pid, nowait=False, no_reply=True)
    finally:
        if result.workers:
            client.start_daemon(number_workers=result.workers)
    result.seconds = time.monotonic() - start
    return result


def stalled(nodes, quiet_for: float) -> bool:
    """Whether there are active processes among ``nodes`` and none of them (or their descendants) changed in the
    last ``quiet_for`` seconds."""
    from datetime import UTC, datetime, timedelta

    from aiida import orm

    active = [node.pk for node in nodes if not node.is_terminated]
    if not active:
        return False
    latest = orm.QueryBuilder().append(orm.ProcessNode, filters={"id": {"in": active}}, tag="p").append(
        orm.ProcessNode, with_ancestors="p", project="mtime").all(flat=True)
    latest += [node.mtime for node in nodes if node.pk in set(active)]
    return max(latest) < datetime.now(UTC) - timedelta(seconds=quiet_for)
