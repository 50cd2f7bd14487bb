"""Build the reference tables shipped in aiida_polymer/database/reference/ from the project's shared copies.

    python scripts/build_reference.py /work/shared/reference [--max-heavy-atoms 10]

Both outputs are long tables with the pipeline's property names and units (one row per polymer x property x
source): polymer, smiles (as in the source), canonical_smiles (aiida_polymer.campaign.identity.canonical_repeat_unit,
what a campaign table's ``smiles`` column holds), property, value, spread, unit, source.

- experiment.csv from experimental_dev.csv: a range ``a-b`` becomes its midpoint with spread (b-a)/2 (else spread
  0); Cp J/(g K) -> heat_capacity_cp J/(kg K) (x1000), alpha_V 1e-4/K -> volumetric_thermal_expansion 1/K (x1e-4),
  n_D -> refractive_index, epsilon (low-frequency permittivity) -> dielectric_constant, lambda ->
  thermal_conductivity; Tg is left out (not computed by the pipeline).
- radonpy.csv.gz from radonpy_PI1070.csv (RadonPy, BSD-3-Clause): the rows whose repeat unit has at most
  ``--max-heavy-atoms`` heavy atoms, spread = the ``_std`` over RadonPy's runs, n = their number (``_count``).
  ``static_dielectric_const`` is only the orientational part (-> dielectric_orientational); ``dielectric_const_dc``
  (= static - 1 + n^2) is the one that compares with experiment (-> dielectric_constant).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from pathlib import Path

from rdkit import Chem, RDLogger

from aiida_polymer.campaign.identity import canonical_repeat_unit
from aiida_polymer.database.validation import EXPERIMENT_PROPERTIES, RADONPY_COLUMNS

OUT = Path(__file__).resolve().parent.parent / "aiida_polymer" / "database" / "reference"
COLUMNS = ["polymer", "smiles", "canonical_smiles", "property", "value", "spread", "unit", "source"]
# source property: (pipeline property, factor, unit); RadonPy column: (pipeline property, unit). One definition,
# the validation's (aiida_polymer.database.validation), so the shipped tables and the validator agree.
EXPERIMENT = {key: (name, factor, unit) for key, (name, factor, _, unit) in EXPERIMENT_PROPERTIES.items()}
RADONPY = RADONPY_COLUMNS


def _number(text: str) -> tuple[float, float]:
    """'1.054-1.070' -> (midpoint, half range); '0.85' -> (0.85, 0)."""
    text = text.strip()
    low, sep, high = text.partition("-")
    if sep and low:
        a, b = float(low), float(high)
        return 0.5 * (a + b), 0.5 * abs(b - a)
    return float(text), 0.0


def _g(x: float) -> str:
    return f"{x:.6g}"


def experiment(source: Path) -> list[dict]:
    rows = []
    with open(source, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["property"] not in EXPERIMENT:
                continue
            name, factor, unit = EXPERIMENT[row["property"]]
            value, spread = _number(row["value"])
            rows.append({"polymer": row["polymer"], "smiles": row["smiles"],
                         "canonical_smiles": canonical_repeat_unit(row["smiles"]), "property": name,
                         "value": _g(value * factor), "spread": _g(spread * factor), "unit": unit,
                         "source": row["source_key"]})
    return rows


def radonpy(source: Path, max_heavy: int) -> list[dict]:
    rows = []
    with open(source, newline="") as handle:
        for row in csv.DictReader(handle):
            mol = Chem.MolFromSmiles(row["smiles"])
            if mol is None or sum(a.GetAtomicNum() > 1 for a in mol.GetAtoms()) > max_heavy:
                continue
            try:
                canonical = canonical_repeat_unit(row["smiles"])
            except Exception as exc:  # a unit the pipeline cannot read is left out, and said
                print(f"skipped {row['monomer_ID']} {row['smiles']}: {exc}", file=sys.stderr)
                continue
            for column, (name, unit) in RADONPY.items():
                if not row.get(column):
                    continue
                rows.append({"polymer": row["monomer_ID"], "smiles": row["smiles"], "canonical_smiles": canonical,
                             "property": name, "value": _g(float(row[column])),
                             "spread": _g(float(row.get(f"{column}_std") or 0.0)), "unit": unit,
                             "source": "RadonPy PI1070", "n": row.get(f"{column}_count") or ""})
    return rows


def _write(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> None:
    """CSV, gzipped when the name ends in .gz (with mtime 0: the same rows give the same bytes)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    print(f"{path}: {len(rows)} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", type=Path, help="folder with experimental_dev.csv and radonpy_PI1070.csv")
    parser.add_argument("--max-heavy-atoms", type=int, default=10)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    _write(OUT / "experiment.csv", experiment(args.shared / "experimental_dev.csv"))
    _write(OUT / "radonpy.csv.gz", radonpy(args.shared / "radonpy_PI1070.csv", args.max_heavy_atoms),
           [*COLUMNS, "n"])  # n: RadonPy's runs behind the mean and SD (_count)


if __name__ == "__main__":
    main()
