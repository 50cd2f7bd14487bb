"""Benchmark: κ split by heat-flux term in a molecular system, and the closure check.

Usage: .venv/bin/python benchmarks/nemd_decomposition.py [--smiles '*CC*'] [--chains 4] [--atoms 60]
       [--nemd-steps 100000] [--swap-every 20] [--threads 2]

Builds a small GAFF2 cell (Gasteiger charges, built by aiida_polymer.chem.builder), packs it by NPT at 300 K and
1 atm, replicates it 3×1×1, thermalises it by NVT and runs Müller-Plathe NEMD with ``decompose`` (all stages
rendered by aiida_polymer.chem.lammps_input.render, 0.5 fs, no SHAKE). Prints the wall time of each stage, κ from the
swaps, κ of each heat-flux term (convection; pair, bond, angle, dihedral, improper, kspace virial) and the closure:
the microscopic heat flux summed over the terms over the flux the swaps impose (1 in the steady state when every
term is accounted for; the many-body terms need the centroid stress, see the docstring of lammps_input).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_nemd_lj import box_lengths, run_lammps  # the LAMMPS runner of the LJ oracle

from aiida_polymer.chem import nemd
from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_input import FINAL_DATA, NEMD_FILES, Stage, heat_flux_terms, render

MD = {"timestep": 0.5, "kspace_accuracy": 1e-5, "cutoff_inner": 8.0, "cutoff": 10.0}


def stages(args: argparse.Namespace) -> list[Stage]:
    window = args.nemd_steps // 20
    return [
        Stage(name="pack", ensemble="npt", temperature=[600.0, 300.0], pressure=1.0, steps=args.pack_steps,
              minimize_first=True, velocity_seed=11, thermo_every=1000, **MD),
        Stage(name="nemd_nvt", ensemble="nvt", temperature=300.0, steps=4000, velocity_seed=5,
              replicate=[3, 1, 1], thermo_every=1000, **MD),
        Stage(name="nemd", ensemble="nve", temperature=300.0, steps=args.nemd_steps, thermo_every=window,
              nemd={"swap_every": args.swap_every, "n_slabs": 20, "profile_every": 10, "profile_window": window,
                    "decompose": True}, **MD),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smiles", default="*CC*")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--atoms", type=int, default=60, help="atoms per chain")
    parser.add_argument("--pack-steps", type=int, default=20_000)
    parser.add_argument("--nemd-steps", type=int, default=100_000)
    parser.add_argument("--swap-every", type=int, default=100)
    args = parser.parse_args()

    cell = build_cell(CellSpec(smiles=[args.smiles], n_chains=args.chains, atoms_per_chain=args.atoms, density=0.5,
                               seed=3))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nemd_decomposition_") as tmp:
        workdir = Path(tmp)
        (workdir / "system.data").write_text(cell.data_file())
        source = "system.data"
        plan = stages(args)
        for stage in plan:
            start = time.perf_counter()
            run_lammps(workdir, render(stage, source), timeout=7200)
            wall = time.perf_counter() - start
            print(f"{stage.name:>8}: {stage.steps:>7} steps, {wall:6.1f} s, {stage.steps / wall:6.0f} steps/s")
            source = f"{stage.name}.data"
            (workdir / FINAL_DATA).rename(workdir / source)
        profile = nemd.read_profile((workdir / NEMD_FILES["nemd_profile"]).read_text())
        flux = nemd.read_flux((workdir / NEMD_FILES["nemd_flux"]).read_text())
        heat_flux = nemd.read_heat_flux((workdir / NEMD_FILES["nemd_heat_flux"]).read_text(),
                                        heat_flux_terms(plan[-1]))  # fmt: skip
        box = box_lengths((workdir / source).read_text())
    atoms = int(profile["count"][0].sum())
    r = nemd.thermal_conductivity(profile["step"], profile["temp"], flux["step"], flux["energy"], box,
                                  MD["timestep"], nblocks=5, heat_flux=heat_flux)  # fmt: skip
    parts = r["decomposition"]
    print(f"{args.smiles}: {atoms} atoms, box {[round(b, 2) for b in box]} Å, T {r['mean_temperature']:.1f} K, "
          f"ΔT {r['temperature_difference']:.1f} K, r² {[round(x, 3) for x in r['r2']]}, flags {r['flags'] or 'none'}")
    print(f"kappa (swaps) = {r['kappa']['value']:.4f} ± {r['kappa']['stderr']:.4f} W/(m K)")
    for term, v in parts["terms"].items():
        print(f"  {term:>9}: {v['kappa']:+.4f} ± {v['stderr']:.4f} W/(m K) ({v['fraction']:+.1%})")
    print(f"sum of terms = {parts['kappa']:.4f} ± {parts['stderr']:.4f} W/(m K); closure {parts['closure']:.4f}")


if __name__ == "__main__":
    main()
