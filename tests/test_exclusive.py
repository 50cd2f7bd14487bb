"""Every workflow of the package runs in one daemon worker only (aiida_polymer.workchains.exclusive); the lock itself
is exercised on PostgreSQL + RabbitMQ by tests/test_production_stack.py."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ToContext, WorkChain, run_get_node

from aiida_polymer.stackcheck import StackCheckWorkChain
from aiida_polymer.workchains.exclusive import Exclusive

WORKFLOWS = sorted(ep.name for ep in entry_points(group="aiida.workflows") if ep.name.startswith("polymer."))
JOBS = sorted(ep.name for ep in entry_points(group="aiida.calculations")
              if ep.name.startswith("polymer.") and isinstance(ep.load(), type))  # CalcJobs, not calcfunctions


def test_every_process_is_registered():
    assert len(WORKFLOWS) >= 9, WORKFLOWS
    assert JOBS == ["polymer.amber", "polymer.lammps", "polymer.psi4", "polymer.psi4.unit"], JOBS


@pytest.mark.parametrize("group,name", [("aiida.workflows", n) for n in WORKFLOWS]
                         + [("aiida.calculations", n) for n in JOBS])
def test_process_is_exclusive(group, name):
    (entry,) = entry_points(group=group, name=name)
    process = entry.load()
    assert issubclass(process, Exclusive), f"{name} ({process.__name__}) does not take the workflow lock"
    assert process.__mro__.index(Exclusive) < process.__mro__.index(
        next(base for base in process.__mro__ if base.__name__ == "Process")), "Exclusive must come before Process"


def test_no_lock_on_sqlite(aiida_profile):
    from aiida_polymer.workchains.exclusive import LOCKS

    assert LOCKS.take(12345) and LOCKS.take(12345)  # SQLite: no locks, always allowed
    LOCKS.release(12345)


class _TwiceLaunched(Exclusive, WorkChain):
    """Submits its child in two steps with one call label: what a step re-run after a killed worker does."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.launch, cls.launch, cls.done)
        spec.output("result", valid_type=orm.Int)

    def launch(self):
        return ToContext(child=self.submit(StackCheckWorkChain, x=orm.Int(4), metadata={"call_link_label": "child"}))

    def done(self):
        self.out("result", self.ctx.child.outputs.result)


def test_a_step_run_again_reuses_the_process_it_submitted(aiida_profile):
    result, node = run_get_node(_TwiceLaunched)
    assert node.is_finished_ok and result["result"].value == 10
    children = node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()
    assert [link.link_label for link in children] == ["child"]  # submitted once
    messages = [entry.message for entry in orm.Log.collection.get_logs_for(node)]
    reused = f"child: reusing StackCheckWorkChain<{children[0].node.pk}>"
    assert any(reused in message for message in messages), messages
