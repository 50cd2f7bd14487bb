"""A design round over a library of 10^6 repeat units, streamed: the time and memory of what `design run` does.

The library: distinct two-block repeat units, each the head-to-tail join of two units of the synthetic benchmark
library (``aiida_polymer.design.oracle.library()``, a few thousand real units: vinyl, ester, amide, imide, ...),
pairs drawn without repetition by a fixed seed, written as a CSV (``id,smiles``). Then, timed one after the other
(single process, as the design command runs them):

1. ``check_library``: the one pass over the rows done when the library is first stored (each row parsed as a
   repeat unit the pipeline computes);
2. ``propose_round``: the body of the ``polymer.design_round`` calcfunction (the real round code, without the
   database) with a training set of ``--train`` polymers of the library whose ``thermal_conductivity`` is the
   oracle's synthetic property: the surrogate fitted, every candidate of the file featurised and scored in chunks,
   the batch chosen, the picks looked up in the file again.

Prints the wall and CPU time of each, candidates per second, and the peak resident memory of the process (which
must not grow with the library: the candidates are streamed). Figures only, no assertions::

    nice -n 10 .venv/bin/python benchmarks/design_scale.py [--rows 1000000] [--train 24] [--batch 4]
        [--library /tmp/design_1e6.csv]

The library file is kept and reused when it exists with the requested number of rows.
"""

from __future__ import annotations

import argparse
import csv
import functools
import random
import resource
import time
from pathlib import Path

from rdkit import Chem, RDLogger

from aiida_polymer.design.objectives import parse_objective
from aiida_polymer.design.oracle import library, synthetic_property
from aiida_polymer.design.rounds import check_library, propose_round, sha256


def join(first: str, second: str) -> str | None:
    """The repeat unit ``*-first-second-*``: the tail ``*`` of ``first`` bonded to the head ``*`` of ``second``."""
    a = Chem.MolFromSmiles(first)
    b = Chem.MolFromSmiles(second)
    if a is None or b is None:
        return None
    stars_a = [atom for atom in a.GetAtoms() if atom.GetAtomicNum() == 0]
    stars_b = [atom for atom in b.GetAtoms() if atom.GetAtomicNum() == 0]
    if len(stars_a) != 2 or len(stars_b) != 2:
        return None
    stars_a[1].SetAtomMapNum(1)
    stars_b[0].SetAtomMapNum(1)
    smiles = Chem.MolToSmiles(Chem.molzip(a, b))
    return smiles if Chem.MolFromSmiles(smiles) is not None else None  # a join RDKit cannot read back is left out


def write_library(path: Path, rows: int, seed: int = 20261204) -> float:
    """Write ``rows`` distinct joined units to ``path``; returns the seconds it took."""
    start = time.perf_counter()
    units = [smiles for _, smiles in library()]
    rng = random.Random(seed)
    seen: set[str] = set()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "smiles"])
        while len(seen) < rows:
            smiles = join(rng.choice(units), rng.choice(units))
            if smiles is None or smiles in seen:
                continue
            seen.add(smiles)
            writer.writerow([f"j{len(seen):07d}", smiles])
    return time.perf_counter() - start


def rows_in(path: Path) -> int:
    with open(path) as handle:
        return sum(1 for _ in handle) - 1


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config_for(path: Path, train: list[tuple[str, str]], batch: int) -> tuple[dict, dict]:
    """The round's settings and its training properties, as ``round_inputs`` would give them."""
    objective = parse_objective("max:thermal_conductivity").to_dict()
    index, training = {}, {}
    for i, (ident, smiles) in enumerate(train):
        label = f"train_{i:04d}"
        index[label] = {"key": f"{smiles}|fast|300K|1atm", "id": ident, "smiles": smiles, "workflow": "-",
                        "properties": "-"}
        training[label] = {"thermal_conductivity": {"value": synthetic_property(smiles), "unit": "W/(m K)",
                                                    "stderr": 0.0, "flags": []}}
    config = {"group": "scale", "batch": batch, "round": 2, "objectives": [objective], "constraints": [],
              "seed": 0, "protocol": "fast", "workflow": "properties", "temperature": 300.0, "pressure": 1.0,
              "overrides": {}, "chunk": 20000, "library_sha256": sha256(path), "library_name": path.name,
              "training": index, "excluded": [], "exclude": {ident: "computed" for ident, _ in train},
              "known_keys": {}, "invalid_lines": []}
    return config, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--library", type=Path, default=Path("/tmp/design_1e6.csv"))
    args = parser.parse_args()

    RDLogger.DisableLog("rdApp.*")
    path = args.library
    if path.exists() and rows_in(path) == args.rows:
        print(f"library: {path} ({args.rows} rows, reused)")
    else:
        seconds = write_library(path, args.rows)
        print(f"library: {path}: {args.rows} rows written in {seconds:.0f} s")
    print(f"  file size {path.stat().st_size / 2**20:.1f} MiB; peak RSS so far {peak_mib():.0f} MiB")

    start, cpu = time.perf_counter(), time.process_time()
    count, skipped, invalid = check_library(path)
    wall = time.perf_counter() - start
    print(f"check_library: {count} candidates, {len(invalid)} invalid, skipped {dict(skipped)}: "
          f"{wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU ({count / wall:.0f} rows/s); "
          f"peak RSS {peak_mib():.0f} MiB")

    with open(path) as handle:
        reader = csv.reader(handle)
        next(reader)
        train = [tuple(row) for _, row in zip(range(args.train), reader, strict=False)]
    config, training = config_for(path, train, args.batch)
    config["invalid_lines"] = [line for line, _, _ in invalid]
    start, cpu = time.perf_counter(), time.process_time()
    result = propose_round(config, functools.partial(open, path), training)
    wall = time.perf_counter() - start
    model = result["model"]
    scored = model.get("candidates_scored", 0)
    print(f"propose_round ({model.get('mode')}, {args.train} training polymers, batch {args.batch}): "
          f"{scored} candidates scored in {wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU "
          f"({scored / wall:.0f} candidates/s); peak RSS {peak_mib():.0f} MiB")
    print(f"  model hash {result['model_hash']}; picks:")
    for pick in result["picks"]:
        print(f"    {pick['id']} line {pick['line']} score {pick['score']:.4g} mean {pick['mean'][0]:.4g} "
              f"std {pick['std'][0]:.3g} true {synthetic_property(pick['smiles']):.4g}  {pick['smiles']}")


if __name__ == "__main__":
    main()
