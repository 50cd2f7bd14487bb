"""A trivial workflow and its submission controller, to check an AiiDA stack (storage + broker + daemon) for
throughput and for faults (tests/test_production_stack.py, benchmarks/stack_throughput.py).

:class:`StackCheckWorkChain` runs two calcfunctions (``x + 1``, then times two) in two steps; it takes well under a
second of a worker. AiiDA checkpoints a workchain between steps, so a worker killed after a step's calcfunction has
finished but before the checkpoint is saved runs that step again when the workflow is resumed elsewhere
(at-least-once steps). Each step therefore first looks for a finished calcfunction of its own (same call label)
from such an earlier attempt and reuses it: a calcfunction then runs once per workflow, whatever is killed.
A calcfunction killed while it ran stays behind unsealed in state "running" (nothing resumes a process function).

RabbitMQ delivers a task at least once: after a broker restart it hands the task of a process that a worker still
runs to another worker (aiida-core issue #1748), and two workers running one workflow write over each other's node
(a step's calcfunction run twice, a workflow sealed by one and marked excepted by the other). AiiDA itself drops
such a duplicate task when it reaches the worker that runs the process (``DuplicateSubscriberIdentifier``); on
PostgreSQL this workflow extends that to every worker: a worker that loads it takes PostgreSQL's session-level
advisory lock on the workflow's pk (on a connection of its own, released when the workflow closes, or by
PostgreSQL when the worker dies) and, if another worker holds it, drops the task as AiiDA does. The workflow then
has no task of its own until it ends; if its worker is killed before that, nothing resumes it: that is what
:func:`aiida_polymer.campaign.repair.repair` mends (``aiida-polymer campaign repair``). On SQLite there is no lock.
"""

from __future__ import annotations

import kiwipy
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, calcfunction
from aiida_submission_controller import BaseSubmissionController
from pydantic import PrivateAttr

KEY = "stack_key"
DESCRIPTION = "aiida-polymer stack check: "


@calcfunction
def add_one(x: orm.Int) -> orm.Int:
    return orm.Int(x.value + 1)


@calcfunction
def double(x: orm.Int) -> orm.Int:
    return orm.Int(2 * x.value)


def expected(x: int) -> int:
    """What a clean run of :class:`StackCheckWorkChain` returns for ``x``."""
    return 2 * (x + 1)


LOCK_CLASS = 0x41504C59  # the first key of the advisory locks ("APLY"); the second is the workflow's pk
KEYS = "(CAST(:c AS integer), CAST(:pk AS integer))"


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
DROPPED = "dropped a redelivered task: another daemon worker runs this workflow (it holds its lock)"


class StackCheckWorkChain(WorkChain):
    """``result = 2 (x + 1)`` in two calcfunction steps, each run once even if the workflow is resumed mid-step."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("x", valid_type=orm.Int)
        spec.outline(cls.add, cls.double)
        spec.output("result", valid_type=orm.Int)

    def load_instance_state(self, saved_state, load_context):
        super().load_instance_state(saved_state, load_context)
        if not LOCKS.take(self.node.pk):
            self.report(DROPPED)
            raise kiwipy.DuplicateSubscriberIdentifier(f"process<{self.node.pk}> runs in another daemon worker")

    def on_close(self):
        super().on_close()
        LOCKS.release(self.node.pk)

    def _once(self, label: str, function, value: orm.Int) -> orm.Int:
        earlier = self.node.base.links.get_outgoing(link_type=LinkType.CALL_CALC, link_label_filter=label).all()
        for link in earlier:
            if link.node.is_finished_ok:
                self.report(f"{label}: reusing calcfunction<{link.node.pk}> of an interrupted attempt")
                return link.node.outputs.result
        return function(value, metadata={"call_link_label": label})

    def add(self):
        self.ctx.added = self._once("add", add_one, self.inputs.x)

    def double(self):
        self.out("result", self._once("double", double, self.ctx.added))


class StackCheckController(BaseSubmissionController):
    """aiida-submission-controller over ``keys`` (one StackCheckWorkChain each, ``x`` = the key's number)."""

    unique_extra_keys: tuple = (KEY,)
    _keys: list = PrivateAttr(default_factory=list)

    @classmethod
    def over(cls, group_label: str, count: int, max_concurrent: int) -> StackCheckController:
        orm.Group.collection.get_or_create(group_label)
        controller = cls(group_label=group_label, max_concurrent=max_concurrent)
        controller._keys = [key_of(i) for i in range(count)]
        return controller

    def get_all_extras_to_submit(self) -> set[tuple[str]]:
        return {(key,) for key in self._keys}

    def get_inputs_and_processclass_from_extras(self, extras_values):
        key = extras_values[0]
        builder = StackCheckWorkChain.get_builder()
        builder.x = orm.Int(int(key[1:]))
        builder.metadata.description = DESCRIPTION + key
        return builder


def key_of(i: int) -> str:
    return f"k{i:05d}"


def workflows(group_label: str) -> list[orm.WorkflowNode]:
    query = orm.QueryBuilder().append(orm.Group, filters={"label": group_label}, tag="g").append(
        orm.WorkflowNode, with_group="g")
    return query.all(flat=True)
