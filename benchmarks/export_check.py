"""Export of a real campaign, checked: archive round trip and the public export's leak grep.

1. ``aiida-polymer export GROUP`` (table, Parquet, datapackage.json, provenance.aiida) and ``--public``;
2. round trip: the archive imported into a fresh SQLite profile (its own AIIDA_PATH), exported again there:
   ``polymers.csv`` and ``properties_long.csv`` must be byte-identical;
3. leak grep: the site's secrets, found here independently of the scrub (user e-mails, this machine's and the
   computers' hostnames, the computers' work directories, the user's home in paths), are looked for in every
   public file, inside the archive's files and in a dump of its database; the same grep on the private export
   shows which secrets were there to find. Names are searched as whole words; in binary files (NumPy arrays, Parquet)
   only those of at least 6 characters (a two-letter host name turns up in random bytes).

    AIIDA_PATH=... .venv/bin/python benchmarks/export_check.py GROUP OUTPUT_DIR
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

BIN = Path(sys.executable).parent
TRIVIAL = {"", "localhost", "127.0.0.1"}
BINARY_MIN = 6


def secrets() -> set[str]:
    from aiida import orm

    found = {user.email for user in orm.User.collection.all()}
    found |= {socket.gethostname(), socket.getfqdn()}
    user = getpass.getuser()
    for computer in orm.Computer.collection.all():
        found.add(computer.hostname)
        found.add(computer.get_workdir().replace("{username}", user).rstrip("/"))
    found |= {f"/home/{user}/", os.path.expanduser("~") + "/"}
    return {s for s in found if s not in TRIVIAL}


def files_of(folder: Path, scratch: Path) -> list[tuple[str, bytes]]:
    """Every exported file, the archive's members and a text dump of the archive's database."""
    out = []
    for path in sorted(folder.iterdir()):
        out.append((path.name, path.read_bytes()))
        if path.suffix == ".aiida":
            unzipped = scratch / path.parent.name
            with zipfile.ZipFile(path) as archive:
                archive.extractall(unzipped)
            out += [(f"{path.name}:{p.relative_to(unzipped)}", p.read_bytes()) for p in unzipped.rglob("*")
                    if p.is_file()]
            db = sqlite3.connect(unzipped / "db.sqlite3")
            out.append((f"{path.name}:db dump", "\n".join(db.iterdump()).encode()))
            db.close()
    return out


def leaks(files: list[tuple[str, bytes]], wanted: set[str]) -> dict[str, list[str]]:
    """The files holding each secret as a whole word (a two-letter hostname is no leak inside "nvme"); the
    compressed archive itself is left out: its members are searched unzipped."""
    patterns = {s: re.compile(rb"(?<![\w-])" + re.escape(s.encode()) + rb"(?![\w-])") for s in wanted}
    return {s: [name for name, data in files if not name.endswith(".aiida") and patterns[s].search(data)
                and (len(s) >= BINARY_MIN or is_text(data))] for s in sorted(wanted)}


def is_text(data: bytes) -> bool:
    """UTF-8 text; in binary files (NumPy arrays, Parquet) a name shorter than BINARY_MIN is found by chance."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def round_trip(archive: Path, group: str, reference: Path) -> bool:
    with tempfile.TemporaryDirectory(prefix="export-round-trip-") as home:
        env = {**os.environ, "AIIDA_PATH": home, "AIIDA_POLYMER_PROFILE": "round-trip",
               "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        run = [str(BIN / "verdi"), "profile", "setup", "core.sqlite_dos", "-n", "--profile-name", "round-trip",
               "--email", "check@example.org", "--first-name", "a", "--last-name", "b", "--institution", "c",
               "--set-as-default", "--broker", "none"]
        subprocess.run(run, env=env, check=True, capture_output=True)
        subprocess.run([str(BIN / "verdi"), "archive", "import", str(archive)], env=env, check=True,
                       capture_output=True)
        again = Path(home) / "again"
        subprocess.run([str(BIN / "aiida-polymer"), "export", group, "-o", str(again), "--long", "--no-archive"],
                       env=env, check=True, capture_output=True)
        same = True
        for name in ("polymers.csv", "properties_long.csv"):
            equal = (again / name).read_bytes() == (reference / name).read_bytes()
            print(f"round trip {name}: {'byte-identical' if equal else 'DIFFERENT'}")
            same &= equal
        return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group")
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    from aiida import load_profile

    load_profile()
    private, public = args.output / "private", args.output / "public"
    for folder, extra in ((private, []), (public, ["--public"])):
        subprocess.run([str(BIN / "aiida-polymer"), "export", args.group, "-o", str(folder), "--long", *extra],
                       check=True)
    for path in sorted(public.iterdir()):
        print(f"public {path.name}: {path.stat().st_size} bytes")
    same = round_trip(private / "provenance.aiida", args.group, private)
    wanted = secrets()
    with tempfile.TemporaryDirectory() as scratch:
        found_private = leaks(files_of(private, Path(scratch)), wanted)
        found_public = leaks(files_of(public, Path(scratch)), wanted)
    print(f"secrets looked for: {len(wanted)}")
    for secret in sorted(wanted):
        print(f"  {secret!r}: private export {len(found_private[secret])} file(s), "
              f"public export {len(found_public[secret])} {found_public[secret][:3]}")
    clean = not any(found_public.values())
    print(f"public export leaks nothing: {clean}; round trip identical: {same}")
    sys.exit(0 if clean and same else 1)


if __name__ == "__main__":
    main()
