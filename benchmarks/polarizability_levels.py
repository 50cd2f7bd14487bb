"""Benchmark: the repeat-unit polarizability at several QM levels, and the refractive index it gives.

Usage: .venv/bin/python benchmarks/polarizability_levels.py [--units PE PP PS PMMA] [--levels hf/sto-3g ...]
       [--threads 2] [--scf-type pk]

For each repeat unit: the H-capped unit (lowest MMFF94 conformer), psi4's isotropic static polarizability at each
level (analytic CPHF for HF, finite field otherwise; aiida_polymer.chem.psi4_io), its wall time, and n by
Lorentz–Lorenz with the density and unit mass of RadonPy's published run (../shared/reference/radonpy_PI1070.csv),
next to RadonPy's own α and n and the experimental n_D (../shared/reference/experimental_dev.csv). Shows which level
the protocols need for n within a few per cent.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

from rdkit import Chem

from aiida_polymer.chem import conformers
from aiida_polymer.chem.analysis import refractive_index
from aiida_polymer.chem.monomer import parse_repeat_unit
from aiida_polymer.chem.psi4_io import Psi4Task, parse_output, write_input

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"
UNITS = {"PE": "*CC*", "PP": "*CC(*)C", "PS": "*CC(*)c1ccccc1", "PMMA": "*CC(*)(C)C(=O)OC"}
LEVELS = ["hf/sto-3g", "hf/6-31g*", "hf/6-31+g*", "hf/aug-cc-pvdz"]  # also e.g. b3lyp/aug-cc-pvdz (finite field)


def canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def reference_rows() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """RadonPy's rows and the experimental n_D, by canonical SMILES."""
    with open(REFERENCE / "radonpy_PI1070.csv", newline="") as handle:
        radonpy = {canonical(row["smiles"]): row for row in csv.DictReader(handle)}
    with open(REFERENCE / "experimental_dev.csv", newline="") as handle:
        n_d = {canonical(row["smiles"]): row["value"] for row in csv.DictReader(handle) if row["property"] == "n_D"}
    return radonpy, n_d


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
    radonpy, n_d = reference_rows()
    print(f"{'unit':<5} {'level':<18} {'alpha/A3':>9} {'n':>7} {'wall/s':>7}   RadonPy alpha, n; experiment n_D")
    for name in args.units:
        smiles = UNITS[name]
        row = radonpy[canonical(smiles)]
        density, mass = float(row["density"]), float(row["mol_weight_monomer"])
        for level in args.levels:
            alpha, wall = polarizability(smiles, level, args.threads, args.scf_type)
            n = refractive_index(alpha, density, mass)
            print(f"{name:<5} {level:<18} {alpha:9.3f} {n:7.4f} {wall:7.1f}   "
                  f"{float(row['qm_polarizability_monomer']):.3f}, {float(row['refractive_index']):.4f}; "
                  f"{n_d.get(canonical(smiles), '-')}", flush=True)


if __name__ == "__main__":
    main()
