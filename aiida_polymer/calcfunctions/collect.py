"""Calcfunctions that gather the results of several sub-workflows into one node (provenance kept)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from .system import cell_spec


@calcfunction
def assemble_charges(parameters: orm.Dict, **fragments: orm.Dict) -> dict[str, orm.Dict]:
    """Per-fragment charges in the builder's order (repeat units, head group, tail group) and, where the units'
    polarizabilities are given, the optical inputs of the properties (Å³, g/mol without caps, mole fractions).

    ``fragments``: ``charges_<smiles index>`` (polymer.charges ``charges`` outputs) and ``polarizability_<unit
    index>`` (their ``polarizability`` outputs); indices follow ``parameters`` (cell parameters).
    """
    spec = cell_spec(parameters)
    order = [*spec.smiles, spec.head_group, spec.tail_group]
    by_smiles = {fragments[key]["smiles"]: fragments[key]["charges"] for key in fragments if key.startswith("charges")}
    outputs = {"charges": orm.Dict({"charges": [by_smiles[s] for s in order], "fragments": order,
                                    "method": "resp"})}
    polarizabilities = [fragments.get(f"polarizability_{i}") for i in range(len(spec.smiles))]
    if all(p is not None for p in polarizabilities):
        outputs["optical"] = orm.Dict({
            "polarizability": [p["polarizability_angstrom3"] for p in polarizabilities],
            "repeat_mass": [p["fragment_mass"] for p in polarizabilities],
            "fractions": list(spec.fractions),
        })
    return outputs


@calcfunction
def merge_properties(**tables: orm.Dict) -> orm.Dict:
    """One property table from several ({name: {value, unit, stderr, flags}}); later tables win on a clash."""
    merged: dict = {}
    for key in sorted(tables):
        merged.update(tables[key].get_dict())
    return orm.Dict(merged)
