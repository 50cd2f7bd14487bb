"""Validation of computed polymer properties against experiment and RadonPy's published MD table (no AiiDA here).

Inputs are plain tables:

- ours: rows of a campaign table (:func:`aiida_polymer.database.campaign_table`; ``smiles`` the canonical repeat
  unit, ``protocol``, ``temperature``, ``pressure``, ``library_id`` and per property ``<name>``,
  ``<name>_stderr``, ``<name>_unit``, ``<name>_flags``), of one group or of several (replicates);
- experiment: a CSV in the format of the shipped ``experimental_dev.csv`` (``polymer, smiles, property, value,
  unit, source_key, ...``; source property names density, n_D, Cp, lambda, alpha_V, epsilon in their source units,
  converted here; ``Tg`` and other names the pipeline does not compute are left out), a value ``a-b`` being a range
  and kept as one; or the long format of ``reference/experiment.csv`` (``canonical_smiles``, pipeline names,
  ``value`` ± ``spread`` read as the range [value − spread, value + spread]);
- RadonPy: a CSV in the format of RadonPy's ``PI1070.csv`` (``monomer_ID, smiles, <column>, <column>_std,
  <column>_count``) or the long format of the shipped ``reference/radonpy.csv.gz`` (``spread`` = RadonPy's
  run-to-run SD). RadonPy's ``static_dielectric_const`` is only the orientational (dipole-fluctuation) part: it
  is compared with our ``dielectric_orientational``; its ``dielectric_const_dc`` (ε_or − 1 + n², computed here
  from the two means when a file lacks it) with our ``dielectric_constant`` and with experiment's ε.

Polymers are matched by :func:`aiida_polymer.campaign.identity.canonical_repeat_unit` (RadonPy writes PP as
``*C(C*)C``, PE as ``*CC*``: the same units as ``*CC(*)C`` and ``*C*``). A unit with stereo marks is kept in its
own frame by that function, so where no reference has the exact unit, the unit without its stereo marks is tried
(cis-1,4-polyisoprene ``*C/C(C)=C\\C*`` against RadonPy's ``*CCC=C(*)C``, whose double bond is not specified; never
against a reference with marks of its own, such as RadonPy's trans isomer ``*/C(=C/CC*)C``); the table says which
match it used.
Only our rows at the references' state point (300 K, 1 atm) are compared.

Per polymer and property (:func:`validation_rows`): our value (the mean over replicates), its standard error
(block SE; for k replicates sqrt(Σ SE²)/k), the run-to-run SD over replicates (k ≥ 2), experiment (the mean of the
sources' values, and the range [lowest, highest] they span, a source's own range included) and RadonPy's mean ±
SD. Per property (:func:`statistics`): n, MAE, bias (ours − reference), relative bias, Pearson and Spearman r;
against RadonPy the fraction of polymers within RadonPy's SD (of those with SD > 0); against experiment the
fraction inside the range and the mean distance to it (0 inside). A value gated by its own check (not a result,
:mod:`aiida_polymer.chem.flags`) is tabulated with its flags and left out of the statistics.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from ..chem.flags import FLAGS

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
SHIPPED_EXPERIMENT = REFERENCE_DIR / "experimental_dev.csv"
SHIPPED_RADONPY = REFERENCE_DIR / "radonpy.csv.gz"
STATE_POINT = (300.0, 1.0)  # K, atm: the references' (RadonPy's temp/press columns; experiment at about 300 K)

# Experiment (experimental_dev.csv) property: (pipeline property, factor to the pipeline's unit, source unit(s),
# pipeline unit)
EXPERIMENT_PROPERTIES: dict[str, tuple[str, float, tuple[str, ...], str]] = {
    "density": ("density", 1.0, ("g/cm3", "g/cm^3"), "g/cm^3"),
    "n_D": ("refractive_index", 1.0, ("-", "1", ""), "1"),
    "Cp": ("heat_capacity_cp", 1000.0, ("J/(g K)", "J/(g*K)", "J/g/K"), "J/(kg K)"),
    "lambda": ("thermal_conductivity", 1.0, ("W/(m K)", "W/(m*K)", "W/m/K"), "W/(m K)"),
    "alpha_V": ("volumetric_thermal_expansion", 1e-4, ("1e-4/K", "1e-4 1/K"), "1/K"),
    "epsilon": ("dielectric_constant", 1.0, ("-", "1", ""), "1"),
}
# RadonPy (PI1070.csv) column: (pipeline property, unit)
RADONPY_COLUMNS: dict[str, tuple[str, str]] = {
    "density": ("density", "g/cm^3"),
    "Rg": ("rg", "Angstrom"),
    "self-diffusion": ("self_diffusion", "m^2/s"),
    "Cp": ("heat_capacity_cp", "J/(kg K)"),
    "Cv": ("heat_capacity_cv", "J/(kg K)"),
    "compressibility": ("isothermal_compressibility", "1/Pa"),
    "bulk_modulus": ("isothermal_bulk_modulus", "Pa"),
    "isentropic_compressibility": ("isentropic_compressibility", "1/Pa"),
    "isentropic_bulk_modulus": ("isentropic_bulk_modulus", "Pa"),
    "volume_expansion": ("volumetric_thermal_expansion", "1/K"),
    "linear_expansion": ("linear_thermal_expansion", "1/K"),
    "static_dielectric_const": ("dielectric_orientational", "1"),  # orientational part only
    "dielectric_const_dc": ("dielectric_constant", "1"),  # = static_dielectric_const - 1 + n^2
    "nematic_order_parameter": ("nematic_order", "1"),
    "refractive_index": ("refractive_index", "1"),
    "thermal_conductivity": ("thermal_conductivity", "W/(m K)"),
    "thermal_diffusivity": ("thermal_diffusivity", "m^2/s"),
}
# our property -> the experimental property it is compared with, where the names differ: the measured heat capacity
# includes the quantum freezing of stiff vibrations, so it is compared with our quantum-corrected Cp (and, to show
# the classical bias, with the classical one too); RadonPy's Cp is classical (no quantum entry there).
EXPERIMENT_FOR = {"heat_capacity_cp_quantum": "heat_capacity_cp", "heat_capacity_cv_quantum": "heat_capacity_cv"}
UNIT_ALIASES = {"g/cm3": "g/cm^3", "-": "1", "": "1", "J/(kg*K)": "J/(kg K)", "W/(m*K)": "W/(m K)", "m2/s": "m^2/s"}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:-|–|to)\s*({_NUMBER})\s*$")

TABLE_COLUMNS = [
    "polymer", "smiles", "protocol", "property", "unit",
    "ours", "ours_stderr", "ours_sd", "ours_n", "ours_flags", "ours_gated",
    "experiment", "experiment_low", "experiment_high", "experiment_sources", "experiment_match",
    "radonpy", "radonpy_sd", "radonpy_n", "radonpy_id", "radonpy_match",
    "diff_experiment", "distance_to_range", "diff_radonpy", "diff_radonpy_in_sd", "within_radonpy_sd",
]
STATS_COLUMNS = ["protocol", "property", "compared", "unit", "n", "mae", "bias", "relative_bias", "pearson",
                 "spearman", "n_sd", "within_sd_fraction", "n_range", "in_range_fraction", "mean_distance_to_range"]


class ValidationError(ValueError):
    """A reference or table that cannot be used; the message names the file, line or column and the problem."""


def normal_unit(unit: str | None) -> str:
    unit = (unit or "").strip()
    return UNIT_ALIASES.get(unit, unit)


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------


def ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n of ``x``, ties given the mean of the ranks they span (as Spearman's r needs)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    out = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        out[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r; None for fewer than 2 pairs or no spread in either."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (x.std() * y.std()))


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's r: Pearson's r of the ranks (ties averaged)."""
    return pearson(ranks(x), ranks(y)) if len(x) >= 2 else None


