"""Every workflow of the package runs in one daemon worker only (aiida_polymer.workchains.exclusive); the lock itself
is exercised on PostgreSQL + RabbitMQ by tests/test_production_stack.py."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from aiida_polymer.workchains.exclusive import Exclusive

WORKFLOWS = sorted(ep.name for ep in entry_points(group="aiida.workflows") if ep.name.startswith("polymer."))


def test_every_workflow_is_registered():
    assert len(WORKFLOWS) >= 7, WORKFLOWS


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_is_exclusive(name):
    (entry,) = entry_points(group="aiida.workflows", name=name)
    process = entry.load()
    assert issubclass(process, Exclusive), f"{name} ({process.__name__}) does not take the workflow lock"
    assert process.__mro__.index(Exclusive) < process.__mro__.index(
        next(base for base in process.__mro__ if base.__name__ == "Process")), "Exclusive must come before Process"


def test_no_lock_on_sqlite(aiida_profile):
    from aiida_polymer.workchains.exclusive import LOCKS

    assert LOCKS.take(12345) and LOCKS.take(12345)  # SQLite: no locks, always allowed
    LOCKS.release(12345)
