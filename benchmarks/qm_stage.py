"""Benchmark: wall time of the QM stage (``polymer.charges``) for one repeat unit, and of the cached second request.

Usage: AIIDA_PATH=$PWD/.aiida .venv/bin/python benchmarks/qm_stage.py [--smiles '*CC(*)c1ccccc1']
[--protocol moderate] [--threads 2] (needs the project profile from `make demo` / `aiida-polymer setup`). Runs the
workflow twice in this process with caching on: the first computes (conformers, psi4 optimisations, ESP, RESP,
polarizability), the second must be served from the cache (no new psi4 job). Prints each psi4 job's wall time.
"""

from __future__ import annotations

import argparse
import time

from aiida import load_profile, orm
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching

from aiida_polymer.cli import PROFILE
from aiida_polymer.codes import ensure_codes, localhost
from aiida_polymer.workchains.charges import ChargesWorkChain, protocol


def run(smiles: str, name: str, threads: int) -> tuple[float, orm.WorkChainNode]:
    settings = protocol(name)
    options = {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": threads}}
    inputs = {"smiles": orm.Str(smiles), "code": ensure_codes(localhost())["psi4"],
              "parameters": orm.Dict({k: settings[k] for k in ("conformers", "optimize", "esp", "grid",
                                                               "polarizability")}),
              "options": orm.Dict(options)}
    start = time.perf_counter()
    with enable_caching():
        _, node = run_get_node(ChargesWorkChain, **inputs)
    return time.perf_counter() - start, node


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smiles", default="*CC(*)c1ccccc1")
    parser.add_argument("--protocol", default="moderate")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load_profile(PROFILE)
    for attempt in ("first request", "second request"):
        wall, node = run(args.smiles, args.protocol, args.threads)
        jobs = sorted((n for n in node.called_descendants if n.process_type == "aiida.calculations:polymer.psi4"),
                      key=lambda n: n.ctime)
        cached = sum(n.base.caching.is_created_from_cache for n in jobs)
        print(f"{attempt}: {node.process_label}<{node.pk}> [{node.exit_status}] wall {wall:.1f} s; "
              f"{len(jobs)} psi4 jobs, {cached} from the cache")
        for job in jobs:
            params = job.inputs.parameters.get_dict()
            out = job.outputs.output_parameters.get_dict() if "output_parameters" in job.outputs else {}
            print(f"  {params['task']:<15} {params['method']}/{params['basis']:<10} psi4 wall "
                  f"{out.get('wall_time') or 0:.1f} s{' (cached)' if job.base.caching.is_created_from_cache else ''}")
        if node.is_finished_ok:
            charges = node.outputs.charges.get_dict()
            print(f"  RESP charges (caps folded): {[round(q, 3) for q in charges['charges']]}")
            if "polarizability" in node.outputs:
                print(f"  polarizability {node.outputs.polarizability['polarizability_angstrom3']:.2f} Å³")


if __name__ == "__main__":
    main()