def distance_to_range(value: float, low: float, high: float) -> float:
    """0 inside [low, high], else the distance to the nearer end."""
    return max(0.0, low - value, value - high)


def statistics(ours: Sequence[float], reference: Sequence[float], sd: Sequence[float | None] | None = None,
               low: Sequence[float] | None = None, high: Sequence[float] | None = None) -> dict[str, Any]:
    """Agreement of ``ours`` with ``reference`` over the pairs where both are finite: n, MAE = mean |d|, bias =
    mean d (d = ours − reference), relative bias = mean d/reference, Pearson and Spearman r; with ``sd`` (the
    reference's run-to-run SD) n_sd and the fraction with |d| ≤ SD among the pairs with SD > 0; with ``low`` and
    ``high`` (the reference's range) n_range, the fraction inside it and the mean distance to it."""
    c, r = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    if c.shape != r.shape:
        raise ValueError("ours and reference must have the same length")
    keep = np.isfinite(c) & np.isfinite(r)
    c, r = c[keep], r[keep]
    out: dict[str, Any] = {"n": len(c), "mae": None, "bias": None, "relative_bias": None, "pearson": None,
                           "spearman": None, "n_sd": 0, "within_sd_fraction": None, "n_range": 0,
                           "in_range_fraction": None, "mean_distance_to_range": None}
    if not len(c):
        return out
    d = c - r
    out.update(mae=float(np.abs(d).mean()), bias=float(d.mean()), pearson=pearson(c, r), spearman=spearman(c, r))
    if np.all(r != 0):
        out["relative_bias"] = float(np.mean(d / r))
    if sd is not None:
        s = np.array([np.nan if v is None else v for v in sd], dtype=float)[keep]
        has = np.isfinite(s) & (s > 0)
        out["n_sd"] = int(has.sum())
        if has.any():
            out["within_sd_fraction"] = float(np.mean(np.abs(d[has]) <= s[has]))
    if low is not None and high is not None:
        lo = np.asarray(low, dtype=float)[keep]
        hi = np.asarray(high, dtype=float)[keep]
        has = np.isfinite(lo) & np.isfinite(hi)
        out["n_range"] = int(has.sum())
        if has.any():
            dist = np.array([distance_to_range(x, a, b) for x, a, b in zip(c[has], lo[has], hi[has], strict=True)])
            out["in_range_fraction"] = float(np.mean(dist == 0))
            out["mean_distance_to_range"] = float(dist.mean())
    return out


