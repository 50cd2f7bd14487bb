"""Scheduler submissions per polymer of a campaign, counted from the database.

For every workflow of the campaign group, the CalcJobs below it (down the CALL links), by calculation: LAMMPS, Psi4
(one job per stage), Psi4 unit (all the QM of a unit in one job), AmberTools (ShellJobs, run where the cell is
built). A job taken from AiiDA's cache never reached a scheduler: it is counted apart. "remote" is what a cluster
queue would see: the LAMMPS and Psi4 submissions::

    AIIDA_PATH=... .venv/bin/python benchmarks/jobs_per_polymer.py GROUP
"""

from __future__ import annotations

import argparse
from collections import Counter

from aiida import load_profile, orm
from aiida.common.links import LinkType
from aiida.tools.graph.graph_traversers import traverse_graph

KINDS = {"aiida.calculations:polymer.lammps": "lammps", "aiida.calculations:polymer.psi4": "psi4",
         "aiida.calculations:polymer.psi4.unit": "psi4_unit"}
COLUMNS = ("lammps", "psi4", "psi4_unit", "ambertools", "cached", "remote")


def counts(workflow: orm.WorkflowNode) -> Counter:
    """Submissions below ``workflow`` by kind, cached jobs apart, and the remote total."""
    below = traverse_graph([workflow.pk], links_forward=[LinkType.CALL_CALC, LinkType.CALL_WORK])["nodes"]
    query = orm.QueryBuilder().append(orm.CalcJobNode, filters={"id": {"in": list(below)}},
                                      project=["process_type", "extras._aiida_cached_from"])
    result: Counter = Counter()
    for process_type, cached_from in query.iterall():
        kind = KINDS.get(process_type, "ambertools" if "shell" in (process_type or "") else process_type)
        result["cached" if cached_from else kind] += 1
    result["remote"] = result["lammps"] + result["psi4"] + result["psi4_unit"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group")
    args = parser.parse_args()
    load_profile()
    group = orm.load_group(args.group)
    rows = [(node, counts(node)) for node in sorted(group.nodes, key=lambda n: n.pk)
            if isinstance(node, orm.WorkflowNode)]
    print(f"{'pk':>5}  {'id':<10} {'state':<10}" + "".join(f"{c:>11}" for c in COLUMNS))
    for node, c in rows:
        state = f"[{node.exit_status}]" if node.is_finished else node.process_state.value
        print(f"{node.pk:>5}  {node.label:<10} {state:<10}" + "".join(f"{c[k]:>11}" for k in COLUMNS))
    done = [c for node, c in rows if node.is_finished_ok]
    if done:
        print(f"mean over {len(done)} finished  " + "".join(f"{sum(c[k] for c in done) / len(done):>11.1f}"
                                                       for k in COLUMNS))


if __name__ == "__main__":
    main()
