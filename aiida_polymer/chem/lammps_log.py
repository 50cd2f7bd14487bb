"""Parser for LAMMPS ``log.lammps`` files and captured screen output.

Reads the thermo blocks of every ``run``/``minimize`` (``thermo_style custom`` with the default one-line layout),
the ERROR and WARNING messages, the loop timings and the end-of-run state, and classifies a failure into one of
:data:`ERROR_KINDS`. Robust to truncated logs (job killed mid-run), warnings printed inside a thermo block,
column changes between runs and MPI launcher prefixes (``[0] ``, ``[1,0]<stdout>:``, ``0: ``).

Messages as printed by LAMMPS 22 Jul 2025 (one ``For more information see ...`` line follows each)::

    ERROR: Lost atoms: original 256 current 0
    ERROR on proc 0: Bond atoms 3 4 missing on proc 0 at step 3
    ERROR on proc 0: Shake atoms 13 14 15 missing on proc 0 at step 3
    ERROR on proc 0: Out of range atoms - cannot compute PPPM
    ERROR on proc 0: Non-numeric atom coords - simulation unstable
    WARNING: Wall time limit reached (src/src/timer.cpp:201)      <- ``timer timeout`` expired (run)
      Stopping criterion = walltime limit reached                 <- ``timer timeout`` expired (minimize)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MARK = "aiida-polymer stage"  # ``print``ed before and after each stage of a phase (aiida_polymer.chem.lammps_input)
ERROR_KINDS = ("lost_atoms", "bond_atoms_missing", "shake_failure", "out_of_range_atoms", "nan", "other")

# ordered: the first pattern matching an error message gives its kind
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("out_of_range_atoms", re.compile(r"Out of range atoms", re.I)),
    ("lost_atoms", re.compile(r"\bLost atoms\b", re.I)),
    ("shake_failure", re.compile(
        r"\b(?:shake|rattle)\b.*\b(?:missing|determinant|converge)"
        r"|\b(?:coordinate|velocity) constraints are not satisfied", re.I)),
    ("bond_atoms_missing", re.compile(r"\b(?:bond|angle|dihedral|improper|cmap)\s+atoms?\b.*\bmissing\b", re.I)),
    ("nan", re.compile(r"Non-numeric (?:atom coords|positions|pressure|box dimensions)|\bis NaN\b", re.I)),
)

_PREFIX = re.compile(r"^(?:\[\d+(?:,\d+)*\](?:<std(?:out|err)>)?:? ?|[ \t]*\d+: )", re.M)
_VERSION = re.compile(r"^LAMMPS \((?P<version>[^)]*)\)")
_MESSAGE = re.compile(r"^(?P<level>ERROR|WARNING)(?: on proc \d+)?: ")
_CONTINUATION = re.compile(r"^(?:For more information see|Last (?:input line|command):)")
_ABORT = re.compile(r"\s*Abort\(\d+\) on node \d+.*$")
_LOOP = re.compile(r"^Loop time of (\S+) on (\d+) procs for (\d+) steps with (\d+) atoms")
_CPU = re.compile(r"% CPU use with (\d+) MPI tasks x (\d+) OpenMP threads")
_STOP = re.compile(r"^Stopping criterion = (.*\S)")
_AT_STEP = re.compile(r"\bat step (\d+)")
_TIMEOUT = re.compile(r"wall ?time limit reached", re.I)
_KEYWORD = re.compile(r"^[^\s=|,;#'\"]+$")  # a thermo column name (keyword, c_ID[i], or a thermo_modify colname)
_MEMORY = ("Per MPI rank memory allocation", "Memory usage per processor")
_ATOM_STEP_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


@dataclass
class ThermoBlock:
    """Thermo output of one ``run`` or ``minimize``: column names and a (rows, columns) float array."""

    columns: list[str]
    data: np.ndarray
    minimize: bool = False
    loop_time: float | None = None
    nsteps: int | None = None
    natoms: int | None = None
    nprocs: int | None = None
    performance: dict[str, float] | None = None
    stopping_criterion: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the run reached its ``Loop time`` line."""
        return self.loop_time is not None

    def column(self, name: str) -> np.ndarray:
        """Values of one column."""
        return self.data[:, self.columns.index(name)]

    @property
    def steps(self) -> np.ndarray | None:
        """The Step column as integers, None without one."""
        k = _step_index(self.columns)
        return None if k is None else self.data[:, k].astype(np.int64)

    @property
    def first_step(self) -> int | None:
        steps = self.steps
        return int(steps[0]) if steps is not None and len(steps) else None

    @property
    def last_step(self) -> int | None:
        """Step reached: first step + loop steps when the run finished (also after a timeout), else last row."""
        steps = self.steps
        if steps is None or not len(steps):
            return None
        if self.nsteps is not None:
            return int(steps[0]) + self.nsteps
        return int(steps[-1])


