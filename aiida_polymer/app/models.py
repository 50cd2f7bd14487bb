"""What the app's pages compute, as pure functions (no widgets, no browser): checking the repeat-unit input, its
2D depiction, the protocol's cost estimate, the submission's overrides, the property table in words and the
filtering of the database table. The widgets in :mod:`aiida_polymer.app` only call these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D

from ..chem.flags import FLAGS, failed_gate, shown_flags
from ..chem.monomer import MonomerError, parse_end_group, parse_repeat_unit
from ..chem.protocols import NAMES as PROTOCOLS

TACTICITIES = ("atactic", "isotactic", "syndiotactic")
COPOLYMERS = ("alternating", "random", "block")
HEAD_COLOUR = (0.85, 0.15, 0.15)  # the head '*' (the first in the SMILES)
TAIL_COLOUR = (0.15, 0.35, 0.85)  # the tail '*'
# LAMMPS throughput of an all-atom melt with PPPM on this kind of machine (docs: install facts): atom-steps/s/core
ATOM_STEPS_PER_CORE_SECOND = 1.0e5
MELT_DENSITY = 0.9  # g/cm³, for the number of atoms the smallest box for the cut-off needs
AVOGADRO = 6.02214076e23


@dataclass
class UnitCheck:
    """The repeat-unit input checked: ``units`` (the SMILES as typed, split on ``.`` or new lines), ``canonical``
    (RDKit's canonical SMILES of each valid unit), ``errors`` (one line per bad unit; empty: all good) and the
    depiction (SVG) of the valid ones."""

    units: list[str] = field(default_factory=list)
    canonical: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    svg: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.units) and not self.errors


def split_units(text: str) -> list[str]:
    """The repeat units of the input: separated by new lines, commas, spaces or ``.`` (as a library row)."""
    return [part for part in re.split(r"[\s,.]+", text or "") if part]


def check_units(text: str, depict: bool = True) -> UnitCheck:
    """Check each repeat unit of ``text`` as the workflows will (two ``*``, one fragment, supported elements,
    neutral, ...): the errors are :class:`~aiida_polymer.chem.monomer.MonomerError`'s messages."""
    check = UnitCheck(units=split_units(text))
    if not check.units:
        check.errors.append("type a repeat unit: a SMILES with two '*' (head and tail), e.g. *CC(*)c1ccccc1")
        return check
    for i, smiles in enumerate(check.units, 1):
        try:
            check.canonical.append(parse_repeat_unit(smiles).canonical)
        except MonomerError as exc:
            where = f"unit {i}: " if len(check.units) > 1 else ""
            check.errors.append(where + str(exc))
    if depict:
        good = [s for s in check.units if _parses(s)]
        check.svg = depiction_svg(good) if good else ""
    return check


def _parses(smiles: str) -> bool:
    try:
        parse_repeat_unit(smiles)
    except MonomerError:
        return False
    return True


def star_atoms(mol: Chem.Mol) -> tuple[int | None, int | None]:
    """Indices of the head (first) and tail (second) ``*`` of ``mol``."""
    stars = [atom.GetIdx() for atom in mol.GetAtoms() if atom.GetAtomicNum() == 0]
    return (stars[0] if stars else None), (stars[1] if len(stars) > 1 else None)


def depiction_svg(units: Sequence[str], size: tuple[int, int] = (260, 200)) -> str:
    """An SVG of the repeat units side by side, the head ``*`` red and labelled "head", the tail ``*`` blue and
    labelled "tail"."""
    mols, highlights, colours = [], [], []
    for smiles in units:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        head, tail = star_atoms(mol)
        marked = {}
        for index, note, colour in ((head, "head", HEAD_COLOUR), (tail, "tail", TAIL_COLOUR)):
            if index is not None:
                mol.GetAtomWithIdx(index).SetProp("atomNote", note)
                marked[index] = colour
        mols.append(mol)
        highlights.append(list(marked))
        colours.append(marked)
    if not mols:
        return ""
    width, height = size
    drawer = rdMolDraw2D.MolDraw2DSVG(width * len(mols), height, width, height, noFreetype=True)  # text as text
    options = drawer.drawOptions()
    options.annotationFontScale = 0.8
    options.clearBackground = True
    drawer.DrawMolecules(mols, highlightAtoms=highlights, highlightAtomColors=colours,
                         highlightBonds=[[] for _ in mols], legends=list(units[: len(mols)]))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def check_end_group(text: str, what: str) -> str | None:
    """The error of an end-group SMILES (one ``*``), None when it is fine or empty (the default, ``*C``)."""
    if not (text or "").strip():
        return None
    try:
        parse_end_group(text.strip())
    except MonomerError as exc:
        return f"{what}: {exc}"
    return None


def parse_fractions(text: str, n_units: int) -> tuple[list[float] | None, str | None]:
    """``"0.7, 0.3"`` -> ([0.7, 0.3], None); empty -> (None, None) (equal fractions); bad -> (None, why)."""
    if not (text or "").strip():
        return None, None
    try:
        values = [float(x) for x in re.split(r"[\s,;]+", text.strip()) if x]
    except ValueError:
        return None, f"fractions {text!r}: write numbers separated by commas, e.g. 0.7, 0.3"
    if len(values) != n_units:
        return None, f"{len(values)} fractions for {n_units} repeat units"
    if any(not math.isfinite(v) or v <= 0 for v in values):
        return None, "fractions must be positive numbers"
    return values, None


# ---------------------------------------------------------------------------------------------------------------
# Cost estimate
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class CostEstimate:
    """``atoms`` of the equilibration cell (and ``nemd_atoms``), MD ``steps`` per part, the total atom-steps and
    the wall time on ``cores`` cores (seconds); ``qm_jobs``: the Psi4 unit jobs (one per distinct fragment,
    cached across runs)."""

    protocol: str
    description: str
    atoms: int
    nemd_atoms: int
    steps: dict[str, int]
    atom_steps: float
    cores: int
    seconds: float
    qm_jobs: int

    def text(self) -> str:
        parts = ", ".join(f"{name} {steps:,} steps" for name, steps in self.steps.items())
        nemd = f"{self.nemd_atoms:,} in NEMD" if self.nemd_atoms else "no NEMD"
        return (f"{self.protocol}: about {self.atoms:,} atoms ({nemd}); {parts}; "
                f"MD ≈ {human_time(self.seconds)} on {self.cores} core{'s' if self.cores != 1 else ''}, plus "
                f"{self.qm_jobs} Psi4 job{'s' if self.qm_jobs != 1 else ''} (RESP charges and polarizability, "
                f"computed once per unit and protocol). {self.description}")


def human_time(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _mass_per_atom(units: Sequence[str]) -> float:
    masses = []
    for smiles in units:
        try:
            fragment = parse_repeat_unit(smiles)
        except MonomerError:
            continue
        masses.append(fragment.mass / fragment.n_atoms)
    return sum(masses) / len(masses) if masses else 14.027 / 3  # CH2


def cost_estimate(protocol: str, units: Sequence[str] = ("*CC*",), cores: int = 2,
                  overrides: Mapping[str, Any] | None = None) -> CostEstimate:
    """The MD work of ``protocol`` for ``units``: the cell (``n_chains`` × ``atoms_per_chain``, at least as many
    atoms as the builder's smallest box for the cut-off holds at 0.9 g/cm³), packing + compression + the longest
    production (every segment), and NEMD on the replicated cell (where the protocol runs it); seconds at
    :data:`ATOM_STEPS_PER_CORE_SECOND` per core. An estimate to choose a protocol by, not a promise (packing is
    cheaper per step, PPPM dearer at high accuracy)."""
    from ..chem import protocols
    from ..chem.builder import box_length_for_cutoff
    from ..chem.equilibration import compression_stages, packing_stage, production_stage
    from ..chem.equilibration import protocol as equilibrate_protocol

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    settings = equilibrate_protocol(protocol, dict((overrides or {}).get("equilibrate") or {}))
    nemd = protocols.settings("nemd.yaml", protocol, dict((overrides or {}).get("nemd") or {}))
    cell, md = settings["cell"], settings["md"]
    box = (box_length_for_cutoff(md["cutoff"]) * 1e-8) ** 3  # cm³, the builder's smallest box
    minimum = MELT_DENSITY * box * AVOGADRO / _mass_per_atom(units)
    per_chain = cell.get("atoms_per_chain") or 100
    atoms = max(cell["n_chains"] * per_chain, math.ceil(minimum / per_chain) * per_chain)
    production = production_stage(settings).steps * settings["production"]["max_segments"]
    steps = {"packing": packing_stage(settings).steps,
             "compression": sum(stage.steps for stage in compression_stages(settings)),
             "production": production}
    replicate = math.prod(nemd.get("replicate") or [1])
    nemd_steps = 0
    if nemd.get("run", True):  # screening leaves NEMD out unless switched on
        nemd_steps = protocols.steps(nemd["nvt"]["duration"] + nemd["nemd"]["duration"], nemd["md"]["timestep"])
        steps["NEMD"] = nemd_steps
    atom_steps = atoms * (steps["packing"] + steps["compression"] + production) + atoms * replicate * nemd_steps
    seconds = atom_steps / (ATOM_STEPS_PER_CORE_SECOND * max(1, cores))
    distinct = {s for s in units if _parses(s)} or {"*CC*"}
    nemd_atoms = int(atoms * replicate) if nemd_steps else 0
    return CostEstimate(protocol, settings.get("description", ""), int(atoms), nemd_atoms, steps,
                        float(atom_steps), cores, seconds, len(distinct))


# ---------------------------------------------------------------------------------------------------------------
# Submission
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Request:
    """What the New polymer page submits: the units, protocol and the ``overrides`` of
    :meth:`~aiida_polymer.workchains.properties.PropertiesWorkChain.get_builder_from_protocol`; ``errors``: why
    it cannot be submitted (empty: it can)."""

    units: list[str]
    protocol: str
    overrides: dict[str, Any]
    temperature: float | None = None
    pressure: float | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def make_request(text: str, protocol: str = "fast", tacticity: str = "atactic", head_group: str = "",
                 tail_group: str = "", copolymer: str = "random", fractions: str = "",
                 temperature: float | None = None, pressure: float | None = None) -> Request:
    """The submission for the page's fields, with every reason it cannot go (as the CLI's ``submit`` checks)."""
    check = check_units(text, depict=False)
    errors = list(check.errors)
    if protocol not in PROTOCOLS:
        errors.append(f"unknown protocol {protocol!r}")
    cell: dict[str, Any] = {}
    if tacticity and tacticity != "atactic":
        cell["tacticity"] = tacticity
    for value, key, what in ((head_group, "head_group", "head group"), (tail_group, "tail_group", "tail group")):
        if (error := check_end_group(value, what)) is not None:
            errors.append(error)
        elif value.strip():
            cell[key] = value.strip()
    if len(check.units) > 1:
        if copolymer not in COPOLYMERS:
            errors.append(f"several repeat units: choose how they are laid out ({', '.join(COPOLYMERS)})")
        else:
            cell["copolymer"] = copolymer
        values, error = parse_fractions(fractions, len(check.units))
        if error:
            errors.append(error)
        elif values:
            cell["fractions"] = values
    for value, what in ((temperature, "temperature"), (pressure, "pressure")):
        if value is not None and not (math.isfinite(value) and value > 0):
            errors.append(f"{what} must be a positive number")
    overrides = {"equilibrate": {"cell": cell}} if cell else {}
    return Request(check.units, protocol, overrides, temperature, pressure, errors)


# ---------------------------------------------------------------------------------------------------------------
# Results: the property table in words
# ---------------------------------------------------------------------------------------------------------------
UNIT_SCALE = {  # display units, as `aiida-polymer show` prints them: (factor, unit)
    "self_diffusion": (1e9, "1e-9 m²/s"),
    "isothermal_compressibility": (1e10, "1e-10 1/Pa"), "isentropic_compressibility": (1e10, "1e-10 1/Pa"),
    "isothermal_bulk_modulus": (1e-9, "GPa"), "isentropic_bulk_modulus": (1e-9, "GPa"),
    "volumetric_thermal_expansion": (1e4, "1e-4 1/K"), "linear_thermal_expansion": (1e4, "1e-4 1/K"),
    "thermal_diffusivity": (1e7, "1e-7 m²/s"),
}


@dataclass
class PropertyRow:
    name: str
    value: str
    unit: str
    flags: list[str]
    result: bool  # False: the value failed its own checks (a gate flag)


def property_rows(table: Mapping[str, Mapping[str, Any]]) -> list[PropertyRow]:
    """One row per property: "value ± standard error" in display units, or "— (reason)" where a gate flag says the
    value is not a result; its flags (with ``noise`` added as ``show`` adds it)."""
    rows = []
    for name, entry in table.items():
        factor, unit = UNIT_SCALE.get(name, (1.0, entry.get("unit") or ""))
        value, err = entry.get("value"), entry.get("stderr")
        failed = failed_gate(entry)
        if failed or value is None:
            text = f"— ({failed or 'no value'})"
        else:
            text = f"{value * factor:.4g}" + (f" ± {err * factor:.2g}" if err is not None else "")
        rows.append(PropertyRow(name, text, unit, shown_flags(entry), not failed and value is not None))
    return rows


def flag_glossary(rows: Sequence[PropertyRow]) -> list[tuple[str, bool, str]]:
    """(flag, gate, meaning) of every flag the rows carry, in order of first appearance."""
    seen = dict.fromkeys(flag for row in rows for flag in row.flags)
    return [(flag, FLAGS.get(flag, (False, flag))[0], FLAGS.get(flag, (False, flag))[1]) for flag in seen]


def property_table_html(table: Mapping[str, Mapping[str, Any]]) -> str:
    """The property table as HTML (class ``polymer-property-table``) with the flags explained beneath it."""
    from html import escape

    rows = property_rows(table)
    body = "".join(
        f"<tr class='{'' if row.result else 'polymer-gated'}'><td>{escape(row.name)}</td><td>{escape(row.value)}"
        f"</td><td>{escape(row.unit)}</td><td>{escape(', '.join(row.flags))}</td></tr>" for row in rows)
    glossary = "".join(f"<li><code>{escape(flag)}</code>{' (not a result)' if gate else ''}: {escape(meaning)}</li>"
                       for flag, gate, meaning in flag_glossary(rows))
    return ("<table class='polymer-property-table' style='border-collapse:collapse'>"
            "<thead><tr><th style='text-align:left'>property</th><th style='text-align:left'>value ± standard error"
            "</th><th style='text-align:left'>unit</th><th style='text-align:left'>flags</th></tr></thead>"
            f"<tbody>{body}</tbody></table>" + (f"<p>Flags:</p><ul class='polymer-flags'>{glossary}</ul>"
                                               if glossary else ""))


# ---------------------------------------------------------------------------------------------------------------
# Database: filtering the table
# ---------------------------------------------------------------------------------------------------------------
def split_conditions(text: str) -> list[str]:
    """``"density>1.1, protocol==fast"`` (commas, semicolons or new lines) -> the conditions of ``query``."""
    return [part.strip() for part in re.split(r"[,;\n]+", text or "") if part.strip()]


def filter_frame(frame, where: str = "", contains: str = "", sort: str | None = None):
    """The rows of ``frame`` (a :func:`aiida_polymer.database.query` DataFrame) that meet every condition of
    ``where`` (as ``aiida-polymer query --where``) and whose repeat unit or key contains ``contains``, sorted by
    ``sort`` (``-`` first: descending; missing values last). Raises
    :class:`~aiida_polymer.database.QueryError` for a bad condition (the message says why)."""
    from ..database.query import Condition, QueryError

    keep = None
    for text in split_conditions(where):
        condition = Condition(text)
        if condition.column not in frame.columns:
            raise QueryError(f"column {condition.column!r} is not in the table")
        mask = condition.mask(frame[condition.column])
        keep = mask if keep is None else keep & mask
    if keep is not None:
        frame = frame[keep]
    needle = (contains or "").strip()
    if needle:
        columns = [c for c in ("smiles", "key", "library_id") if c in frame.columns]
        hit = None
        for c in columns:
            m = frame[c].astype(str).str.contains(needle, regex=False)
            hit = m if hit is None else hit | m
        if hit is not None:
            frame = frame[hit]
    if sort:
        name = sort.lstrip("+-")
        if name not in frame.columns:
            raise QueryError(f"unknown sort column {name!r}")
        frame = frame.sort_values(name, ascending=not sort.startswith("-"), kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def query_pk(query_string: str) -> int | None:
    """The ``pk`` of a page's query string (``pk=12&...``; Voilà passes it to the kernel as ``QUERY_STRING``,
    appmode in the notebook URL), None when absent or not a number."""
    from urllib.parse import parse_qs

    values = parse_qs((query_string or "").lstrip("?")).get("pk") or []
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None
