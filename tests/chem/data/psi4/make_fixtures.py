"""Regenerate the psi4 fixtures of this directory with the installed ``psi4`` executable (see README.md).

Run from the repository root: ``.venv/bin/python tests/chem/data/psi4/make_fixtures.py [case ...]``.
Each case is a folder holding ``input.dat`` (from :func:`aiida_polymer.chem.psi4_io.write_input`), ``output.dat`` and
the files psi4 produced that the parser reads (``grid.dat``/``grid_esp.dat``, ``geometry.xyz``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from aiida_polymer.chem.psi4_io import Psi4Task, write_grid, write_input

HERE = Path(__file__).parent
KEEP = ("input.dat", "output.dat", "grid.dat", "grid_esp.dat", "geometry.xyz")
WATER = ["O", "H", "H"]


def water(r: float = 0.9572, theta: float = 104.52, z0: float = 0.0) -> np.ndarray:
    """Water in the yz plane, C2 axis along z, O at (0, 0, z0) (Angstrom, degrees)."""
    half = math.radians(theta) / 2
    return np.array([[0.0, 0.0, z0], [0.0, r * math.sin(half), z0 - r * math.cos(half)],
                     [0.0, -r * math.sin(half), z0 - r * math.cos(half)]])


# psi4's own test scf-response1 (HF/aug-cc-pVDZ CPSCF reference values in its test.in), in Angstrom
WATER_SCF_RESPONSE1 = np.array([[0.0, 0.0, -0.075367841241], [0.0, -0.869758531118, 0.598071166797],
                                [0.0, 0.869758531118, 0.598071166797]])
WATER_DISTORTED = np.array([[0.0, 0.0, 0.0], [0.0, 0.9, -0.2], [0.0, -0.6, -0.9]])


def esp_grid() -> np.ndarray:
    """26 points on a 2.2 Angstrom Fibonacci sphere around O, plus 4 far points at 25 Angstrom on +-z and +-x."""
    n = 26
    k = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * k / n)
    azimuth = math.pi * (1 + 5**0.5) * k
    sphere = 2.2 * np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], 1)
    far = np.array([[0.0, 0.0, 25.0], [0.0, 0.0, -25.0], [25.0, 0.0, 0.0], [-25.0, 0.0, 0.0]])
    return np.round(np.vstack([sphere, far]), 6)


SMALL = {"memory": "500 MB", "scf_type": "pk"}
CASES: dict[str, dict] = {
    "water_energy": {"task": Psi4Task(task="energy", basis="sto-3g", **SMALL), "coords": water()},
    "water_optimize": {"task": Psi4Task(task="optimize", basis="3-21g", **SMALL), "coords": water()},
    "water_esp": {"task": Psi4Task(task="esp", basis="6-31g*", **SMALL), "coords": water(), "grid": esp_grid()},
    "water_polarizability": {"task": Psi4Task(task="polarizability", basis="aug-cc-pvdz", **SMALL),
                             "coords": WATER_SCF_RESPONSE1},
    "water_polarizability_eq": {"task": Psi4Task(task="polarizability", basis="aug-cc-pvdz", **SMALL),
                                "coords": water()},
    "water_polarizability_cphf": {"task": Psi4Task(task="polarizability", basis="aug-cc-pvdz",
                                                   polarizability_method="cphf", **SMALL),
                                  "coords": WATER_SCF_RESPONSE1},
    "scf_not_converged": {"task": Psi4Task(task="energy", basis="6-31g*", maxiter=2, **SMALL), "coords": water()},
    "optimization_not_converged": {"task": Psi4Task(task="optimize", basis="3-21g", geom_maxiter=1, **SMALL),
                                   "coords": WATER_DISTORTED},
    "optimize_scf_not_converged": {"task": Psi4Task(task="optimize", basis="3-21g", maxiter=2, **SMALL),
                                   "coords": WATER_DISTORTED},
    "crash_optimize_basis": {"task": Psi4Task(task="optimize", basis="no-such-basis", **SMALL), "coords": water()},
    "crash_basis": {"task": Psi4Task(task="energy", basis="no-such-basis", **SMALL), "coords": water()},
    # write_input refuses multiplicity 2 for 10 electrons: render a singlet and edit the charge/multiplicity line
    "crash_multiplicity": {"task": Psi4Task(task="energy", basis="sto-3g", **SMALL), "coords": water(),
                           "edit": ("\n0 1\n", "\n0 2\n")},
}


def run_case(name: str, case: dict) -> None:
    """Write the input, run psi4 in a scratch folder, keep the files of :data:`KEEP`."""
    text = write_input(case["task"], WATER, case["coords"])
    if "edit" in case:
        old, new = case["edit"]
        assert old in text
        text = text.replace(old, new, 1)
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "input.dat").write_text(text)
        if "grid" in case:
            (work / "grid.dat").write_text(write_grid(case["grid"]))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's PYTHONPATH breaks Debian psi4
        env["PSI_SCRATCH"] = tmp
        proc = subprocess.run(["psi4", "-n", "2", "input.dat", "output.dat"], cwd=work, env=env, capture_output=True,
                              text=True, check=False)
        for file in KEEP:
            if (work / file).exists():
                shutil.copy(work / file, target / file)
    print(f"{name}: psi4 exit {proc.returncode}")


if __name__ == "__main__":
    for case_name in sys.argv[1:] or CASES:
        run_case(case_name, CASES[case_name])