# ---------------------------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Reference:
    """One reference value of one polymer property: ``value`` (experiment: the mean of the sources), ``low`` and
    ``high`` (the range the sources span; equal to ``value`` for one plain number), ``sd`` (RadonPy's run-to-run
    SD) and ``n`` (its runs), ``sources`` (``;``-joined), ``polymer`` (name or RadonPy id), ``unit``."""

    polymer: str
    smiles: str
    property: str
    value: float
    unit: str
    low: float = math.nan
    high: float = math.nan
    sd: float | None = None
    n: int | None = None
    sources: str = ""
    match: str = "exact"


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def _reader(path: str | Path, what: str) -> tuple[csv.DictReader, Path]:
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{what} file {str(path)!r} not found")
    try:
        text = _text(path)
    except (OSError, UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise ValidationError(f"{what} file {path.name}: cannot be read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValidationError(f"{what} file {path.name}: empty (no header line)")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    return reader, path


def _float(text: Any) -> float | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_value(text: str) -> tuple[float, float]:
    """(low, high) of ``'1.054-1.070'`` (a range, either order) or of ``'0.85'`` (low = high); ValueError else."""
    text = (text or "").strip()
    match = _RANGE.match(text)
    if match:
        a, b = float(match.group(1)), float(match.group(2))
        return min(a, b), max(a, b)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value, value


Canonical = Callable[[str], str]


@functools.cache
def _default_canonical() -> Canonical:
    """:func:`~aiida_polymer.campaign.identity.canonical_repeat_unit`, remembered per SMILES (a reference file
    repeats each unit once per property and source)."""
    from rdkit import RDLogger

    from ..campaign.identity import canonical_repeat_unit

    RDLogger.DisableLog("rdApp.*")
    return functools.lru_cache(maxsize=4096)(canonical_repeat_unit)


def without_stereo(smiles: str) -> str:
    """``smiles`` with its stereo marks (/, \\, @) removed, through RDKit (then canonicalise it again)."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return smiles
    Chem.RemoveStereochemistry(mol)
    return Chem.MolToSmiles(mol)


def formula_key(smiles: str) -> str | None:
    """The heavy and hydrogen atom counts of a repeat unit divided by their gcd: the same for every frame and
    multiple of one polymer (a cheap test before the canonical SMILES); None if RDKit cannot read it."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    counts: dict[str, int] = defaultdict(int)
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            continue
        counts[atom.GetSymbol()] += 1
        counts["H"] += atom.GetTotalNumHs()
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        return None
    g = 0
    for v in counts.values():
        g = gcd(g, v)
    return ",".join(f"{k}{v // g}" for k, v in sorted(counts.items()))


def read_experiment(source: str | Path | None = None, canonical: Canonical | None = None) -> list[Reference]:
    """The experimental references (one per source value) of a CSV in either format (see the module); default the
    shipped development set. Unknown property names (Tg, ...) are left out; a wrong unit, a value that is not a
    number or range, or a SMILES that is not a repeat unit is an error naming the line."""
    reader, path = _reader(source or SHIPPED_EXPERIMENT, "experiment")
    columns = set(reader.fieldnames or [])
    missing = [c for c in ("property", "value") if c not in columns]
    if "smiles" not in columns and "canonical_smiles" not in columns:
        missing.insert(0, "smiles")
    if missing:
        raise ValidationError(f"experiment file {path.name}: missing column(s) {', '.join(missing)} (columns: "
                              f"{', '.join(reader.fieldnames or [])}; expected polymer, smiles, property, value, "
                              f"unit, source_key as in experimental_dev.csv)")
    canonical = canonical or _default_canonical()
    pipeline_units = _pipeline_units()
    out = []
    for line, row in enumerate(reader, start=2):
        name = (row.get("property") or "").strip()
        unit = (row.get("unit") or "").strip()
        if not (row.get("value") or "").strip():
            continue  # no value given
        if name in EXPERIMENT_PROPERTIES:
            target, factor, units, target_unit = EXPERIMENT_PROPERTIES[name]
            if "unit" in columns and unit not in units:
                raise ValidationError(f"experiment file {path.name} line {line}: {name} in {unit!r}, expected "
                                      f"{' or '.join(repr(u) for u in units)}")
        elif name in pipeline_units:
            target, factor, target_unit = name, 1.0, pipeline_units[name]
            if "unit" in columns and normal_unit(unit) != normal_unit(target_unit):
                raise ValidationError(f"experiment file {path.name} line {line}: {name} in {unit!r}, expected "
                                      f"{target_unit!r}")
        else:
            continue  # Tg and other properties the pipeline does not compute
        try:
            low, high = parse_value(row.get("value") or "")
        except ValueError:
            raise ValidationError(f"experiment file {path.name} line {line}: value {row.get('value')!r} is not a "
                                  f"number or a range a-b") from None
        spread = _float(row.get("spread"))
        if spread and low == high:
            low, high = low - spread, high + spread
        smiles = (row.get("canonical_smiles") or "").strip()
        if not smiles:
            try:
                smiles = canonical((row.get("smiles") or "").strip())
            except Exception as exc:  # MonomerError, RDKit: the file's fault, said with its line
                raise ValidationError(f"experiment file {path.name} line {line}: smiles {row.get('smiles')!r}: "
                                      f"{exc}") from None
        low, high = low * factor, high * factor
        out.append(Reference(polymer=(row.get("polymer") or "").strip() or smiles, smiles=smiles, property=target,
                             value=0.5 * (low + high), unit=target_unit, low=low, high=high,
                             sources=(row.get("source_key") or row.get("source") or "").strip()))
    return out


def _pipeline_units() -> dict[str, str]:
    from ..calcfunctions.nemd import UNITS as NEMD_UNITS
    from ..chem.analysis import UNITS

    return {**UNITS, **NEMD_UNITS}


def read_radonpy(source: str | Path | None = None, wanted: Iterable[str] | None = None,
                 canonical: Canonical | None = None) -> list[Reference]:
    """RadonPy's references (one per polymer and property) from a file in PI1070.csv's format or the shipped long
    format (default). ``wanted``: canonical units; a PI1070 row whose atom counts (:func:`formula_key`) match none
    of them is not canonicalised (1077 units take minutes otherwise) and left out. Rows whose SMILES the pipeline
    cannot read are left out."""
    reader, path = _reader(source or SHIPPED_RADONPY, "RadonPy")
    columns = set(reader.fieldnames or [])
    canonical = canonical or _default_canonical()
    if "monomer_ID" in columns or "density_std" in columns:
        return _radonpy_wide(reader, path, columns, wanted, canonical)
    missing = [c for c in ("property", "value") if c not in columns]
    if "smiles" not in columns and "canonical_smiles" not in columns:
        missing.insert(0, "smiles")
    if missing:
        raise ValidationError(f"RadonPy file {path.name}: missing column(s) {', '.join(missing)} (expected "
                              f"RadonPy's PI1070.csv columns monomer_ID, smiles, density, density_std, ... or the "
                              f"long format smiles, property, value, spread)")
    out = []
    for line, row in enumerate(reader, start=2):
        value = _float(row.get("value"))
        if value is None:
            continue
        smiles = (row.get("canonical_smiles") or "").strip()
        if not smiles:
            try:
                smiles = canonical((row.get("smiles") or "").strip())
            except Exception as exc:
                raise ValidationError(f"RadonPy file {path.name} line {line}: smiles {row.get('smiles')!r}: "
                                      f"{exc}") from None
        out.append(Reference(polymer=(row.get("polymer") or "").strip(), smiles=smiles,
                             property=(row.get("property") or "").strip(), value=value,
                             unit=normal_unit(row.get("unit")), low=value, high=value,
                             sd=_float(row.get("spread")), n=_int(row.get("n")),
                             sources=(row.get("source") or "RadonPy").strip()))
    return out


def _int(text: Any) -> int | None:
    value = _float(text)
    return None if value is None else int(value)


def _radonpy_wide(reader: csv.DictReader, path: Path, columns: set[str], wanted: Iterable[str] | None,
                  canonical: Canonical) -> list[Reference]:
    if "smiles" not in columns:
        raise ValidationError(f"RadonPy file {path.name}: missing column smiles")
    present = [c for c in RADONPY_COLUMNS if c in columns]
    if not present:
        raise ValidationError(f"RadonPy file {path.name}: none of the property columns "
                              f"{', '.join(RADONPY_COLUMNS)}")
    formulas = None
    if wanted is not None:
        formulas = {formula_key(w) for w in wanted} | {formula_key(without_stereo(w)) for w in wanted}
    out = []
    for row in reader:
        smiles = (row.get("smiles") or "").strip()
        if formulas is not None and formula_key(smiles) not in formulas:
            continue
        try:
            unit = canonical(smiles)
        except Exception:  # a unit the pipeline cannot read: not comparable
            continue
        values = {c: _float(row.get(c)) for c in RADONPY_COLUMNS}
        if values.get("dielectric_const_dc") is None and None not in (values.get("static_dielectric_const"),
                                                                        values.get("refractive_index")):
            values["dielectric_const_dc"] = values["static_dielectric_const"] - 1.0 + values["refractive_index"] ** 2
        for column, (name, target_unit) in RADONPY_COLUMNS.items():
            value = values.get(column)
            if value is None:
                continue
            sd = _float(row.get(f"{column}_std"))
            if column == "dielectric_const_dc" and "dielectric_const_dc" not in columns:
                sd_or, sd_n = _float(row.get("static_dielectric_const_std")), _float(row.get("refractive_index_std"))
                if sd_or is not None and sd_n is not None:
                    sd = math.hypot(sd_or, 2.0 * values["refractive_index"] * sd_n)  # independent errors
            out.append(Reference(polymer=(row.get("monomer_ID") or "").strip(), smiles=unit, property=name,
                                 value=value, unit=target_unit, low=value, high=value, sd=sd,
                                 n=_int(row.get(f"{column}_count")), sources="RadonPy"))
    return out


def index_references(references: Iterable[Reference], combine: bool) -> dict[tuple[str, str], Reference]:
    """(canonical unit, property) -> one reference. ``combine`` (experiment): the mean of the sources' values
    (a range counted as its midpoint), the range from the lowest to the highest any source gives, the sources
    joined; otherwise (RadonPy) the first row of a unit and property."""
    grouped: dict[tuple[str, str], list[Reference]] = defaultdict(list)
    for ref in references:
        grouped[(ref.smiles, ref.property)].append(ref)
    out = {}
    for key, items in grouped.items():
        if not combine:
            out[key] = items[0]
            continue
        lows = [i.low for i in items if math.isfinite(i.low)]
        highs = [i.high for i in items if math.isfinite(i.high)]
        out[key] = Reference(polymer=items[0].polymer, smiles=key[0], property=key[1],
                             value=float(np.mean([i.value for i in items])), unit=items[0].unit,
                             low=min(lows) if lows else math.nan, high=max(highs) if highs else math.nan,
                             sources=";".join(dict.fromkeys(i.sources for i in items if i.sources)))
    return out


STEREO = re.compile(r"[/\\@]")


def plain_unit(smiles: str, canonical: Canonical | None = None) -> str:
    """The canonical unit of ``smiles`` without stereo marks (``smiles`` itself when it has none)."""
    if not STEREO.search(smiles):
        return smiles
    try:
        return (canonical or _default_canonical())(without_stereo(smiles))
    except Exception:  # not a unit without its marks: only the exact match is possible
        return smiles


def plain_index(index: Mapping[tuple[str, str], Reference]) -> dict[tuple[str, str], Reference]:
    """The references of ``index`` whose unit has no stereo marks, each marked ``stereo ignored``: what a unit with
    marks may fall back to (a reference with marks of its own is another isomer, or the same one in another frame:
    never matched by dropping the marks; cis- and trans-polyisoprene are different polymers)."""
    return {key: Reference(**{**ref.__dict__, "match": "stereo ignored"}) for key, ref in index.items()
            if not STEREO.search(key[0])}


def match(smiles: str, index: Mapping[tuple[str, str], Reference], name: str,
          plain: Mapping[tuple[str, str], Reference] | None = None, plain_smiles: str | None = None
          ) -> Reference | None:
    """The reference of our unit ``smiles`` (canonical) and property ``name``: the exact unit, else (``match`` =
    ``"stereo ignored"``) a reference without stereo marks whose unit is ours without its marks (``plain``:
    :func:`plain_index` of ``index``, ``plain_smiles``: :func:`plain_unit` of ``smiles``)."""
    ref = index.get((smiles, name))
    if ref is None and plain is not None:
        ref = plain.get((plain_smiles or smiles, name))
    return ref


# ---------------------------------------------------------------------------------------------------------------
# Our values
# ---------------------------------------------------------------------------------------------------------------


def is_gated(flags: str | Sequence[str] | None) -> bool:
    items = [f for f in flags.split(";") if f] if isinstance(flags, str) else list(flags or [])
    return any(FLAGS.get(flag, (False,))[0] for flag in items)


@dataclass
class Ours:
    """Our value of one polymer property over its replicates: ``value`` the mean of the results (of the gated
    values when no replicate has a result: ``gated``), ``stderr`` sqrt(Σ SE²)/k, ``sd`` the sample SD over the k
    replicates (None for k < 2), ``n`` = k, ``flags`` the union, ``unit``."""

    value: float | None
    stderr: float | None
    sd: float | None
    n: int
    flags: str
    unit: str
    gated: bool = False


def combine_replicates(entries: Sequence[Mapping[str, Any]]) -> Ours:
    """:class:`Ours` from a property's ``{value, stderr, unit, flags}`` in each replicate (flags ``;``-joined)."""
    usable = [e for e in entries if _float(e.get("value")) is not None]
    results = [e for e in usable if not is_gated(e.get("flags"))]
    chosen, gated = (results, False) if results else (usable, bool(usable))
    flags = ";".join(sorted({f for e in entries for f in str(e.get("flags") or "").split(";") if f}))
    unit = next((str(e.get("unit")) for e in entries if e.get("unit")), "")
    if not chosen:
        return Ours(None, None, None, 0, flags, unit)
    values = np.array([_float(e["value"]) for e in chosen])
    errors = [_float(e.get("stderr")) for e in chosen]
    k = len(values)
    stderr = math.sqrt(sum(s * s for s in errors)) / k if all(s is not None for s in errors) else None
    sd = float(values.std(ddof=1)) if k >= 2 else None
    return Ours(float(values.mean()), stderr, sd, k, flags, unit, gated)


def _same_state(row: Mapping[str, Any], state: tuple[float, float]) -> bool:
    t, p = _float(row.get("temperature")), _float(row.get("pressure"))
    return t is not None and p is not None and abs(t - state[0]) <= 1.0 and abs(p - state[1]) <= 1e-3


@dataclass
class Validation:
    """The validation table (``rows``, columns :data:`TABLE_COLUMNS`), the statistics (``stats``, columns
    :data:`STATS_COLUMNS`) and what was left out (``skipped``: our rows at another state point, ``unmatched``:
    our units without any reference)."""

    rows: list[dict] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def validation_rows(ours: Sequence[Mapping[str, Any]], properties: Sequence[str],
                    experiment: Mapping[tuple[str, str], Reference] | None = None,
                    radonpy: Mapping[tuple[str, str], Reference] | None = None,
                    state: tuple[float, float] = STATE_POINT, canonical: Canonical | None = None) -> Validation:
    """The table and statistics of our campaign ``ours`` (campaign-table rows of one or more groups; rows of the
    same unit, protocol and state point are replicates) against the indexed references
    (:func:`index_references`), for ``properties``."""
    experiment, radonpy = experiment or {}, radonpy or {}
    out = Validation()
    grouped: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for row in ours:
        if not _same_state(row, state):
            out.skipped.append(f"{row.get('smiles')} ({row.get('protocol')}, {row.get('temperature')} K, "
                               f"{row.get('pressure')} atm)")
            continue
        grouped[(str(row.get("smiles") or ""), str(row.get("protocol") or ""),
                 str(row.get("tacticity") or ""), str(row.get("head_group") or ""),
                 str(row.get("tail_group") or ""))].append(row)
    plain_exp, plain_rad = plain_index(experiment), plain_index(radonpy)
    for (smiles, protocol, *_), replicates in sorted(grouped.items()):
        plain = plain_unit(smiles, canonical)
        refs = {name: (match(smiles, experiment, EXPERIMENT_FOR.get(name, name), plain_exp, plain),
                       match(smiles, radonpy, name, plain_rad, plain)) for name in properties}
        refs = {name: pair for name, pair in refs.items() if pair != (None, None)}
        if not refs:
            out.unmatched.append(smiles)
            continue
        # the polymer's name: its first library id, else the experiment's name, else RadonPy's id
        ids = [i for i in dict.fromkeys(part for r in replicates for part in str(r.get("library_id") or "").split(";"))
               if i]
        names = [ref.polymer for pair in refs.values() for ref in pair if ref is not None and ref.polymer]
        polymer = ids[0] if ids else (names[0] if names else smiles)
        for name, (exp, rad) in refs.items():
            mine = combine_replicates([{"value": r.get(name), "stderr": r.get(f"{name}_stderr"),
                                        "unit": r.get(f"{name}_unit"), "flags": r.get(f"{name}_flags")}
                                       for r in replicates])
            for ref, what in ((exp, "experiment"), (rad, "RadonPy")):
                if ref is not None and mine.unit and normal_unit(ref.unit) != normal_unit(mine.unit):
                    raise ValidationError(f"{name}: {what} is in {ref.unit}, our campaign in {mine.unit}")
            row: dict[str, Any] = {c: None for c in TABLE_COLUMNS}
            row.update(polymer=polymer, smiles=smiles, protocol=protocol, property=name,
                       unit=mine.unit or (exp or rad).unit, ours=mine.value, ours_stderr=mine.stderr,
                       ours_sd=mine.sd, ours_n=mine.n, ours_flags=mine.flags, ours_gated=mine.gated)
            if exp is not None:
                row.update(experiment=exp.value, experiment_low=exp.low, experiment_high=exp.high,
                           experiment_sources=exp.sources, experiment_match=exp.match)
            if rad is not None:
                row.update(radonpy=rad.value, radonpy_sd=rad.sd, radonpy_n=rad.n, radonpy_id=rad.polymer,
                           radonpy_match=rad.match)
            if mine.value is not None:
                if exp is not None:
                    row["diff_experiment"] = mine.value - exp.value
                    if math.isfinite(exp.low) and math.isfinite(exp.high):
                        row["distance_to_range"] = distance_to_range(mine.value, exp.low, exp.high)
                if rad is not None:
                    row["diff_radonpy"] = mine.value - rad.value
                    if rad.sd:
                        row["diff_radonpy_in_sd"] = (mine.value - rad.value) / rad.sd
                        row["within_radonpy_sd"] = abs(mine.value - rad.value) <= rad.sd
            out.rows.append(row)
    out.stats = table_statistics(out.rows)
    return out


def table_statistics(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Per protocol and property, :func:`statistics` of ours against experiment, ours against RadonPy and (for
    the same polymers) RadonPy against experiment; gated values left out."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(row["protocol"], row["property"])].append(row)
    out = []

    def nan(x):
        return math.nan if x is None else float(x)

    for (protocol, name), items in sorted(grouped.items()):
        results = [r for r in items if r["ours"] is not None and not r["ours_gated"]]
        unit = items[0]["unit"]
        comparisons = [
            ("ours-experiment", [nan(r["ours"]) for r in results], [nan(r["experiment"]) for r in results], None,
             [nan(r["experiment_low"]) for r in results], [nan(r["experiment_high"]) for r in results]),
            ("ours-radonpy", [nan(r["ours"]) for r in results], [nan(r["radonpy"]) for r in results],
             [r["radonpy_sd"] for r in results], None, None),
            ("radonpy-experiment", [nan(r["radonpy"]) for r in items], [nan(r["experiment"]) for r in items], None,
             [nan(r["experiment_low"]) for r in items], [nan(r["experiment_high"]) for r in items]),
        ]
        for compared, a, b, sd, low, high in comparisons:
            stats = statistics(a, b, sd, low, high)
            if stats["n"]:
                out.append({"protocol": protocol, "property": name, "compared": compared, "unit": unit, **stats})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], path: str | Path) -> Path:
    """CSV with ``columns`` (floats exact, booleans yes/no, missing values empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def parity_pairs(rows: Sequence[Mapping[str, Any]], reference: str) -> dict[str, dict[str, Any]]:
    """Per property, the pairs of :func:`aiida_polymer.database.plots.parity_figure` from the table (results
    only): against ``experiment`` with the range as asymmetric x error bars, against ``radonpy`` with its SD."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        ref = row.get(reference)
        if row["ours"] is None or row["ours_gated"] or ref is None:
            continue
        key = f"{row['property']} ({row['protocol']})" if len({r["protocol"] for r in rows}) > 1 else row["property"]
        p = out.setdefault(key, {"computed": [], "stderr": [], "reference": [], "spread": [[], []], "labels": [],
                                 "unit": row["unit"]})
        p["computed"].append(row["ours"])
        p["stderr"].append(math.nan if row["ours_stderr"] is None else row["ours_stderr"])
        p["reference"].append(ref)
        if reference == "experiment":
            low = row["experiment_low"] if row["experiment_low"] is not None else ref
            high = row["experiment_high"] if row["experiment_high"] is not None else ref
            p["spread"][0].append(ref - low)
            p["spread"][1].append(high - ref)
        else:
            sd = row["radonpy_sd"] or 0.0
            p["spread"][0].append(sd)
            p["spread"][1].append(sd)
        p["labels"].append(row["polymer"])
    return {k: {**v, **{x: np.asarray(v[x], dtype=float) for x in ("computed", "stderr", "reference", "spread")}}
            for k, v in out.items()}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:  # no exponent: 200, not 2e+02
            return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")
        return f"{value:.{digits}g}"
    return str(value)


def summary_markdown(result: Validation, title: str, commands: Sequence[str] = ()) -> str:
    """A markdown summary: the statistics, then the table (one line per polymer and property)."""
    lines = [f"## {title}", ""]
    if commands:
        lines += ["```", *commands, "```", ""]
    lines += ["### Statistics (gated values left out)", "",
              "| protocol | property | compared | n | MAE | bias | rel. bias | Pearson r | Spearman r | within SD "
              "| in range | mean distance to range | unit |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in result.stats:
        within = "—" if s["within_sd_fraction"] is None else f"{s['within_sd_fraction']:.2f} of {s['n_sd']}"
        inside = "—" if s["in_range_fraction"] is None else f"{s['in_range_fraction']:.2f} of {s['n_range']}"
        rel = "—" if s["relative_bias"] is None else f"{100 * s['relative_bias']:+.1f} %"
        lines.append(f"| {s['protocol']} | {s['property']} | {s['compared']} | {s['n']} | {_fmt(s['mae'], 3)} | "
                     f"{_fmt(s['bias'], 3)} | {rel} | {_fmt(s['pearson'], 3)} | {_fmt(s['spearman'], 3)} | "
                     f"{within} | {inside} | {_fmt(s['mean_distance_to_range'], 3)} | {s['unit']} |")
    lines += ["", "### Per polymer", "",
              "| polymer | protocol | property | ours ± SE | run-to-run SD (k) | experiment [range] | RadonPy ± SD "
              "| (ours − RadonPy)/SD | flags | unit |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.rows:
        ours = "—" if r["ours"] is None else f"{_fmt(r['ours'])} ± {_fmt(r['ours_stderr'], 2)}"
        if r["ours_gated"]:
            ours += " (gated)"
        sd = f"{_fmt(r['ours_sd'], 2)} ({r['ours_n']})" if r["ours_n"] else "—"
        exp = "—"
        if r["experiment"] is not None:
            exp = _fmt(r["experiment"])
            if r["experiment_low"] != r["experiment_high"]:
                exp += f" [{_fmt(r['experiment_low'])}–{_fmt(r['experiment_high'])}]"
            if r["experiment_match"] != "exact":
                exp += f" ({r['experiment_match']})"
        rad = "—"
        if r["radonpy"] is not None:
            rad = f"{_fmt(r['radonpy'])} ± {_fmt(r['radonpy_sd'], 2)}"
            if r["radonpy_match"] != "exact":
                rad += f" ({r['radonpy_match']})"
        z = "—" if r["diff_radonpy_in_sd"] is None else f"{r['diff_radonpy_in_sd']:+.1f}"
        lines.append(f"| {r['polymer']} | {r['protocol']} | {r['property']} | {ours} | {sd} | {exp} | {rad} | {z} | "
                     f"{r['ours_flags'] or ''} | {r['unit']} |")
    if result.unmatched:
        lines += ["", f"No reference for: {', '.join(result.unmatched)}."]
    if result.skipped:
        lines += ["", f"Not at 300 K and 1 atm (left out): {', '.join(result.skipped)}."]
    return "\n".join(lines) + "\n"


def library_rows(references: Iterable[Reference], only: Sequence[str] | None = None) -> list[dict]:
    """A campaign library (rows id, smiles, reference_name) with one polymer per canonical unit of
    ``references``; ``only``: the polymer names / ids or SMILES (canonical or not) to keep. An ``only`` item that
    names no polymer is an error."""
    units: dict[str, dict] = {}
    for ref in references:
        units.setdefault(ref.smiles, {"id": ref.polymer or ref.smiles, "smiles": ref.smiles,
                                      "reference_name": ref.polymer})
    rows = list(units.values())
    if only:
        wanted = [w.strip() for w in only if w.strip()]
        keep, unknown = [], []
        for item in wanted:
            hit = [r for r in rows if item in (r["id"], r["smiles"])]
            if not hit:
                try:
                    hit = [r for r in rows if r["smiles"] == _default_canonical()(item)]
                except Exception:
                    hit = []
            if not hit:
                unknown.append(item)
            keep += [r for r in hit if r not in keep]
        if unknown:
            raise ValidationError(f"not in the reference: {', '.join(unknown)}")
        rows = keep
    ids: dict[str, int] = defaultdict(int)
    for row in rows:  # library ids are unique
        ids[row["id"]] += 1
        if ids[row["id"]] > 1:
            row["id"] = f"{row['id']}-{ids[row['id']]}"
    return rows


def write_report(result: Validation, folder: str | Path, title: str, commands: Sequence[str] = (),
                 fmt: str = "png") -> list[Path]:
    """Write ``validation.csv`` (:data:`TABLE_COLUMNS`), ``stats.csv`` (:data:`STATS_COLUMNS`), a parity figure
    per reference that has pairs (``parity_experiment.<fmt>``, ``parity_radonpy.<fmt>``) and ``summary.md`` to
    ``folder``; returns the paths."""
    from . import plots  # matplotlib: only when figures are written

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_table(result.rows, TABLE_COLUMNS, folder / "validation.csv"),
               write_table(result.stats, STATS_COLUMNS, folder / "stats.csv")]
    for reference, label in (("experiment", "experiment"), ("radonpy", "RadonPy (PI1070)")):
        pairs = parity_pairs(result.rows, reference)
        if pairs:
            figure, _ = plots.parity_figure(pairs, label, title)
            written.append(plots.save_figure(figure, folder / f"parity_{reference}.{fmt}"))
    summary = folder / "summary.md"
    summary.write_text(summary_markdown(result, title, commands), encoding="utf-8")
    written.append(summary)
    return written


def read_table(path: str | Path) -> tuple[list[dict], list[str]]:
    """The rows and property names of an exported campaign table (``polymers.csv`` of ``aiida-polymer export``:
    the columns of :func:`aiida_polymer.database.campaign_table`, a property ``<name>`` being the columns
    ``<name>``, ``<name>_stderr``, ``<name>_unit``, ``<name>_flags``); values stay text (read as numbers here)."""
    reader, path = _reader(path, "campaign table")
    columns = list(reader.fieldnames or [])
    missing = [c for c in ("smiles", "protocol", "temperature", "pressure") if c not in columns]
    if missing:
        raise ValidationError(f"campaign table {path.name}: missing column(s) {', '.join(missing)} (expected the "
                              f"polymers.csv of aiida-polymer export)")
    names = [c for c in columns if f"{c}_unit" in columns and f"{c}_stderr" in columns]
    return [dict(row) for row in reader], names
