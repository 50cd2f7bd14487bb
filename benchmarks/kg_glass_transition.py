"""Tg of the Kremer–Grest (Bennemann) bead-spring melt against the cooling rate, by the pipeline's stepwise cooling.

The model and its mapping to ``units real`` are those of tests/chem/kg_melt.py (T* = T/1000 K, τ = 1 ps). Each run:
a melt of ``chains`` × 10 beads equilibrated by NPT at T* = 0.75, p* = 1, then cooled by
:func:`aiida_polymer.chem.glass_transition.cooling_input` (ramp and hold of equal length per step of ΔT* = 0.025
down to T* = 0.20), Tg from the two-line fit of the specific volume of the holds. The effective rate is
Γ* = ΔT*/(t_ramp + t_hold) per τ.

Published reference: Buchholz, Paul, Varnik & Binder, J. Chem. Phys. 117, 7364 (2002) report Tg(Γ) for this model
at p = 1 from the kink of the specific volume; the mode-coupling critical temperature of the same model at p = 1 is
T_c ≈ 0.45 (Bennemann et al., Phys. Rev. E 57, 843 (1998)). These numbers are quoted from memory, not verified
against the papers here (see the note of the task that added this benchmark).

Measured (2026-12-03, 1 rank, loaded 2-core machine; 633 s CPU in all; SE here without the range-sensitivity term,
which was added to chem/glass_transition.py while it ran):
    Γ* 7.1e-4, 200 beads, seeds 100/101/102: Tg* 0.589 ± 0.035, 0.469 ± 0.019, 0.440 ± 0.017 (the test's seed 7:
        0.462 ± 0.023 with the range term): small cells scatter more than their stated SE
    Γ* 2e-3, 1000 beads: 0.462 ± 0.008; Γ* 5e-4: 0.439 ± 0.007; Γ* 1.25e-4: 0.441 ± 0.006
    α_melt ≈ 0.26, α_glass ≈ 0.13 per unit T*; ρ*(T* = 0.70) = 0.974–0.978.

Run: nice -n 10 .venv/bin/python benchmarks/kg_glass_transition.py [--chains 100] [--rates 2e-3 5e-4 1.25e-4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "chem"))

import kg_melt as kg

from aiida_polymer.chem import glass_transition as g

STEP = 25.0  # K: ΔT* = 0.025


def run(rate: float, chains: int, seed: int, work: Path) -> dict:
    """One cooling at effective rate ``rate`` (per τ); returns Tg*, its SE, α above/below, flags, CPU seconds."""
    start = time.process_time()
    data = kg.equilibrated_melt(work, chains=chains, temperature=0.75, steps=40000, seed=seed)
    half = STEP / (rate * 1e6) * 1000.0 / 2.0  # ps: ramp = hold = ΔT/(2 Γ)
    schedule = g.CoolingSchedule(t_start=750.0, t_end=200.0, step=STEP, rate=STEP / half * 1000.0, hold=half,
                                 start_hold=half, timestep=kg.TIMESTEP, pressure=kg.PRESSURE,
                                 thermo_every=max(1, round(half * 1000 / kg.TIMESTEP / 100)))
    script = kg.kremer_grest(g.cooling_input(schedule, data.name, kg.MD))
    log = kg.run_script(script, work)
    holds = g.hold_densities(g.thermo_by_stage(log), schedule)
    result = g.glass_transition(holds["set_temperature"] / 1000.0, holds["density"], unit="T*")
    p = result["properties"]
    return {"rate": rate, "chains": chains, "seed": seed, "steps": schedule.total_steps,
            "tg": p["glass_transition_temperature"]["value"], "se": p["glass_transition_temperature"]["stderr"],
            "alpha_melt": p["thermal_expansion_above_tg"]["value"], "alpha_glass": p["thermal_expansion_below_tg"][
                "value"], "flags": p["glass_transition_temperature"]["flags"], "p_line": result["fit"]["p_line"],
            "rho_07": float(holds["density"][holds["set_temperature"] == 700.0][0] / kg.RHO_UNIT),
            "cpu_s": time.process_time() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--rates", type=float, nargs="+", default=[2e-3, 5e-4, 1.25e-4])
    parser.add_argument("--small-seeds", type=int, default=3, help="repeats of the test's 20-chain melt at 7e-4")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(7.14e-4, 20, 100 + i) for i in range(args.small_seeds)] + [(r, args.chains, 1) for r in args.rates]
        for i, (rate, chains, seed) in enumerate(jobs):
            row = run(rate, chains, seed, Path(tmp) / f"run{i}")
            rows.append(row)
            print(f"Γ* {row['rate']:.3g}/τ  {row['chains'] * 10} beads  seed {row['seed']}: Tg* = {row['tg']:.4f} ± "
                  f"{row['se']:.4f}  α_melt {row['alpha_melt']:.3f}  α_glass {row['alpha_glass']:.3f} (1/T*)  "
                  f"ρ*(0.70) {row['rho_07']:.4f}  p(one line) {row['p_line']:.3f}  flags {row['flags'] or '-'}  "
                  f"{row['steps']} steps, {row['cpu_s']:.0f} s CPU", flush=True)
    print("\nreference (quoted, not verified here): mode-coupling T_c ≈ 0.45 at p = 1 (Bennemann et al. 1998); Tg(Γ) "
          "of Buchholz et al. 2002 for the same model decreases with the cooling rate")


if __name__ == "__main__":
    main()
