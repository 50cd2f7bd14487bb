"""The density with and without the LJ tail: two campaigns of the same library, one with ``md.lj: charmm`` (the
default) and one with ``md.lj: cut_tail``, compared polymer by polymer, beside the mean-field estimate of
:mod:`aiida_polymer.chem.dispersion` from each charmm cell's data file with RadonPy's compressibility (the shipped
table), at the fast protocol's switch (7-8 A) and at RadonPy's (8-12 A). Prints a markdown table::

    verdi run benchmarks/lj_forms_density.py [CHARMM_GROUP TAIL_GROUP]   (default lj-charmm-fast lj-tail-fast)

See docs/validation.md "The LJ tail" for the campaigns' commands and the figures.
"""

import csv
import gzip
import sys
from pathlib import Path

from aiida import orm

import aiida_polymer
from aiida_polymer.chem.dispersion import density_shift, lj_types, missing_dispersion

TABLE = Path(aiida_polymer.__file__).parent / "database" / "reference" / "radonpy.csv.gz"
NAMES = {"*C*": "PE", "*CC(*)C": "aPP", "*CC(*)Cl": "PVC", "*CC(*)(C)C(=O)OC": "PMMA", "*CC(*)c1ccccc1": "aPS",
         "*CCO*": "PEO"}
SWITCHES = ((7.0, 8.0), (8.0, 12.0))


def compressibilities() -> dict[str, float]:
    """RadonPy's isothermal compressibility (1/Pa) by canonical repeat unit."""
    out: dict[str, float] = {}
    with gzip.open(TABLE, "rt") as handle:
        for row in csv.DictReader(handle):
            if row["property"] == "isothermal_compressibility":
                out.setdefault(row["canonical_smiles"], float(row["value"]))
    return out


def equilibrated(label: str) -> dict[str, tuple[dict, orm.SinglefileData]]:
    """Unit -> (the equilibration's properties, its final data file) of the group's finished workflows."""
    out = {}
    for node in orm.Group.collection.get(label=label).nodes:
        if node.is_finished_ok:
            eq = next(c for c in node.called if c.process_label == "EquilibrateWorkChain")
            unit = node.base.extras.get("polymer_key").split("|")[0]
            out[unit] = (eq.outputs.properties.get_dict(), eq.outputs.final_data)
    return out


def main() -> None:
    labels = sys.argv[1:3] if len(sys.argv) >= 3 else ["lj-charmm-fast", "lj-tail-fast"]
    charmm, tail = equilibrated(labels[0]), equilibrated(labels[1])
    beta_of = compressibilities()
    print("| polymer | ρ charmm 7–8 Å | ρ cut_tail 8 Å | measured Δρ/ρ | RadonPy β_T (1/GPa) | ΔP missed 7–8 Å | "
          "estimated Δρ/ρ | ΔP missed 8–12 Å | estimated Δρ/ρ at 8–12 Å |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for unit in sorted(set(charmm) & set(tail), key=lambda u: NAMES.get(u, u)):
        (props, data), (tail_props, _) = charmm[unit], tail[unit]
        rc, rt, beta = props["density"], tail_props["density"], beta_of[unit]
        types = lj_types(data.get_content())
        missed = [missing_dispersion(types, "charmm", inner, cut)[1] for inner, cut in SWITCHES]
        diff = 100 * (rt["value"] - rc["value"]) / rc["value"]
        se = 100 * (rc["stderr"] ** 2 + rt["stderr"] ** 2) ** 0.5 / rc["value"]
        cells = [NAMES.get(unit, unit), f"{rc['value']:.4f} ± {rc['stderr']:.4f}",
                 f"{rt['value']:.4f} ± {rt['stderr']:.4f}", f"{diff:+.2f} ± {se:.2f} %", f"{beta * 1e9:.2f}"]
        for pressure in missed:
            cells += [f"{pressure:.0f} atm", f"{-100 * density_shift(pressure, beta):+.2f} %"]
        print("| " + " | ".join(cells) + " |")


main()
