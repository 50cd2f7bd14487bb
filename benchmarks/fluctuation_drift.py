"""Fluctuation properties of finished productions: as stored, and re-analysed with the linear drift removed,
beside RadonPy's published mean ± run-to-run SD.

For each polymer of the campaign groups given, the ``compute_properties`` calcfunction of its production: its thermo
series re-analysed by the current :func:`aiida_polymer.chem.analysis.properties` (V and H less their linear trend,
nothing stored), the values the run stored, the density change over the run (the slope of ρ(t) times the run's
length), and RadonPy's value for the same canonical repeat unit (Δ in units of its SD). Figures only::

    verdi run benchmarks/fluctuation_drift.py GROUP [GROUP ...]
"""

from __future__ import annotations

import argparse

import numpy as np
from aiida import orm

from aiida_polymer.chem import analysis
from aiida_polymer.chem.canonical import canonical_repeat_unit
from aiida_polymer.chem.lammps_io import read_data
from aiida_polymer.database.validation import read_radonpy

SHOWN = {"heat_capacity_cp": ("Cp", 1.0, "J/(kg K)"), "isothermal_compressibility": ("β_T", 1e9, "1/GPa"),
         "volumetric_thermal_expansion": ("α_V", 1e4, "1e-4/K")}


def productions(workflow: orm.WorkflowNode) -> list[orm.CalcFunctionNode]:
    return [node for node in workflow.called_descendants if isinstance(node, orm.CalcFunctionNode)
            and node.process_label == "compute_properties" and node.is_finished_ok]


def reanalysed(node: orm.CalcFunctionNode) -> tuple[dict, float]:
    """The current analysis of the production's thermo, and the density change over the run (g/cm³)."""
    series = {name: node.inputs.thermo.get_array(name) for name in node.inputs.thermo.get_arraynames()}
    p = node.inputs.parameters.get_dict()
    mass = read_data(node.inputs.final_data.get_content()).total_mass
    table = analysis.properties(series, mass, temp=p["temperature"], press=p["pressure"])
    rho = analysis.density(mass, series["vol"])
    time = series["time"]
    change = float(np.polyfit(time, rho, 1)[0] * (time[-1] - time[0]))
    return table, change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+")
    args = parser.parse_args()
    reference = {(r.smiles, r.property): r for r in read_radonpy()}
    for label in args.groups:
        print(f"campaign {label}")
        for workflow in orm.load_group(label).nodes:
            if not isinstance(workflow, orm.WorkflowNode):
                continue
            units = workflow.inputs.equilibrate.cell.parameters["smiles"]
            unit = canonical_repeat_unit(units[0])
            for node in productions(workflow):
                table, change = reanalysed(node)
                stored = node.outputs.result.get_dict()
                print(f"  {unit:22s} <{node.pk}> ρ {stored['density']['value']:.4f} g/cm³, change over the run "
                      f"{change:+.4f}; drift_removed: {'drift_removed' in table['heat_capacity_cp']['flags']}")
                for name, (symbol, scale, unit_text) in SHOWN.items():
                    ref = reference.get((unit, name))
                    now, before = table[name], stored[name]
                    line = (f"    {symbol:4s} stored {before['value'] * scale:8.3f}   drift removed "
                            f"{now['value'] * scale:8.3f} ± {now['stderr'] * scale:.3f} {unit_text}")
                    if ref is not None:
                        shift = [(x - ref.value) / ref.sd for x in (before["value"], now["value"])]
                        line += (f"   RadonPy {ref.value * scale:8.3f} ± {ref.sd * scale:.3f}: Δ/SD stored "
                                 f"{shift[0]:+.1f}, now {shift[1]:+.1f}")
                    print(line)


if __name__ == "__main__":
    main()
