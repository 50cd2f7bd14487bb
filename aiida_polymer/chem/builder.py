"""SMILES → GAFF2 amorphous cell, in two halves so that the AmberTools calls in between can be recorded:

1. :func:`prepare` parses the units and builds the embedded template oligomer to type;
2. the template is typed (antechamber) and missing parameters filled (parmchk2): :func:`amber.assign_gaff2`;
3. :func:`build` grows the chains, packs the cell, assigns the parameters and writes the LAMMPS data file.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rdkit import Chem

from . import amber, amber_params
from .cell import (
    AVOGADRO,
    PACKING_COEFFICIENT,
    box_length,
    estimated_density,
    grow_in_box,
    min_distances,
    van_der_waals_volume,
)
from .chains import (
    COPOLYMER_KINDS,
    TACTICITIES,
    ChainGrowthError,
    chirality_signs,
    degree_of_polymerization,
    grow_chain,
    meso_fraction,
    mirror_flags,
    monomer_sequence,
)
from .lammps_io import write_data
from .monomer import Fragment, MonomerError, parse_end_group, parse_repeat_unit
from .oligomer import Oligomer, join, keep_conformer
from .residues import Residue, build_template, gasteiger_charges, residues_from_template, template_sequence
from .topology import ForceField, Topology, assign

CHARGE_METHODS = {"gasteiger": gasteiger_charges}
EXTERNAL_CHARGES = ("resp",)  # computed elsewhere (quantum chemistry) and passed to build() per fragment


BOX_MARGIN = 2.0  # Å beyond twice the pair cut-off: NPT box fluctuations and the compression stages' squeeze


def box_length_for_cutoff(cutoff: float, margin: float = BOX_MARGIN) -> float:
    """Smallest final box edge (Å) for a pair cut-off (Å): above twice the cut-off (minimum image) by ``margin``."""
    return 2.0 * cutoff + margin


@dataclass
class CellSpec:
    """What to build. ``smiles`` lists the repeat units (one for a homopolymer).

    ``fractions`` are mole fractions of the units (for ``random`` and ``block`` without ``block_lengths``); an
    ``alternating`` copolymer and ``block_lengths`` fix the composition themselves, so fractions given with them
    must agree. ``n_chains`` is a minimum: with ``min_box_length`` (Å) chains are added until the box at the
    estimated final density (:func:`~aiida_polymer.chem.cell.estimated_density`) is at least that long.
    """

    smiles: list[str]
    fractions: list[float] | None = None
    copolymer: str = "homopolymer"
    block_lengths: list[int] | None = None
    head_group: str = "*C"
    tail_group: str = "*C"
    tacticity: str = "atactic"
    n_chains: int = 10
    atoms_per_chain: int = 1000
    degree_of_polymerization: int | None = None
    density: float = 0.05
    min_distance: float = 1.5
    min_box_length: float | None = None
    charges: str = "gasteiger"
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.smiles, str):
            self.smiles = [self.smiles]
        if not self.smiles:
            raise MonomerError("no repeat unit given")
        if self.copolymer not in COPOLYMER_KINDS:
            raise ValueError(f"copolymer must be one of {COPOLYMER_KINDS}")
        if len(self.smiles) > 1 and self.copolymer == "homopolymer":
            raise ValueError("several repeat units need copolymer = alternating, random or block")
        given = self.fractions is not None
        if given and (len(self.fractions) != len(self.smiles) or min(self.fractions) <= 0):
            raise ValueError("fractions must be positive, one per repeat unit")
        implied = self._implied_fractions()
        if given and implied is not None:
            requested = np.asarray(self.fractions, float) / np.sum(self.fractions)
            if not np.allclose(requested, implied, rtol=0, atol=1e-3):
                source, fix = ((f"block_lengths {self.block_lengths}", "omit fractions or change block_lengths")
                               if self.block_lengths is not None
                               else ("an alternating copolymer", "omit fractions or use copolymer = random"))
                raise ValueError(f"fractions {self.fractions} contradict {source}, whose composition is "
                                 f"{[round(float(f), 4) for f in implied]}: {fix}")
        if not given:
            self.fractions = [1.0 / len(self.smiles)] * len(self.smiles) if implied is None else implied.tolist()
        if self.tacticity not in TACTICITIES:
            raise ValueError(f"tacticity must be one of {TACTICITIES}")
        if self.charges not in CHARGE_METHODS and self.charges not in EXTERNAL_CHARGES:
            raise ValueError(f"charges must be one of {sorted(CHARGE_METHODS) + list(EXTERNAL_CHARGES)}")
        if self.n_chains < 1 or self.density <= 0 or self.atoms_per_chain < 1:
            raise ValueError("n_chains, atoms_per_chain and density must be positive")
        if self.min_box_length is not None and not self.min_box_length > 0:
            raise ValueError(f"min_box_length must be positive (Å) or None, not {self.min_box_length}")

    def _implied_fractions(self) -> np.ndarray | None:
        """The composition that ``block_lengths`` or ``alternating`` impose (None where fractions decide)."""
        k = len(self.smiles)
        if self.block_lengths is not None:
            if self.copolymer != "block":
                raise ValueError(f"block_lengths apply to copolymer = block only, not {self.copolymer!r}")
            lengths = list(self.block_lengths)
            if len(lengths) != k:
                raise ValueError(f"block_lengths needs one length per repeat unit ({k}), got {len(lengths)}")
            if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in lengths):
                raise ValueError(f"block_lengths must be positive integers, not {lengths}")
            return np.asarray(lengths, float) / sum(lengths)
        if self.copolymer == "alternating" and k > 1:
            return np.full(k, 1.0 / k)
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Prepared:
    units: list[Fragment]
    head: Fragment
    tail: Fragment
    template: Oligomer
    sequence: list[int]
    dp: int


def prepare(spec: CellSpec, coordinates: np.ndarray | None = None) -> Prepared:
    """Parse and validate every SMILES (MonomerError on bad input) and build the template oligomer.

    ``coordinates`` re-uses a stored template geometry instead of embedding anew.
    """
    units = [parse_repeat_unit(s) for s in spec.smiles]
    head, tail = parse_end_group(spec.head_group), parse_end_group(spec.tail_group)
    dp = spec.degree_of_polymerization or degree_of_polymerization(
        [u.n_atoms for u in units], spec.fractions, head.n_atoms + tail.n_atoms, spec.atoms_per_chain)
    if coordinates is None:
        template, sequence = build_template(units, head, tail, dp, seed=spec.seed + 7)
        best = _most_growable(template, sequence, [*units, head, tail], spec.min_distance, spec.seed)
        template.mol = keep_conformer(template.mol, best)
    else:
        sequence = template_sequence(len(units), dp)
        template = join([units[m] for m in sequence], head, tail)
        conf = Chem.Conformer(template.mol.GetNumAtoms())
        for i, xyz in enumerate(coordinates):
            conf.SetAtomPosition(i, xyz.tolist())
        template.mol.AddConformer(conf, assignId=True)
    return Prepared(units=units, head=head, tail=tail, template=template, sequence=sequence, dp=dp)


def _most_growable(template: Oligomer, sequence: list[int], fragments: list[Fragment], min_distance: float,
                   seed: int, units: int = 8, attempts: int = 20) -> int:
    """The template conformer whose residue geometry lets short random chains grow most often without overlaps.

    Chains are rigid residues joined by random link torsions, so the residue's own conformation decides how easily
    they grow; ties go to the lowest-energy conformer.
    """
    rng = np.random.default_rng(seed)
    n_units = len(fragments) - 2
    blank_types = ["x"] * template.mol.GetNumAtoms()
    blank_charges = [np.zeros(f.n_atoms) for f in fragments]
    scores = []
    for conf in template.mol.GetConformers():
        residues = residues_from_template(template, sequence, blank_types, blank_charges, conformer=conf.GetId())
        ok = 0
        for m in range(n_units):
            for _ in range(attempts):
                flags = [False, *(rng.random(units) < 0.5), False]
                try:
                    grow_chain(residues, [n_units, *[m] * units, n_units + 1], flags, rng, min_distance,
                               trials=1, max_backtracks=0)
                    ok += 1
                except ChainGrowthError:
                    pass
        scores.append(ok)
    return template.mol.GetConformers()[int(np.argmax(scores))].GetId()


@dataclass
class Cell:
    topology: Topology
    forcefield: ForceField
    coords: np.ndarray  # wrapped into [0, box)
    images: np.ndarray
    box: float
    residues: list[Residue]
    summary: dict[str, Any] = field(default_factory=dict)

    def data_file(self, title: str = "aiida-polymer amorphous cell") -> str:
        return write_data(self.topology, self.forcefield, self.coords, self.images, (self.box,) * 3, title)


def build(spec: CellSpec, prep: Prepared, types: list[str], frcmod: str, gaff2: str,
          charges: list[np.ndarray] | None = None) -> Cell:
    """Grow, pack and parameterise the cell. ``types`` are the template's GAFF2 types (template atom order).

    ``charges``: one array per fragment (the units, then the head and tail groups), each neutral, caps folded; needed
    for the external charge methods (RESP), computed by ``spec.charges`` otherwise. The summary records the
    composition counted on the chains built and the density and box expected after equilibration.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    fragments = [*prep.units, prep.head, prep.tail]
    if charges is None:
        if spec.charges not in CHARGE_METHODS:
            raise ValueError(f"charges {spec.charges!r} must be given per fragment")
        charges = [CHARGE_METHODS[spec.charges](f) for f in fragments]
    check_charges(fragments, charges)
    residues = residues_from_template(prep.template, prep.sequence, types, charges)
    params = amber_params.read_parm(gaff2, "gaff2").update(amber_params.read_frcmod(frcmod, "frcmod"))
    n_units = len(prep.units)
    head_idx, tail_idx, first_idx, last_idx = n_units, n_units + 1, n_units + 2, n_units + 3

    dp = prep.dp
    unit_volumes, end_volume = van_der_waals_volume(prep.units, prep.head, prep.tail)  # same for every seed
    sequences, orders, mirrors = [], [], []
    vdw_volume = 0.0  # of the chains so far, Å³

    def final_box() -> float:  # box edge at the estimated density: V_w / k
        return (vdw_volume / PACKING_COEFFICIENT) ** (1.0 / 3.0)

    while len(orders) < spec.n_chains or (spec.min_box_length is not None and final_box() < spec.min_box_length):
        seq = monomer_sequence(spec.copolymer, dp, spec.fractions, rng, spec.block_lengths)
        order = [head_idx, *seq, tail_idx]
        # chain-end units take the template's end-unit types when they are the same monomer
        if seq[0] == prep.sequence[0]:
            order[1] = first_idx
        if seq[-1] == prep.sequence[-1] and dp > 1:
            order[-2] = last_idx
        sequences.append(seq)
        orders.append(order)
        mirrors.append([False, *mirror_flags(spec.tacticity, dp, rng), False])
        vdw_volume += end_volume + sum(unit_volumes[m] for m in seq)
    n_chains = len(orders)

    top = _topology(residues, orders)
    ff = assign(top, params)
    total_mass = sum(ff.masses[t] for t in top.types)
    box = box_length(total_mass, spec.density)

    def grow(n: int, obstacles) -> np.ndarray:
        return grow_chain(residues, orders[n], mirrors[n], rng, min_distance=spec.min_distance, box=box,
                          obstacles=obstacles)

    packed = grow_in_box(grow, n_chains, box)
    coords, images = packed.wrapped()
    dmin, dmin_nb = min_distances(packed.coords, box, top.bonds)
    tacticity = _achieved_tacticity(residues, orders, packed.coords)
    estimated = amber.estimated_parameters(frcmod)
    counts = np.bincount(np.concatenate(sequences), minlength=n_units)
    summary = {
        "n_atoms": top.n_atoms,
        "n_chains": n_chains,
        "n_chains_requested": spec.n_chains,
        "degree_of_polymerization": dp,
        "atoms_per_chain": top.n_atoms // n_chains,
        "composition": (counts / counts.sum()).tolist(),
        "unit_counts": counts.tolist(),
        "box_length_angstrom": box,
        "density_g_cm3": total_mass / AVOGADRO / (box**3 * 1e-24),
        "estimated_density_g_cm3": estimated_density(total_mass, vdw_volume),
        "estimated_final_box_length_angstrom": final_box(),
        "min_box_length_angstrom": spec.min_box_length,
        "van_der_waals_volume_angstrom3": {"repeat_units": unit_volumes, "end_groups": end_volume,
                                           "cell": vdw_volume, "packing_coefficient": PACKING_COEFFICIENT},
        "total_mass_g_mol": total_mass,
        "net_charge": float(top.charges.sum()),
        "min_distance_angstrom": dmin,
        "min_nonbonded_distance_angstrom": dmin_nb,
        "tacticity_requested": spec.tacticity,
        "meso_dyad_fraction": tacticity,
        "counts": {"bonds": len(ff.bond_terms), "angles": len(ff.angle_terms),
                   "dihedrals": len(ff.dihedral_terms), "impropers": len(ff.improper_terms),
                   "atom_types": len(ff.masses)},
        "estimated_parameters": estimated,
        "monomer_sequences": [[str(m) for m in seq] for seq in sequences] if n_units > 1 else None,
        "build_seconds": time.perf_counter() - start,
    }
    return Cell(topology=top, forcefield=ff, coords=coords, images=images, box=box, residues=residues,
                summary=summary)


