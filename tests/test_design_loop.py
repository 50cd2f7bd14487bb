"""The design loop through the daemon: rounds recorded with their provenance, submitted as campaign rounds,
resumed after interruptions without duplicates, failures excluded and reported, status, plot and CLI errors.

The workflows are the synthetic stand-in (``--workflow synthetic``: the oracle's RDKit-descriptor properties in
one calcfunction), so three rounds of four run through a real daemon in seconds.
"""

from __future__ import annotations

import math
import re

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner

from aiida_polymer.campaign.submission import KEY
from aiida_polymer.cli import cli
from aiida_polymer.design import oracle, rounds
from aiida_polymer.design.rounds import ROUND, SCORE, round_records

OBJECTIVE = "max:thermal_conductivity"


@pytest.fixture(scope="module")
def daemon(aiida_config, aiida_profile_factory, daemon_profile):
    with daemon_profile(aiida_config, aiida_profile_factory, "design") as client:
        yield client


def _library(path, units: list[tuple[str, str]]):
    path.write_text("id,smiles,family\n" + "".join(f"{ident},{smiles},test\n" for ident, smiles in units))
    return path


def _computable(units: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The units the pipeline computes (the oracle's library has some elements GAFF2 does not type, e.g. Si)."""
    from aiida_polymer.chem.monomer import parse_repeat_unit

    out = []
    for ident, smiles in units:
        try:
            parse_repeat_unit(smiles)
        except Exception:  # MonomerError, or RDKit's (KekulizeException)
            continue
        out.append((ident, smiles))
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return _library(tmp_path_factory.mktemp("design") / "library.csv", _computable(oracle.library(30)))


def _design(*args: str):
    return CliRunner().invoke(cli, ["design", *args], catch_exceptions=False)


def _workflows(label: str) -> list[orm.WorkflowNode]:
    query = orm.QueryBuilder().append(orm.Group, filters={"label": label}, tag="g").append(
        orm.WorkflowNode, with_group="g")
    return query.all(flat=True)


def _synthetic_count() -> int:
    return orm.QueryBuilder().append(orm.WorkflowNode, filters={
        "process_type": "aiida.workflows:polymer.design.synthetic"}).count()


def _loop_args(library, label: str, *extra: str) -> list[str]:
    return [str(library), "--objective", OBJECTIVE, "--budget", "12", "--batch", "4", "--group", label,
            "--workflow", "synthetic", *extra]


def test_three_rounds_resumed_after_interruptions(daemon, library, monkeypatch, tmp_path):
    args = _loop_args(library, "loop")
    first = _design(*args, "--watch", "--interval", "1", "--rounds", "1")  # round 1, waited for, then paused
    assert first.exit_code == 0, first.output
    assert "round 1 recorded" in first.output and "paused after 1 new rounds" in first.output
    assert len(_workflows("loop")) == 4 and all(node.is_finished_ok for node in _workflows("loop"))

    # interrupted right after round 2 is recorded, before any of its picks is submitted
    real = rounds.record_round

    def record_then_die(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(rounds, "record_round", record_then_die)
    interrupted = _design(*args)
    assert interrupted.exit_code == 130, interrupted.output
    monkeypatch.setattr(rounds, "record_round", real)
    assert len(round_records("loop")) == 2 and len(_workflows("loop")) == 4

    resumed = _design(*args)  # submits round 2's picks, records nothing new, says what runs
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.count("round 2: submitted") == 4 and "round 2 recorded" not in resumed.output
    again = _design(*args)  # while they run (or just after): nothing twice
    assert again.exit_code == 0 and "round 2: submitted" not in again.output, again.output
    assert len(round_records("loop")) in (2, 3)  # a third only if round 2 ended in between

    final = _design(*args, "--watch", "--interval", "1")
    assert final.exit_code == 0, final.output
    assert "done, 12 polymers computed (budget 12) in 3 rounds" in final.output
    nodes = _workflows("loop")
    keys = [node.base.extras.get(KEY) for node in nodes]
    assert len(nodes) == 12 and len(set(keys)) == 12 and all(node.is_finished_ok for node in nodes)
    assert _synthetic_count() >= 12
    records = round_records("loop")
    assert [record.outputs.result["round"] for record in records] == [1, 2, 3]
    every = orm.QueryBuilder().append(orm.CalcFunctionNode, filters={"process_type": rounds.PROCESS_TYPE,
                                                                     "label": {"like": "loop round %"}})
    assert every.count() == 3  # no round recorded twice

    # each round's workflows carry their round and score; the picks are the workflows
    by_round: dict[int, set[str]] = {}
    for node in nodes:
        by_round.setdefault(node.base.extras.get(ROUND), set()).add(node.base.extras.get(KEY))
        assert isinstance(node.base.extras.get(SCORE), float | None)
    for record in records:
        result = record.outputs.result.get_dict()
        assert {pick["key"] for pick in result["picks"]} == by_round[result["round"]]
        assert all(len(pick["mean"]) == 1 and len(pick["std"]) == 1 for pick in result["picks"]
                   if result["model_hash"])

    # provenance: round N's inputs are the properties Dicts of every polymer computed before it
    properties = {node.base.extras.get(ROUND): set() for node in nodes}
    for node in nodes:
        properties[node.base.extras.get(ROUND)].add(node.outputs.properties.uuid)
    for record, before in zip(records, ([], [1], [1, 2]), strict=True):
        inputs = record.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
        trained = {link.node.uuid for link in inputs if link.link_label.startswith("train_")}
        assert trained == set().union(*(properties[n] for n in before)), record.pk
        labels = {link.link_label for link in inputs}
        assert {"settings", "library", "round_number"} <= labels
        library_node = record.inputs.library
        assert library_node.base.extras.get(rounds.LIBRARY_SHA) == rounds.sha256(library)
        result = record.outputs.result.get_dict()
        assert {p["workflow"] for p in result["training"]["polymers"]} == {
            n.uuid for n in nodes if n.base.extras.get(ROUND) in before}
        assert result["training"]["query"]["properties"] == ["thermal_conductivity"]
    assert records[0].outputs.result["model"]["mode"] == "initial-diverse" and not records[0].outputs.result[
        "model_hash"]
    assert records[1].outputs.result["model_hash"] and records[2].outputs.result["model_hash"]
    assert records[1].outputs.result["model_hash"] != records[2].outputs.result["model_hash"]
    assert len({r.inputs.library.pk for r in records}) == 1  # the library is stored once

    # status: rounds, best so far (the largest value computed), model hashes
    values = {node.base.extras.get(KEY): node.outputs.properties["thermal_conductivity"]["value"] for node in nodes}
    status = _design("status", "loop")
    assert status.exit_code == 0, status.output
    assert "12 of 12 polymers computed in 3 rounds" in status.output
    for record in records:
        number, hash_ = record.outputs.result["round"], record.outputs.result["model_hash"] or "initial-diverse"
        assert re.search(rf"^{number}\s+{record.pk}\s+4\s+4\s+0\s+0\s+0\s+{4 * (number - 1)}\s+0\s+"
                         rf"{re.escape(hash_[:16])}", status.output, re.M), status.output
    best = max(values.values())
    assert f"best thermal_conductivity so far: {best:.4g}" in status.output

    plot = _design("plot", "loop", "-o", str(tmp_path / "progress.png"))
    assert plot.exit_code == 0, plot.output
    assert (tmp_path / "progress.png").stat().st_size > 1000

    table = rounds.design_status("loop")
    assert [row["round"] for row in table.history] == [1] * 4 + [2] * 4 + [3] * 4
    assert math.isclose(table.best["thermal_conductivity"]["values"]["thermal_conductivity"], best)


def test_failed_workflow_is_excluded_and_reported(daemon, tmp_path):
    units = [*[unit for unit in _computable(oracle.library(40)) if "#" not in unit[1]][:5], ("bad-cn", "*CC(*)C#N")]
    library = _library(tmp_path / "small.csv", units)
    args = [str(library), "--objective", OBJECTIVE, "--budget", "7", "--batch", "3", "--group", "failing",
            "--workflow", "synthetic", "--overrides", '{"fail_smarts": "C#N"}', "--watch", "--interval", "1"]
    result = _design(*args)
    assert result.exit_code == 0, result.output
    assert "no candidate left in the library after round 3" in result.output  # 6 computed, budget 7: round 3 empty
    nodes = _workflows("failing")
    assert len(nodes) == 6
    failed = [node for node in nodes if not node.is_finished_ok]
    assert len(failed) == 1 and failed[0].exit_status == 310
    records = round_records("failing")
    last = records[-1].outputs.result.get_dict()
    assert last["picks"] == []
    excluded = {item["id"]: item["reason"] for item in last["excluded"]}
    assert set(excluded) == {"bad-cn"} and excluded["bad-cn"].startswith("failed [310]")
    trained = {link.node.uuid for link in records[-1].base.links.get_incoming().all()
               if link.link_label.startswith("train_")}
    assert len(trained) == 5 and "properties" not in failed[0].outputs
    assert last["training"]["polymers"] and all(p["id"] != "bad-cn" for p in last["training"]["polymers"])
    status = _design("status", "failing")
    assert status.exit_code == 0
    assert re.search(r"^  bad-cn: failed \[310\] The unit matches C#N", status.output, re.M), status.output
    again = _design(*args)  # nothing left: nothing recomputed, no new round
    assert again.exit_code == 0 and len(_workflows("failing")) == 6 and len(round_records("failing")) == 3


def test_bad_design_input_is_a_clean_error(daemon, library):
    rounds.start_design("started", library, [OBJECTIVE], budget=4, batch=2, workflow="synthetic")  # submits nothing
    runner = CliRunner()
    for args, code, message in (
            (["--objective", "maxx:thermal_conductivity"], 2, "goal 'maxx' is not one of"),
            (["--objective", "max:conductivity"], 2, "unknown property 'conductivity'"),
            (["--objective", OBJECTIVE, "--constraint", "density=1"], 2, "equality is not a constraint"),
            (["--objective", OBJECTIVE, "--constraint", "densty>1"], 2, "did you mean density"),
            (["--objective", "min:density", "--group", "started"], 1, "was started with another objectives"),
            (["--objective", OBJECTIVE, "--overrides", "{nope"], 2, "not JSON"),
            (["--objective", OBJECTIVE, "--workflow", "properties", "--code-lmp", "lmp@nowhere"], 1,
             "no code 'lmp@nowhere'")):
        command = ["design", str(library), "--budget", "4", "--batch", "2", "--workflow", "synthetic"]
        if "--group" not in args:
            command += ["--group", "bad-input"]
        result = runner.invoke(cli, [*command, *args])
        assert result.exit_code == code and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not _workflows("bad-input") and not _workflows("started")
    with rounds.one_command(orm.Group.collection.get(label="started")):  # another command advances it
        busy = runner.invoke(cli, ["design", str(library), "--objective", OBJECTIVE, "--budget", "4", "--batch", "2",
                                   "--workflow", "synthetic", "--group", "started"])
    assert busy.exit_code == 1 and "is being advanced by another command" in busy.output, busy.output
    assert not round_records("started") and not _workflows("started")
    missing = runner.invoke(cli, ["design", "status", "nosuch"])
    assert missing.exit_code == 1 and "no design 'nosuch'" in missing.output


def test_flagged_and_missing_values_are_left_out_with_their_reason(tmp_path):
    """The training set of a round (no AiiDA needed): a gated value is missing for the surrogate, a polymer
    without any usable objective value is excluded with the reason, and no excluded candidate is picked."""
    from contextlib import contextmanager

    units = _computable(oracle.library(60))[:40]
    library = _library(tmp_path / "library.csv", units)

    def entry(value, flags=(), stderr=0.01):
        return {"thermal_conductivity": {"value": value, "unit": "W/(m K)", "stderr": stderr, "flags": list(flags)}}

    tables = {"train_0000": entry(0.3), "train_0001": entry(0.5), "train_0002": entry(0.4),
              "train_0003": entry(0.45), "train_0004": entry(0.9, ["nonlinear_profile"]),
              "train_0005": entry(0.2, stderr=0.3), "train_0006": {}}
    index = {label: {"key": f"k{i}", "id": units[i][0], "smiles": units[i][1], "workflow": f"uuid{i}"}
             for i, label in enumerate(sorted(tables))}
    config = {"group": "g", "round": 2, "batch": 3, "objectives": [{"property": "thermal_conductivity",
                                                                   "goal": "max", "low": None, "high": None}],
              "constraints": [], "seed": 0, "protocol": "fast", "workflow": "synthetic", "temperature": 300.0,
              "pressure": 1.0, "overrides": {}, "chunk": 7, "library_sha256": "x", "library_name": "library.csv",
              "training": index, "excluded": [{"id": units[7][0], "key": "k7", "reason": "failed [310] ..."}],
              "exclude": {units[i][0]: "computed" for i in range(8)}, "known_keys": {}, "invalid_lines": []}

    @contextmanager
    def open_library():
        with open(library) as handle:
            yield handle

    result = rounds.propose_round(config, open_library, tables)
    used = {p["input"]: p for p in result["training"]["polymers"]}
    assert set(used) == {"train_0000", "train_0001", "train_0002", "train_0003"}
    excluded = {item.get("input", item["id"]): item["reason"] for item in result["excluded"]}
    assert "flagged: profile not linear" in excluded[units[4][0]]
    assert "flagged: noise" in excluded[units[5][0]]
    assert "thermal_conductivity: missing" in excluded[units[6][0]]
    assert excluded[units[7][0]].startswith("failed [310]")
    assert result["model_hash"] and len(result["picks"]) == 3
    assert not {p["id"] for p in result["picks"]} & {units[i][0] for i in range(8)}
    assert all(p["line"] == 2 + [u[0] for u in units].index(p["id"]) for p in result["picks"])


def test_progress_curves_and_hypervolume():
    from aiida_polymer.design import progress

    assert progress.hypervolume_2d([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [1.5, 1.5]], [0.0, 0.0]) == 6.0
    best = progress.best_so_far([0.1, float("nan"), 0.5, 0.9, 0.3], [True, True, True, False, True])
    assert list(best) == [0.1, 0.1, 0.5, 0.5, 0.5]
    window = progress.utility([0.5, 1.1, 1.5], "window", 1.0, 1.2)
    assert list(window) == pytest.approx([-0.5, 0.0, -0.3])


def test_a_watch_connected_before_a_daemon_restart_still_gets_its_rounds_run(daemon, library):
    """The embedded ZeroMQ broker listens on a new socket after each daemon start: a process that connected before
    the restart (here this one, as a long-running ``--watch`` would be) must submit to the new broker, not lose its
    tasks to the old socket (workflows stored, never run)."""
    import time

    from aiida.manage import get_manager

    args = _loop_args(library, "restarted", "--interval", "1")
    first = _design(*args, "--watch", "--rounds", "1")  # submits through this process's broker connection
    assert first.exit_code == 0 and "round 1 recorded" in first.output, first.output
    manager = get_manager()
    try:
        daemon.stop_daemon(wait=True, timeout=60)
        daemon.start_daemon(number_workers=1)
        broker = manager.get_broker()
        assert broker._resources.communicator._router_endpoint != broker._router_endpoint  # the stale connection
        second = _design(*args, "--rounds", "1")  # records and submits round 2; does not wait
        assert second.exit_code == 0 and "round 2 recorded" in second.output, second.output
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and any(not node.is_terminated for node in _workflows("restarted")):
            time.sleep(1)
        nodes = _workflows("restarted")
        assert len(nodes) == 8
        assert all(node.is_finished_ok for node in nodes), [(node.pk, node.process_state) for node in nodes]
    finally:  # later tests submit through a connection to the running broker
        manager.reset_runner()
        manager.reset_broker()