@dataclass
class LammpsLog:
    """Everything :func:`parse_log` extracts from one log."""

    version: str | None = None
    runs: list[ThermoBlock] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_kind: str | None = None
    completed: bool = False
    timeout: bool = False
    last_step: int | None = None
    loop_times: list[float] = field(default_factory=list)
    performance: dict[str, float] | None = None
    mpi_tasks: int | None = None
    omp_threads: int | None = None

    @property
    def truncated(self) -> bool:
        """The log stops without ``Total wall time`` and without an ERROR (job killed, or error on another rank)."""
        return not self.completed and not self.errors

    def thermo(self, concatenate: bool = True) -> dict[str, np.ndarray]:
        """Thermo columns as arrays.

        With ``concatenate`` all blocks are joined over the union of their columns (NaN where a block lacks one);
        the first row of a continued run (same step as the previous block's last row) is merged into that row.
        Without it, only the last non-empty block is returned.
        """
        blocks = [b for b in self.runs if len(b.data)]
        if not blocks:
            return {}
        if not concatenate:
            last = blocks[-1]
            return {name: last.data[:, k].copy() for k, name in enumerate(_unique(last.columns))}
        names: list[str] = []
        for block in blocks:
            names.extend(n for n in _unique(block.columns) if n not in names)
        index = {n: k for k, n in enumerate(names)}
        parts: list[np.ndarray] = []
        prev_last: int | None = None
        for block in blocks:
            part = np.full((len(block.data), len(names)), np.nan)
            part[:, [index[n] for n in _unique(block.columns)]] = block.data
            steps = block.steps
            if parts and steps is not None and prev_last is not None and steps[0] == prev_last:
                tail = parts[-1][-1]
                parts[-1][-1] = np.where(np.isnan(tail), part[0], tail)
                part = part[1:]
            parts.append(part)
            prev_last = int(steps[-1]) if steps is not None else None
        data = np.concatenate(parts)
        return {n: data[:, index[n]] for n in names}

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable digest (no thermo arrays; non-finite final values as None), e.g. for a Dict node."""
        last = next((b for b in reversed(self.runs) if len(b.data)), None)
        final = {k: _num(v) for k, v in zip(_unique(last.columns), last.data[-1], strict=True)} if last else None
        return {
            "version": self.version,
            "completed": self.completed,
            "timeout": self.timeout,
            "truncated": self.truncated,
            "error_kind": self.error_kind,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "last_step": self.last_step,
            "loop_times": list(self.loop_times),
            "performance": self.performance,
            "mpi_tasks": self.mpi_tasks,
            "omp_threads": self.omp_threads,
            "final_thermo": final,
            "runs": [
                {
                    "columns": list(b.columns),
                    "rows": len(b.data),
                    "minimize": b.minimize,
                    "complete": b.complete,
                    "first_step": b.first_step,
                    "last_step": b.last_step,
                    "nsteps": b.nsteps,
                    "natoms": b.natoms,
                    "stopping_criterion": b.stopping_criterion,
                }
                for b in self.runs
            ],
        }


def classify_error(message: str) -> str:
    """The kind (one of :data:`ERROR_KINDS`) of one LAMMPS error message."""
    for kind, pattern in _ERROR_PATTERNS:
        if pattern.search(message):
            return kind
    return "other"


_STAGE_MARK = re.compile(rf"^{MARK} (?P<name>\w+) (?P<what>begin|end)(?: (?P<step>-?\d+))?\s*$", re.M)


@dataclass
class StageText:
    """The part of a phase's log that belongs to one stage; ``end_step``: the step its end line printed (None:
    the log stops inside the stage)."""

    name: str
    text: str
    end_step: int | None = None


def split_stages(text: str) -> list[StageText]:
    """A phase's log cut at its stage lines, in order (the echoed ``print`` commands are not stage lines)."""
    stages: list[StageText] = []
    start = None
    for match in _STAGE_MARK.finditer(text):
        if match["what"] == "begin":
            if stages and start is not None:
                stages[-1].text = text[start:match.start()]
            stages.append(StageText(match["name"], ""))
            start = match.end()
        elif stages and stages[-1].name == match["name"]:
            stages[-1].end_step = int(match["step"])
    if stages and start is not None:
        stages[-1].text = text[start:]
    return stages


def parse_log_file(path: str | Path) -> LammpsLog:
    """Parse a log file (undecodable bytes are replaced)."""
    return parse_log(Path(path).read_text(errors="replace"))