def check_charges(fragments: list[Fragment], charges: list[np.ndarray], tolerance: float = 1e-6) -> None:
    """Each fragment gets one charge per atom and is neutral (ValueError otherwise)."""
    if len(charges) != len(fragments):
        raise ValueError(f"{len(charges)} charge sets for {len(fragments)} fragments (units, head, tail)")
    for frag, q in zip(fragments, charges, strict=True):
        q = np.asarray(q, dtype=float)
        if q.shape != (frag.n_atoms,) or not np.all(np.isfinite(q)):
            raise ValueError(f"{frag.smiles}: {q.size} charges for {frag.n_atoms} atoms")
        if abs(q.sum()) > tolerance:
            raise ValueError(f"{frag.smiles}: charges sum to {q.sum():.2e}, not 0")


def _topology(residues: list[Residue], orders: list[list[int]]) -> Topology:
    types: list[str] = []
    charges: list[np.ndarray] = []
    elements: list[str] = []
    molecule: list[int] = []
    bonds: list[tuple[int, int]] = []
    for chain_id, order in enumerate(orders, 1):
        prev_link = None
        for r in order:
            res = residues[r]
            offset = len(types)
            types += res.types
            elements += res.elements
            charges.append(res.charges)
            molecule += [chain_id] * res.n_atoms
            bonds += [(offset + i, offset + j) for i, j in res.bonds]
            if prev_link is not None:
                bonds.append((prev_link, offset + res.head))
            prev_link = None if res.tail is None else offset + res.tail
    return Topology(types=types, charges=np.concatenate(charges), molecule=np.array(molecule),
                    bonds=np.array(bonds, dtype=int), elements=elements)


def _achieved_tacticity(residues: list[Residue], orders: list[list[int]], coords: np.ndarray) -> float | None:
    """Fraction of meso dyads measured from the built coordinates (None when the units have no stereocentre)."""
    fractions, offset = [], 0
    for order in orders:
        signs = []
        for r in order:
            res = residues[r]
            signs.append(chirality_signs(res, coords[offset : offset + res.n_atoms]) if res.stereocentres else [])
            offset += res.n_atoms
        f = meso_fraction(signs)
        if f is not None:
            fractions.append(f)
    return float(np.mean(fractions)) if fractions else None


def build_cell(spec: CellSpec) -> Cell:
    """The whole build in one call, running AmberTools directly (no AiiDA)."""
    prep = prepare(spec)
    types, frcmod = amber.assign_gaff2(prep.template.mol)
    return build(spec, prep, types, frcmod, amber.gaff2_dat().read_text())
