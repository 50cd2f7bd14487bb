"""Stage input scripts: rendered text (file regression) and what they do in the real LAMMPS."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_input import Stage, StageError, render

LMP = Path(sys.executable).parent / "lmp"

PACK = Stage(name="pack", ensemble="nvt", potential="lj_short", steps=600, temperature=[300, 700],
             deform_density=0.8, minimize_first=True, velocity_seed=7, thermo_every=100)
NPT = Stage(name="npt", ensemble="npt", steps=200, temperature=300, pressure=1, shake=True, thermo_every=50,
            sample_every=50, restart_every=100, kspace_accuracy=1e-4, timeout="0:10:00")


@pytest.mark.parametrize(("stage", "source", "continuation"), [(PACK, "system.data", False),
                                                               (NPT, "previous.data", False),
                                                               (NPT, "interrupted.restart", True)])
def test_rendered_scripts(stage, source, continuation, file_regression):
    file_regression.check(render(stage, source, continuation), extension=".in")


@pytest.mark.parametrize(("spec", "message"), [({"ensemble": "npx"}, "ensemble"), ({"potential": "soft"}, "potential"),
                                               ({"ensemble": "npt", "deform_density": 0.8}, "constant-volume"),
                                               ({"temperature": [1, 2, 3]}, "start, stop"), ({"colour": 1}, "unknown")])
def test_bad_stages(spec, message):
    with pytest.raises(StageError, match=message):
        Stage.from_dict(spec)


def _lmp(workdir: Path, script: str) -> str:
    (workdir / "in.lammps").write_text(script)
    subprocess.run([str(LMP), "-in", "in.lammps", "-log", "log.lammps", "-screen", "none"], cwd=workdir, check=True)
    return (workdir / "log.lammps").read_text()


def _thermo_steps(log: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+\d+(?:\.\d+)?\s+-?\d", log, re.M)]


def test_stages_run_in_lammps(tmp_path):
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, seed=2))
    (tmp_path / "system.data").write_text(cell.data_file())
    _lmp(tmp_path, render(PACK, "system.data"))
    box = [float(x) for x in re.findall(r"^(\S+) (\S+) xlo xhi", (tmp_path / "final.data").read_text(), re.M)[0]]
    mass = sum(cell.forcefield.masses[t] for t in cell.topology.types)
    density = mass / 6.02214076e23 / ((box[1] - box[0]) * 1e-8) ** 3
    assert density == pytest.approx(0.8, rel=1e-3)  # fix deform reached the target density

    (tmp_path / "final.data").rename(tmp_path / "previous.data")
    log = _lmp(tmp_path, render(NPT, "previous.data"))
    assert _thermo_steps(log)[-1] == 200 and "Finding SHAKE clusters" in log
    rg = np.loadtxt(tmp_path / "rg.dat", comments="#", usecols=1, ndmin=1)
    assert len(rg) >= 3 and np.all(rg[np.isfinite(rg)] > 1.0)

    # an interrupted stage continues from its restart file up to the same target step
    (tmp_path / "final.restart").rename(tmp_path / "interrupted.restart")
    longer = Stage.from_dict({**NPT.to_dict(), "steps": 300})
    log = _lmp(tmp_path, render(longer, "interrupted.restart", continuation=True))
    steps = _thermo_steps(log)
    assert steps[0] == 200 and steps[-1] == 300