def parse_log(text: str) -> LammpsLog:
    """Parse the text of a ``log.lammps`` (or of LAMMPS screen output, MPI-prefixed or not)."""
    log = LammpsLog()
    if _PREFIX.search(text, 0, 65536):  # launcher prefixes show up from the start of the output
        text = _PREFIX.sub("", text)
    lines = [line.strip() for line in text.splitlines()]
    partial = len(lines) if text.endswith(("\n", "\r")) else len(lines) - 1  # index of an unterminated last line
    block: _Builder | None = None
    finished: ThermoBlock | None = None  # last block closed by its Loop time line
    after_memory = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        tokens = line.split()
        if block is not None and len(tokens) == block.width and i - 1 != partial:
            values = _floats(tokens)
            if values is not None:
                block.rows.append(values)
                continue
        message = _MESSAGE.match(line)
        if message:
            while i < len(lines) and _CONTINUATION.match(lines[i]):
                line += "\n" + _ABORT.sub("", lines[i])
                i += 1
            if message["level"] == "ERROR":
                if line not in log.errors:
                    log.errors.append(line)
            else:
                log.warnings.append(line)
            continue
        if line.startswith(_MEMORY):
            after_memory = True
            continue
        if _is_header(tokens) and i - 1 != partial and (after_memory or _data_follows(lines, i, len(tokens), partial)):
            _close(log, block)
            block = _Builder(tokens)
            after_memory = False
            continue
        after_memory = False
        if loop := _LOOP.match(line):
            log.loop_times.append(float(loop[1]))
            if block is not None:
                finished = block.finish(log)
                finished.loop_time, finished.nprocs = float(loop[1]), int(loop[2])
                finished.nsteps, finished.natoms = int(loop[3]), int(loop[4])
                block = None
        elif line.startswith("Performance:"):
            log.performance = _performance(line)
            if finished is not None:
                finished.performance = log.performance
        elif cpu := _CPU.search(line):
            log.mpi_tasks, log.omp_threads = int(cpu[1]), int(cpu[2])
        elif line.startswith("Minimization stats:"):
            if finished is not None:
                finished.minimize = True
        elif stop := _STOP.match(line):
            if finished is not None:
                finished.stopping_criterion = stop[1]
            if _TIMEOUT.search(stop[1]):
                log.timeout = True
        elif line.startswith("Total wall time:"):
            log.completed = True
            _close(log, block)
            block = None
        elif log.version is None and (version := _VERSION.match(line)):
            log.version = version["version"]
    _close(log, block)
    log.timeout = log.timeout or any(_TIMEOUT.search(w) for w in log.warnings)
    log.last_step = _last_step(log)
    log.error_kind = _error_kind(log)
    return log


@dataclass
class _Builder:
    columns: list[str]
    rows: list[list[float]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.columns)

    def finish(self, log: LammpsLog) -> ThermoBlock:
        data = np.array(self.rows, dtype=float).reshape(len(self.rows), self.width)
        block = ThermoBlock(columns=self.columns, data=data)
        log.runs.append(block)
        return block


def _close(log: LammpsLog, block: _Builder | None) -> None:
    if block is not None:
        block.finish(log)


def _floats(tokens: list[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _is_header(tokens: list[str]) -> bool:
    return bool(tokens) and all(_KEYWORD.match(t) and _floats([t]) is None for t in tokens)


def _data_follows(lines: list[str], start: int, width: int, partial: int) -> bool:
    """Whether the next line, past warnings, is a numeric row of ``width`` values."""
    for j in range(start, min(start + 20, len(lines))):
        line = lines[j]
        if not line or _CONTINUATION.match(line) or line.startswith("WARNING"):
            continue
        tokens = line.split()
        return j != partial and len(tokens) == width and _floats(tokens) is not None
    return False


def _step_index(columns: list[str]) -> int | None:
    lower = [c.lower() for c in columns]
    return lower.index("step") if "step" in lower else None


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _performance(line: str) -> dict[str, float]:
    """``Performance: 1152874.118 tau/day, 2668.690 timesteps/s, 1.334 Matom-step/s`` as a dict by unit."""
    perf: dict[str, float] = {}
    for item in line.split(":", 1)[1].split(","):
        parts = item.split()
        if len(parts) == 2 and (value := _floats(parts[:1])) is not None:
            perf[parts[1]] = value[0]
            if m := re.fullmatch(r"([kMG]?)atom-step/s", parts[1]):
                perf["atom-step/s"] = value[0] * _ATOM_STEP_SCALE[m[1]]
    return perf


def _last_step(log: LammpsLog) -> int | None:
    last = next((b.last_step for b in reversed(log.runs) if b.last_step is not None), None)
    for error in log.errors:
        if (m := _AT_STEP.search(error)) and (last is None or int(m[1]) > last):
            last = int(m[1])
    return last


def _error_kind(log: LammpsLog) -> str | None:
    kinds = [classify_error(e.split("\n", 1)[0]) for e in log.errors]
    specific = [k for k in kinds if k != "other"]
    if specific:
        return specific[0]
    if any(len(b.data) and not np.isfinite(b.data).all() for b in log.runs):
        return "nan"
    return "other" if kinds else None


def _num(value: float) -> float | int | None:
    """A JSON-safe number: int when integral, None when not finite."""
    value = float(value)
    if not np.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
