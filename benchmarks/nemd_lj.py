"""Benchmark: Müller-Plathe NEMD thermal conductivity of the LJ liquid at T* = 0.722, ρ* = 0.8442 (the oracle).

Usage: .venv/bin/python benchmarks/nemd_lj.py [--steps 120000] [--swap-every 60] [--threads 2] [--repeat 1]
Runs the stages of tests/test_nemd_lj.py (argon-like LJ in ``units real``, 1500 atoms in a 3×1×1 box, rendered by
aiida_polymer.chem.lammps_input.render) with the LAMMPS OPENMP package, and prints the wall time and speed of each
stage, κ in W/(m K) and in reduced units with its block standard error, the comparison with the reference
κ* = 6.946 ± 0.12 (Viscardy, Servantie & Gaspard, J. Chem. Phys. 126, 184513 (2007)), and κ by heat-flux term
with the closure (microscopic over imposed flux).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_nemd_lj import (  # the oracle's system and stages
    EPSILON_K,
    LMP,
    MASS,
    NEMD,
    REFERENCE,
    SIGMA,
    TIMESTEP,
    argon_data,
    box_lengths,
    stages,
)

from aiida_polymer.chem import nemd
from aiida_polymer.chem.lammps_input import FINAL_DATA, NEMD_FILES, heat_flux_terms, render


def run(workdir: Path, steps: int, swap_every: int, threads: int, seed: int) -> dict:
    (workdir / "system.data").write_text(argon_data())
    plan = stages()
    plan[0].velocity_seed = seed
    plan[-1].steps = steps
    every = NEMD["profile_every"]
    window = max(every, steps // 12 // every * every)  # 12 profile frames, as in the test
    plan[-1].nemd = {**NEMD, "swap_every": swap_every, "profile_window": window}
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "LD_LIBRARY_PATH": str(LMP.parent.parent / "lib")}
    source, timings = "system.data", []
    for stage in plan:
        (workdir / "in.lammps").write_text(render(stage, source))
        start = time.perf_counter()
        subprocess.run(
            [
                str(LMP),
                "-sf",
                "omp",
                "-pk",
                "omp",
                str(threads),
                "-in",
                "in.lammps",
                "-log",
                f"{stage.name}.log",
                "-screen",
                "none",
                "-nocite",
            ],
            cwd=workdir,
            check=True,
            env=env,
        )
        timings.append((stage.name, stage.steps, time.perf_counter() - start))
        source = f"{stage.name}.data"
        (workdir / FINAL_DATA).rename(workdir / source)
    profile = nemd.read_profile((workdir / NEMD_FILES["nemd_profile"]).read_text())
    flux = nemd.read_flux((workdir / NEMD_FILES["nemd_flux"]).read_text())
    heat_flux = nemd.read_heat_flux((workdir / NEMD_FILES["nemd_heat_flux"]).read_text(), heat_flux_terms(plan[-1]))
    result = nemd.thermal_conductivity(
        profile["step"],
        profile["temp"],
        flux["step"],
        flux["energy"],
        box_lengths((workdir / source).read_text()),
        TIMESTEP,
        discard=0.15,
        nblocks=5,
        heat_flux=heat_flux,
    )
    return {"timings": timings, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120_000, help="NEMD steps (10 fs each)")
    parser.add_argument("--swap-every", type=int, default=NEMD["swap_every"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="independent runs (different velocity seeds)")
    args = parser.parse_args()

    ref, ref_se = REFERENCE
    kappas = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="nemd_lj_") as tmp:
            out = run(Path(tmp), args.steps, args.swap_every, args.threads, seed=8123 + 97 * i)
        for name, steps, wall in out["timings"]:
            print(f"run {i} {name:>5}: {steps:>7} steps, {wall:6.1f} s, {steps / wall:7.0f} steps/s")
        r = out["result"]
        kappa, se = (nemd.reduced_kappa(r["kappa"][k], SIGMA, EPSILON_K, MASS) for k in ("value", "stderr"))
        kappas.append(kappa)
        combined = np.hypot(se, ref_se)
        print(
            f"run {i}: kappa = {r['kappa']['value']:.4f} ± {r['kappa']['stderr']:.4f} W/(m K) = "
            f"{kappa:.3f} ± {se:.3f} reduced; reference {ref} ± {ref_se}: {(kappa - ref) / combined:+.2f} combined "
            f"SE; r² {np.round(r['r2'], 4).tolist()}, min block r² {min(min(b) for b in r['block_r2']):.3f}; "
            f"T* = {r['mean_temperature'] / EPSILON_K:.4f}, ΔT* = {r['temperature_difference'] / EPSILON_K:.3f}; "
            f"flags {r['flags'] or 'none'}"
        )
        parts = r["decomposition"]
        terms = {t: nemd.reduced_kappa(v["kappa"], SIGMA, EPSILON_K, MASS) for t, v in parts["terms"].items()}
        print(f"run {i}: by heat-flux term {', '.join(f'{t} {k:.3f}' for t, k in terms.items() if k)} (reduced); "
              f"closure {parts['closure']:.4f}")
    if len(kappas) > 1:
        print(
            f"mean of {len(kappas)} runs: {np.mean(kappas):.3f} ± {np.std(kappas, ddof=1) / np.sqrt(len(kappas)):.3f}"
        )


if __name__ == "__main__":
    main()
