"""Benchmark: LAMMPS throughput of our inputs (1 and 2 MPI ranks) and the AiiDA overhead of one stage.

Usage: AIIDA_PATH=$PWD/.aiida .venv/bin/python benchmarks/lammps_stage.py [--atoms-per-chain 300] [--steps 4000]
(needs the project profile from `make demo` / `aiida-polymer setup`). Prints atom-steps/s from LAMMPS' own
Performance line, and the wall time of the same NPT stage run by raw `lmp` and by the `polymer.lammps` CalcJob
(upload, job script, direct scheduler, retrieval and parsing included).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_input import Stage, render
from aiida_polymer.chem.lammps_log import parse_log

BIN = Path(sys.executable).parent


def raw_run(workdir: Path, script: str, ranks: int) -> tuple[float, dict]:
    (workdir / "in.lammps").write_text(script)
    cmd = [str(BIN / "lmp"), "-in", "in.lammps", "-log", "log.lammps", "-screen", "none"]
    if ranks > 1:
        cmd = [str(BIN / "mpiexec"), "-np", str(ranks), *cmd]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=workdir, check=True)
    wall = time.perf_counter() - start
    return wall, parse_log((workdir / "log.lammps").read_text()).performance or {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms-per-chain", type=int, default=300)
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-lammps-"))
    cell = build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=10, atoms_per_chain=args.atoms_per_chain, seed=1))
    (work / "system.data").write_text(cell.data_file())
    pack = Stage(name="pack", potential="lj_short", steps=3000, temperature=[300, 600], deform_density=0.9,
                 minimize_first=True, velocity_seed=1, thermo_every=1000)
    raw_run(work, render(pack, "system.data"), 2)
    (work / "final.data").rename(work / "packed.data")
    npt = Stage(name="npt", ensemble="npt", steps=args.steps, temperature=300, pressure=1, shake=True,
                kspace_accuracy=1e-6, thermo_every=1000)
    script = render(npt, "packed.data")
    n = cell.topology.n_atoms
    print(f"system: atactic PS, {n} atoms, NPT 300 K, lj/charmm/coul/long 8/12 + PPPM 1e-6, SHAKE, 1 fs, "
          f"{args.steps} steps")
    walls = {}
    for ranks in (1, 2):
        wall, perf = raw_run(work, script, ranks)
        walls[ranks] = wall
        rate = perf.get("atom-step/s", float("nan"))
        print(f"raw lmp, {ranks} MPI rank(s): wall {wall:.1f} s, {rate:.3g} atom-steps/s, "
              f"{perf.get('ns/day', float('nan')):.3g} ns/day")

    from aiida import load_profile, orm
    from aiida.engine import run_get_node

    load_profile("aiida-polymer")
    from aiida_polymer.codes import ensure_codes, localhost

    code = ensure_codes(localhost())["lmp"]
    data = orm.SinglefileData(io.BytesIO((work / "packed.data").read_bytes()), filename="packed.data")
    start = time.perf_counter()
    _, node = run_get_node(_calc(), code=code, stage=orm.Dict(npt.to_dict()),
                           data_file=data, metadata={"options": {"resources": {"num_machines": 1,
                                                                                "num_mpiprocs_per_machine": 1}}})
    wall = time.perf_counter() - start
    print(f"polymer.lammps CalcJob<{node.pk}> (1 rank, through AiiDA): wall {wall:.1f} s, exit {node.exit_status}; "
          f"ratio to raw lmp {wall / walls[1]:.3f}")


def _calc():
    from aiida.plugins import CalculationFactory

    return CalculationFactory("polymer.lammps")


if __name__ == "__main__":
    main()
