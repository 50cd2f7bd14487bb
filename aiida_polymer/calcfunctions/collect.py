"""Calcfunctions that gather the results of several sub-workflows into one node (provenance kept)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from ..chem.monomer import parse_repeat_unit
from ..chem.replicates import aggregate
from .system import cell_spec


@calcfunction
def assemble_charges(parameters: orm.Dict, **fragments: orm.Dict) -> dict[str, orm.Dict]:
    """Per-fragment charges in the builder's order (repeat units, head group, tail group) and, where the units'
    polarizabilities are given, the optical inputs of the properties (Å³, g/mol without caps).

    The optical inputs carry no mole fractions: the composition is that of the built chains, which only the cell
    knows (``composition`` of the polymer.amorphous_cell summary), and polymer.equilibrate takes it from there.

    ``fragments``: ``charges_<fragment index>`` (polymer.charges ``charges`` outputs) and ``polarizability_<unit
    index>`` (the ``polarizability`` output computed on that unit's optical fragment,
    :func:`~aiida_polymer.chem.canonical.polarizability_unit`); unit indices follow ``parameters``.
    """
    spec = cell_spec(parameters)
    order = [*spec.smiles, spec.head_group, spec.tail_group]
    by_smiles = {fragments[key]["smiles"]: fragments[key]["charges"] for key in fragments if key.startswith("charges")}
    outputs = {"charges": orm.Dict({"charges": [by_smiles[s] for s in order], "fragments": order,
                                    "method": "resp"})}
    polarizabilities = [fragments.get(f"polarizability_{i}") for i in range(len(spec.smiles))]
    if all(p is not None for p in polarizabilities):
        masses = [parse_repeat_unit(smiles).mass for smiles in spec.smiles]
        outputs["optical"] = orm.Dict({  # per unit: the optical fragment's α scaled by mass (*C* is half *CC*)
            "polarizability": [p["polarizability_angstrom3"] * mass / p["fragment_mass"]
                               for p, mass in zip(polarizabilities, masses, strict=True)],
            "repeat_mass": masses,
            "polarizability_fragments": [p.get("smiles") for p in polarizabilities],
        })
    return outputs


PROPAGATED_FLAGS = ("not_converged",)  # what is computed from an unconverged cell is unconverged too


@calcfunction
def merge_properties(**tables: orm.Dict) -> orm.Dict:
    """One property table from several ({name: {value, unit, stderr, flags}}), in key order, later tables winning
    on a clash; the :data:`PROPAGATED_FLAGS` of the first table are added to the entries of the later ones."""
    keys = sorted(tables)
    merged: dict = dict(tables[keys[0]].get_dict())
    inherited = sorted({f for e in merged.values() for f in e.get("flags", []) if f in PROPAGATED_FLAGS})
    for key in keys[1:]:
        for name, entry in tables[key].get_dict().items():
            flags = list(entry.get("flags", []))
            merged[name] = {**entry, "flags": flags + [f for f in inherited if f not in flags]}
    return orm.Dict(merged)


@calcfunction
def aggregate_replicates(**tables: orm.Dict) -> orm.Dict:
    """The mean, run-to-run SD and count over the replicates' property tables, in key order
    (:func:`aiida_polymer.chem.replicates.aggregate`)."""
    return orm.Dict(aggregate([tables[key].get_dict() for key in sorted(tables, key=_replicate_number)]))


def _replicate_number(key: str) -> int:
    return int(key.rsplit("_", 1)[1])
