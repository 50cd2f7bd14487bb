"""A trivial workflow and its submission controller, to check an AiiDA stack (storage + broker + daemon) for
throughput and for faults (tests/test_production_stack.py, benchmarks/stack_throughput.py).

:class:`StackCheckWorkChain` runs two calcfunctions (``x + 1``, then times two) in two steps; it takes well under a
second of a worker. AiiDA checkpoints a workchain between steps, so a worker killed after a step's calcfunction has
finished but before the checkpoint is saved runs that step again when the workflow is resumed elsewhere
(at-least-once steps). Each step therefore first looks for a finished calcfunction of its own (same call label)
from such an earlier attempt and reuses it: a calcfunction then runs once per workflow, whatever is killed.
A calcfunction killed while it ran stays behind unsealed in state "running" (nothing resumes a process function).

Like every workchain of the pipeline it runs only in the daemon worker that holds its PostgreSQL advisory lock
(:mod:`aiida_polymer.workchains.exclusive`), so a task RabbitMQ redelivers to a second worker is dropped.
"""

from __future__ import annotations

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, calcfunction
from aiida_submission_controller import BaseSubmissionController
from pydantic import PrivateAttr

from .workchains.exclusive import Exclusive

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


class StackCheckWorkChain(Exclusive, WorkChain):
    """``result = 2 (x + 1)`` in two calcfunction steps, each run once even if the workflow is resumed mid-step."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("x", valid_type=orm.Int)
        spec.outline(cls.add, cls.double)
        spec.output("result", valid_type=orm.Int)

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
