"""Bad input, systematically: through the CLI, the Python front door and the parsers.

Every case must give a message that names the problem, no traceback, a typed exit code (the CLI's exit status, a
typed exception class, or a parser's exit code) and store nothing (the nodes are counted before and after).
Run with ``-s`` to print the table of inputs and what each got.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner

from aiida_polymer.chem.lammps_input import Stage
from aiida_polymer.chem.monomer import MonomerError
from aiida_polymer.chem.protocols import ProtocolError
from aiida_polymer.cli import cli

DATA = Path(__file__).parent / "chem" / "data"
LOG = (DATA / "lammps_logs" / "melt_multirun.log").read_text()
PSI4_OK = (DATA / "psi4" / "water_energy" / "output.dat").read_text()


@dataclass
class Outcome:
    code: int | str  # CLI exit status, exception class name or parser exit status
    message: str


@dataclass
class Case:
    name: str
    run: Callable[[Any], Outcome]
    code: int | str
    message: str  # must appear in the message


def cli_case(name: str, args: list[str], message: str, code: int = 2) -> Case:
    def run(_env) -> Outcome:
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        return Outcome(result.exit_code, result.output)

    return Case(name, run, code, message)


def python_case(name: str, call: Callable[[dict], Any], exception: type[Exception], message: str) -> Case:
    def run(env) -> Outcome:
        with pytest.raises(exception) as info:
            call(env)
        return Outcome(info.type.__name__, str(info.value))

    return Case(name, run, exception.__name__, message)


def _calc_node(env, process_type: str, inputs: dict[str, orm.Data], files: dict[str, bytes]) -> orm.CalcJobNode:
    node = orm.CalcJobNode(computer=env["codes"]["lmp"].computer, process_type=process_type)
    for label, data in inputs.items():
        node.base.links.add_incoming(data.store(), LinkType.INPUT_CALC, label)
    node.set_option("resources", {"num_machines": 1})
    node.store()
    retrieved = orm.FolderData()
    for filename, content in files.items():
        retrieved.base.repository.put_object_from_filelike(io.BytesIO(content), filename)
    retrieved.base.links.add_incoming(node, LinkType.CREATE, "retrieved")
    retrieved.store()
    return node


def parser_case(name: str, parser: str, files: dict[str, bytes], code: int, message: str) -> Case:
    """The parser run in memory on a retrieved folder with ``files`` (the calculation node is made beforehand)."""
    from aiida.plugins import ParserFactory

    def prepare(env) -> orm.CalcJobNode:
        if parser == "polymer.lammps":
            stage = orm.Dict(Stage(name="nvt", steps=1000).to_dict())
            return _calc_node(env, "aiida.calculations:polymer.lammps", {"stage": stage}, files)
        parameters = orm.Dict({"task": "energy", "method": "hf", "basis": "sto-3g"})
        return _calc_node(env, "aiida.calculations:polymer.psi4", {"parameters": parameters}, files)

    def run(env) -> Outcome:
        node = env["prepared"][name]
        exit_code = ParserFactory(parser)(node).parse()
        assert exit_code is not None, "a corrupt output must not parse as a success"
        return Outcome(exit_code.status, exit_code.message)

    case = Case(name, run, code, message)
    case.prepare = prepare  # type: ignore[attr-defined]
    return case


def _properties(smiles: Any = "*CC*", overrides: dict | None = None, codes: dict | None = None, **kwargs):
    from aiida_polymer.workchains.properties import PropertiesWorkChain

    def call(env):
        return PropertiesWorkChain.get_builder_from_protocol(env["codes"] if codes is None else codes(env), smiles,
                                                             kwargs.pop("protocol", "fast"), overrides, **kwargs)

    return call


def _without(name: str):
    return lambda env: {k: v for k, v in env["codes"].items() if k != name}


def _replaced(name: str, value: Any):
    return lambda env: {**env["codes"], name: value(env) if callable(value) else value}


def _cell(**cell) -> dict:
    return {"equilibrate": {"cell": cell}}


ZIP = b"PK\x03\x04" + bytes(range(256)) * 4  # binary garbage where a text log belongs
CASES = [
    # the CLI
    cli_case("malformed SMILES", ["submit", "*CC(*"], "cannot parse SMILES"),
    cli_case("five-bonded carbon", ["submit", "*C(C)(C)(C)(C)*"], "Explicit valence"),
    cli_case("two fragments", ["submit", "*CC*.O"], "disconnected fragments"),
    cli_case("one connection point", ["submit", "*CC"], "1 connection point"),
    cli_case("unsupported element", ["submit", "*C[Si](C)(C)*"], "element Si"),
    cli_case("charged unit", ["submit", "*C[N+](C)(C)*"], "net charge"),
    cli_case("empty SMILES", ["submit", ""], "empty SMILES"),
    cli_case("bad end group", ["submit", "*CC*", "--head-group", "C"], "end group"),
    cli_case("copolymer without a layout", ["submit", "*CC*", "*CC(*)C"], "--copolymer"),
    cli_case("fractions not numbers", ["submit", "*CC*", "*CC(*)C", "--copolymer", "random", "--fractions", "a,b"],
             "--fractions"),
    cli_case("fractions, wrong count", ["submit", "*CC*", "*CC(*)C", "--copolymer", "random", "--fractions", "1"],
             "fractions"),
    cli_case("negative fraction", ["submit", "*CC*", "*CC(*)C", "--copolymer", "random", "--fractions", "1.2,-0.2"],
             "fractions"),
    cli_case("unknown protocol", ["submit", "*CC*", "--protocol", "ultra"], "ultra"),
    cli_case("code that does not exist", ["submit", "*CC*", "--code-lmp", "nolmp@localhost"], "nolmp@localhost"),
    cli_case("computer that does not exist", ["submit", "*CC*", "--code-lmp", "lmp@fugaku-typo"], "fugaku-typo"),
    cli_case("zero temperature", ["submit", "*CC*", "--temperature", "0"], "temperature"),
    cli_case("negative temperature", ["submit", "*CC*", "--temperature", "-300"], "temperature"),
    cli_case("negative pressure", ["submit", "*CC*", "--pressure", "-1"], "pressure"),
    cli_case("show a PK that does not exist", ["show", "999999"], "999999", code=1),
    cli_case("options file that does not exist", ["submit", "*CC*", "--options-file", "/nonexistent/options.yaml"],
             "options.yaml"),
    # the Python front door
    python_case("unknown top-level override", _properties(overrides={"equlibrate": {}}), ProtocolError,
                "did you mean 'equilibrate'"),
    python_case("misspelled stage key", _properties(overrides={"equilibrate": {"production": {"duraton": 10}}}),
                ProtocolError, "did you mean 'production.duration'"),
    python_case("NEMD key at the wrong level", _properties(overrides={"nemd": {"method": "langevin"}}),
                ProtocolError, "did you mean 'nemd.method'"),
    python_case("wrong type", _properties(overrides={"equilibrate": {"production": {"duration": "ten"}}}),
                ProtocolError, "must be a number"),
    python_case("unknown tacticity", _properties(overrides=_cell(tacticity="heterotactic")), ProtocolError,
                "tacticity"),
    python_case("unknown protocol name", _properties(protocol="ultra"), ProtocolError, "unknown protocol 'ultra'"),
    python_case("negative temperature (Python)", _properties(temperature=-5.0), ProtocolError, "must be positive"),
    python_case("fractions contradicting alternating",
                _properties(["*CC*", "*CC(*)C"], _cell(copolymer="alternating", fractions=[0.7, 0.3])), ValueError,
                "contradict"),
    python_case("malformed SMILES (Python)", _properties("*CC(*"), MonomerError, "cannot parse SMILES"),
    python_case("missing code", _properties(codes=_without("lmp")), ValueError, "lmp"),
    python_case("a string for a code", _properties(codes=_replaced("lmp", "lmp@localhost")), TypeError, "lmp"),
    python_case("psi4 given as the LAMMPS code", _properties(codes=_replaced("lmp", lambda env: env["codes"]["psi4"])),
                ValueError, "lmp"),
    # corrupt outputs given to the parsers
    parser_case("LAMMPS log missing", "polymer.lammps", {"other.txt": b"x"}, 301, "log.lammps was not retrieved"),
    parser_case("LAMMPS log binary garbage", "polymer.lammps", {"log.lammps": ZIP}, 304, "no thermo output"),
    parser_case("LAMMPS log cut in its header", "polymer.lammps", {"log.lammps": LOG[:400].encode()}, 304,
                "no thermo output"),
    parser_case("LAMMPS log cut mid-run", "polymer.lammps",
                {"log.lammps": LOG[: LOG.index("Loop time")].encode()}, 304, "stopped without finishing"),
    parser_case("psi4 output empty", "polymer.psi4", {"output.dat": b""}, 300, "missing or empty"),
    parser_case("psi4 output binary garbage", "polymer.psi4", {"output.dat": ZIP}, 310, "without finishing"),
    parser_case("psi4 output cut in half", "polymer.psi4",
                {"output.dat": PSI4_OK[: len(PSI4_OK) // 2].encode()}, 310, "without finishing"),
]


@pytest.fixture(scope="module")
def env(aiida_profile):
    from aiida_polymer.codes import ensure_codes, localhost

    codes = ensure_codes(localhost())
    prepared = {c.name: c.prepare({"codes": codes}) for c in CASES if hasattr(c, "prepare")}
    return {"codes": codes, "prepared": prepared, "table": []}


def _count() -> int:
    return orm.QueryBuilder().append(orm.Node).count()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, env):
    before = _count()
    outcome = case.run(env)
    print(f"\n{case.name:<40} -> [{outcome.code}] {outcome.message.strip().splitlines()[-1][:150]}")
    assert outcome.code == case.code, outcome.message
    assert case.message in outcome.message
    assert _count() == before, "nothing may be stored"


def test_at_least_25_kinds():
    assert len(CASES) >= 25 and len({c.name for c in CASES}) == len(CASES)
