"""Benchmark: the repeat-unit polarizability at several QM levels, and the refractive index it gives.

Usage: .venv/bin/python benchmarks/polarizability_levels.py [--units PE PP PS PMMA] [--levels hf/sto-3g ...]
       [--threads 2] [--scf-type pk]

For each repeat unit: the H-capped unit (lowest MMFF94 conformer), psi4's isotropic static polarizability at each
level (analytic CPHF for HF, finite field otherwise; aiida_polymer.chem.psi4_io), its wall time, and n by
Lorentz–Lorenz with the density and unit mass of RadonPy's published run, next to RadonPy's own α and n and the
experimental n_D (the numbers in ``REFERENCE``, with their sources). Shows which level the protocols need for n within
a few per cent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from aiida_polymer.chem import conformers
from aiida_polymer.chem.analysis import refractive_index
from aiida_polymer.chem.monomer import parse_repeat_unit
from aiida_polymer.chem.psi4_io import Psi4Task, parse_output, write_input

UNITS = {"PE": "*CC*", "PP": "*CC(*)C", "PS": "*CC(*)c1ccccc1", "PMMA": "*CC(*)(C)C(=O)OC"}
LEVELS = ["hf/sto-3g", "hf/6-31g*", "hf/6-31+g*", "hf/aug-cc-pvdz"]  # also e.g. b3lyp/aug-cc-pvdz (finite field)


class Reference(NamedTuple):
    """RadonPy's published run of a repeat unit, and the experimental refractive index."""

    radonpy_id: str
    density: float  # g/cm³
    mol_weight: float  # g/mol, the repeat unit
    alpha: float  # Å³, RadonPy's isotropic α of the capped unit
    n: float  # RadonPy's refractive index
    n_d: float  # experiment, 589 nm


# RadonPy: data/PI1070.csv of the RadonPy repository (BSD-3-Clause; GAFF2_mod + RESP, 300 K, 1 atm), columns
# monomer_ID, density, mol_weight_monomer, qm_polarizability_monomer, refractive_index.
# n_D: CROW Polymer Properties Database (PE, PP); matmake.com polystyrene table citing the CRC Handbook 97th ed.
# (PS, 1.59-1.60); Plexiglas RV825 table, pmc.ncbi.nlm.nih.gov/articles/PMC7388655 table T1 (PMMA).
REFERENCE = {
    "PE": Reference("PI1", 0.837971504, 28.054, 3.98452078, 1.512318548, 1.48),
    "PP": Reference("PI2", 0.83573244, 42.081, 5.780307663, 1.490928527, 1.47),
    "PS": Reference("PI82", 0.990788525, 104.152, 13.76428773, 1.574708496, 1.59),
    "PMMA": Reference("PI437", 1.033055843, 100.117, 10.04143097, 1.435813493, 1.489),
}


def polarizability(smiles: str, level: str, threads: int, scf_type: str = "pk") -> tuple[float, float]:
    """α_iso (Å³) of the H-capped unit at ``level`` (method/basis), and the psi4 wall time (s)."""
    mol, _ = parse_repeat_unit(smiles).capped()
    best = conformers.search(mol, n_conformers=10, keep=1)[0]
    method, basis = level.split("/")
    task = Psi4Task(task="polarizability", method=method, basis=basis, memory="2 GB", scf_type=scf_type,
                    polarizability_method="cphf" if method == "hf" else "finite_field")  # fmt: skip
    elements = [atom.GetSymbol() for atom in mol.GetAtoms()]
    with tempfile.TemporaryDirectory(prefix="alpha_") as tmp:
        Path(tmp, "input.dat").write_text(write_input(task, elements, best.coords))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        start = time.perf_counter()
        subprocess.run(["psi4", "-n", str(threads), "input.dat", "output.dat"], cwd=tmp, env=env, check=True,
                       capture_output=True)  # fmt: skip
        wall = time.perf_counter() - start
        result = parse_output(Path(tmp, "output.dat").read_text())
    return result.polarizability_iso_angstrom3, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", nargs="+", default=list(UNITS), choices=list(UNITS))
    parser.add_argument("--levels", nargs="+", default=LEVELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scf-type", default="pk", choices=["pk", "df"])
    args = parser.parse_args()
    print(f"{'unit':<5} {'level':<18} {'alpha/A3':>9} {'n':>7} {'wall/s':>7}   RadonPy alpha, n; experiment n_D")
    for name in args.units:
        smiles = UNITS[name]
        ref = REFERENCE[name]
        for level in args.levels:
            alpha, wall = polarizability(smiles, level, args.threads, args.scf_type)
            n = refractive_index(alpha, ref.density, ref.mol_weight)
            print(
                f"{name:<5} {level:<18} {alpha:9.3f} {n:7.4f} {wall:7.1f}   {ref.alpha:.3f}, {ref.n:.4f}; {ref.n_d}",
                flush=True,
            )


if __name__ == "__main__":
    main()
