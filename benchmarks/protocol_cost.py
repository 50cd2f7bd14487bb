"""What each protocol costs per polymer: planned MD atom-steps, and what finished campaigns actually used.

Planned: :func:`aiida_polymer.app.models.cost_estimate` for each protocol (packing + compression + every production
segment + NEMD where the protocol runs it), for the repeat units given, with the ratio to ``precise``. Measured,
for each polymer of the campaign groups given: the MD atom-steps read from the LAMMPS logs of its jobs (every
``Loop time of T on P procs for N steps with M atoms`` line: Σ N·M, and Σ T·P core-seconds), the Psi4 jobs' wall
time, and the workflow's wall time (creation to end). Figures only, no assertions::

    verdi run benchmarks/protocol_cost.py [GROUP ...] [--units '*CC*,*CC(*)C']
"""

from __future__ import annotations

import argparse
import re
import statistics

from aiida import orm

from aiida_polymer.app.models import cost_estimate
from aiida_polymer.campaign.submission import group_workflows
from aiida_polymer.chem.protocols import NAMES

LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def md_work(calc: orm.CalcJobNode) -> tuple[int, float]:
    """Atom-steps and core-seconds of one LAMMPS job, from its retrieved log."""
    retrieved = calc.outputs.retrieved if "retrieved" in calc.outputs else None
    if retrieved is None or "log.lammps" not in retrieved.base.repository.list_object_names():
        return 0, 0.0
    text = retrieved.base.repository.get_object_content("log.lammps")
    atom_steps, core_seconds = 0, 0.0
    for seconds, procs, steps, atoms in LOOP.findall(text):
        atom_steps += int(steps) * int(atoms)
        core_seconds += float(seconds) * int(procs)
    return atom_steps, core_seconds


def measured(label: str) -> list[dict]:
    group = orm.load_group(label)
    rows = []
    for pk in group_workflows(group, "id").all(flat=True):
        node = orm.load_node(pk)
        if not node.is_finished_ok:
            continue
        atom_steps, core_seconds, psi4 = 0, 0.0, 0.0
        for calc in node.called_descendants:
            if not isinstance(calc, orm.CalcJobNode) or calc.base.caching.is_created_from_cache:
                continue
            if calc.process_label == "LammpsCalculation":
                work = md_work(calc)
                atom_steps, core_seconds = atom_steps + work[0], core_seconds + work[1]
            elif "Psi4" in (calc.process_label or ""):
                info = calc.get_last_job_info()
                psi4 += float(getattr(info, "wallclock_time_seconds", None) or (calc.mtime - calc.ctime).seconds)
        rows.append({"polymer": node.label, "atom_steps": atom_steps, "md_core_hours": core_seconds / 3600,
                     "psi4_hours": psi4 / 3600, "wall_hours": (node.mtime - node.ctime).total_seconds() / 3600})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("groups", nargs="*")
    parser.add_argument("--units", default="*CC*")
    args = parser.parse_args()
    units = args.units.split(",")
    plans = {name: cost_estimate(name, units) for name in NAMES}
    print(f"planned MD per polymer ({', '.join(units)}), at 1e5 atom-steps per core-second, 2 cores:")
    print(f"{'protocol':10} {'atoms':>7} {'atom-steps':>11} {'of precise':>10} {'MD wall':>9}")
    for name, plan in plans.items():
        ratio = plan.atom_steps / plans["precise"].atom_steps
        print(f"{name:10} {plan.atoms:>7,} {plan.atom_steps:>11.3e} {ratio:>10.2%} {plan.seconds / 3600:>8.2f}h")
    for label in args.groups:
        rows = measured(label)
        print(f"\ncampaign {label}: {len(rows)} finished polymers")
        print(f"{'polymer':24} {'atom-steps':>11} {'MD core-h':>9} {'Psi4 h':>7} {'wall h':>7}")
        for row in rows:
            print(f"{row['polymer'][:24]:24} {row['atom_steps']:>11.3e} {row['md_core_hours']:>9.2f}"
                  f" {row['psi4_hours']:>7.2f} {row['wall_hours']:>7.2f}")
        if rows:
            mean = {key: statistics.fmean(r[key] for r in rows) for key in rows[0] if key != "polymer"}
            rate = sum(r["atom_steps"] for r in rows) / max(1e-9, 3600 * sum(r["md_core_hours"] for r in rows))
            print(f"{'mean':24} {mean['atom_steps']:>11.3e} {mean['md_core_hours']:>9.2f} {mean['psi4_hours']:>7.2f}"
                  f" {mean['wall_hours']:>7.2f}   ({rate:.3g} atom-steps per core-second;"
                  f" {mean['atom_steps'] / plans['precise'].atom_steps:.2%} of precise's planned atom-steps)")


main()
