"""One daemon worker per process (workflow or calculation job), whatever the broker redelivers.

RabbitMQ delivers a task at least once: after a broker restart it hands the task of a process that a worker still
runs to another worker (aiida-core issue #1748), and two workers running one workflow write over each other's node
(a step run twice, so its CalcJobs submitted twice; a workflow sealed by one and marked excepted by the other).
AiiDA itself drops such a duplicate task when it reaches the worker that runs the process
(``DuplicateSubscriberIdentifier``). :class:`Exclusive` extends that to every worker on PostgreSQL: a worker that
loads the workflow takes PostgreSQL's session-level advisory lock on its pk (on a connection of its own, released
when the workflow closes, or by PostgreSQL when the worker dies) and, if another worker holds it, drops the task as
AiiDA does. The workflow then has no task of its own until it ends; if its worker is killed before that, nothing
resumes it: that is what :func:`aiida_polymer.campaign.repair.repair` mends (``aiida-polymer campaign repair``).
On SQLite (ZeroMQ broker, no redelivery to another worker) there is no lock.

AiiDA checkpoints a workchain between its steps, so a worker killed after a step submitted a process but before the
checkpoint was saved runs that step again when the workflow is resumed (at-least-once steps): the process would be
submitted twice (seen once in 100 amorphous-cell workflows through killed workers, benchmarks/campaign_faults.py).
:meth:`Exclusive.submit` therefore reuses the process of that call label the workflow already called: the package's
workchains give every process they submit a label of its own (a stage's name, ``iteration_NN``, ``charges_i``).
A submission whose task could not be sent because RabbitMQ was restarting (the child stored with its checkpoint, the
step about to fail, the workflow to end excepted: seen once in 100 cell workflows) sends the task again once the
broker is back.

Every workchain and calculation job of the pipeline (AmberTools as ``polymer.amber``, aiida-shell's ShellJob with the
lock) and the stack check (:mod:`aiida_polymer.stackcheck`) derive from it: a calculation job run by two workers at
once was seen to except (1 of 100 cell workflows through the faults of benchmarks/campaign_faults.py).
"""

from __future__ import annotations

from typing import Any

import kiwipy

LOCK_CLASS = 0x41504C59  # the first key of the advisory locks ("APLY"); the second is the process's pk
KEYS = "(CAST(:c AS integer), CAST(:pk AS integer))"
DROPPED = "dropped a redelivered task: another daemon worker runs this process (it holds its lock)"


class _ProcessLocks:
    """The advisory locks this interpreter (a daemon worker) holds, on one autocommit connection of its own."""

    def __init__(self):
        self.connection = None
        self.held: set[int] = set()

    def _connection(self):
        from aiida.manage import get_manager
        from aiida.storage.psql_dos.backend import PsqlDosBackend

        storage = get_manager().get_profile_storage()
        if type(storage) is not PsqlDosBackend:  # SqliteDosBackend derives from it
            return None
        if self.connection is None or self.connection.closed:
            engine = storage.get_session().get_bind()
            self.connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.held.clear()
        return self.connection

    def take(self, pk: int) -> bool:
        """Whether this worker may run workflow ``pk``: it holds (or now took) its lock, or there are no locks."""
        from sqlalchemy import text

        connection = self._connection()
        if connection is None or pk in self.held:
            return True
        if connection.execute(text(f"SELECT pg_try_advisory_lock{KEYS}"), {"c": LOCK_CLASS, "pk": pk}).scalar():
            self.held.add(pk)
            return True
        return False

    def release(self, pk: int) -> None:
        from sqlalchemy import text

        if pk in self.held and self.connection is not None and not self.connection.closed:
            self.connection.execute(text(f"SELECT pg_advisory_unlock{KEYS}"), {"c": LOCK_CLASS, "pk": pk})
        self.held.discard(pk)


LOCKS = _ProcessLocks()


class Exclusive:
    """Mixin for a WorkChain or CalcJob (first in the bases): run only by the worker that holds the process's lock."""

    def load_instance_state(self, saved_state, load_context):
        """Take the lock before anything of the process is recreated: a worker that does not hold it leaves the node
        alone (no state recreated, nothing logged but the drop, nothing that could fail and mark it excepted while
        its owner runs it)."""
        pk = saved_state.get(self.SaveKeys.CALC_ID.value)
        if pk is not None and not LOCKS.take(pk):
            from aiida import orm

            orm.load_node(pk).logger.report(DROPPED)
            raise kiwipy.DuplicateSubscriberIdentifier(f"process<{pk}> runs in another daemon worker")
        super().load_instance_state(saved_state, load_context)

    def on_close(self):
        super().on_close()
        LOCKS.release(self.node.pk)

    def submit(self, process, inputs: dict[str, Any] | None = None, **kwargs):
        """Submit ``process``, or return the one of the same call label an interrupted attempt of this step
        submitted."""
        metadata = {**(inputs or {}), **kwargs}.get("metadata") or {}
        label = metadata.get("call_link_label")
        if not label or label == "CALL":
            return super().submit(process, inputs, **kwargs)
        node = self._called_with(label)
        if node is not None:
            self.report(f"{label}: reusing {node.process_label}<{node.pk}>, submitted by an interrupted attempt of "
                        f"this step")
            return node
        try:
            return super().submit(process, inputs, **kwargs)
        except Exception as exc:  # the broker went away after the process was stored with its checkpoint
            node = self._called_with(label)
            if node is None or node.process_state is None or node.process_state.value != "created" \
                    or node.checkpoint is None:
                raise
            return self._send_task(node, exc)

    def _called_with(self, label: str):
        """The latest process this workflow called with ``label``, or None."""
        from aiida.common.links import LinkType

        links = self.node.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK),
                                                  link_label_filter=label).all()
        return max((link.node for link in links), key=lambda node: node.ctime) if links else None

    def _send_task(self, node, error: Exception, attempts: int = 12, wait: float = 5.0):
        """Send the task of ``node`` (stored, checkpointed, its task lost with the broker connection) once the
        broker is back: RabbitMQ restarting while a step submits would otherwise leave the workflow excepted."""
        import time

        for attempt in range(attempts):
            self.report(f"submitting {node.process_label}<{node.pk}> failed ({type(error).__name__}: {error}); "
                        f"sending its task again in {wait:g} s ({attempt + 1}/{attempts})")
            time.sleep(wait)
            try:
                self.runner.controller.continue_process(node.pk, nowait=False, no_reply=True)
                return node
            except Exception as exc:  # still no broker
                error = exc
        raise error
