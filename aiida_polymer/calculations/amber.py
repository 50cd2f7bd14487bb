"""``polymer.amber``: an AmberTools command (antechamber, parmchk2) as aiida-shell's ShellJob, run by one daemon
worker only (:mod:`aiida_polymer.workchains.exclusive`)."""

from __future__ import annotations

from aiida_shell import ShellJob

from ..workchains.exclusive import Exclusive


class AmberToolsJob(Exclusive, ShellJob):
    """aiida-shell's ShellJob (same inputs, outputs and parser), holding the process lock while it runs."""
