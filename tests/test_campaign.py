"""Campaigns through the daemon: throttled submission, linking, resuming after a kill, status, cancel and retry.

The workflows are amorphous cells on ``fast`` (`--workflow cell`: GAFF2 typing by AmberTools and packing; seconds
each), so that the campaign machinery is tested on real workflows of the pipeline in a few minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_polymer.campaign.submission import KEY, LIBRARY, load_settings
from aiida_polymer.cli import cli

LIBRARY_CSV = """id,smiles,tacticity,name
PE,*CC*,,polyethylene
PP,*CC(C)*,isotactic,polypropylene
PEO,*CCO*,,poly(ethylene oxide)
PE-dimer,*CCCC*,,polyethylene written as a dimer
PVC,*CC(Cl)*,,poly(vinyl chloride)
broken,*CC,,a unit with one star
"""


@pytest.fixture(scope="module")
def daemon(aiida_config, aiida_profile_factory, daemon_profile):
    with daemon_profile(aiida_config, aiida_profile_factory, "campaigns") as client:
        from aiida_polymer.codes import ensure_codes, localhost

        ensure_codes(localhost())
        yield client


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "library.csv"
    path.write_text(LIBRARY_CSV)
    return path


def _invoke(*args: str):
    result = CliRunner().invoke(cli, ["campaign", *args], catch_exceptions=False)
    return result


def _ok(result) -> None:
    assert result.exit_code == 0, result.output


def _workflows(label: str) -> list[orm.WorkflowNode]:
    query = orm.QueryBuilder().append(orm.Group, filters={"label": label}, tag="g").append(
        orm.WorkflowNode, with_group="g")
    return query.all(flat=True)


def _count_processes() -> int:
    return orm.QueryBuilder().append(orm.ProcessNode).count()


def _wait(label: str, timeout: float = 600) -> None:
    start = time.time()
    while any(not node.is_terminated for node in _workflows(label)):
        assert time.time() - start < timeout, f"campaign {label} did not end in {timeout} s"
        time.sleep(1)


def test_dry_run_reports_every_row_and_stores_nothing(daemon, library):
    before = _count_processes(), orm.QueryBuilder().append(orm.Group).count()
    result = _invoke("submit", str(library), "--group", "dry", "--workflow", "cell", "--protocol", "fast",
                     "--dry-run")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line[:1].isdigit()}
    assert "submit" in lines["2"] and "submit" in lines["6"]
    assert "same polymer as line 2: linked" in lines["5"]
    assert "rejected" in lines["7"] and "connection point" in lines["7"]
    assert "4 to submit" in result.output and "1 rejected" in result.output
    assert (_count_processes(), orm.QueryBuilder().append(orm.Group).count()) == before


def test_campaign_is_throttled_links_duplicates_and_ends(daemon, library):
    result = _invoke("submit", str(library), "--group", "throttled", "--workflow", "cell", "--protocol", "fast",
                     "--max-concurrent", "2")
    assert result.exit_code == 0, result.output
    assert "rejected line 7 (broken)" in result.output
    assert len(_workflows("throttled")) == 2
    again = _invoke("submit", str(library), "--group", "throttled", "--workflow", "cell", "--protocol", "fast")
    assert again.exit_code == 0 and len(_workflows("throttled")) <= 4  # at most 2 more, as the first end
    watch = _invoke("submit", str(library), "--group", "throttled", "--workflow", "cell", "--protocol", "fast",
                    "--watch", "--interval", "1")
    assert watch.exit_code == 0, watch.output
    nodes = _workflows("throttled")
    assert len(nodes) == 4 and all(node.is_finished_ok for node in nodes)
    keys = [node.base.extras.get(KEY) for node in nodes]
    assert len(set(keys)) == 4
    pe = next(node for node in nodes if node.base.extras.get(LIBRARY)[0]["id"] in ("PE", "PE-dimer"))
    rows = {item["id"]: item for item in pe.base.extras.get(LIBRARY)}
    assert set(rows) == {"PE", "PE-dimer"} and rows["PE"]["metadata"] == {"name": "polyethylene"}
    assert rows["PE"]["campaign"] == "throttled" and rows["PE"]["line"] == 2
    status = _invoke("status", "throttled")
    assert status.exit_code == 0
    assert "5 library rows, 1 rejected" in status.output and "4 polymers" in status.output
    assert re.search(r"^finished\s+4$", status.output, re.M) and re.search(r"^to submit\s+0$", status.output, re.M)
    assert re.search(r"^failed\s+0$", status.output, re.M) and "CPU time" in status.output
    assert re.search(r"^  (antechamber|parmchk2): \d+ s over 4 jobs$", status.output, re.M), status.output
    assert "jobs per finished polymer: 2.0 (" in status.output  # antechamber and parmchk2 once each


def test_another_campaign_links_what_is_computed(daemon, library):
    before = _count_processes()
    result = _invoke("submit", str(library), "--group", "second", "--workflow", "cell", "--protocol", "fast")
    assert result.exit_code == 0, result.output
    assert result.output.count("linked (already computed or running)") == 4
    assert _count_processes() == before
    first, second = ({node.pk for node in _workflows(label)} for label in ("throttled", "second"))
    assert first == second


KILL_AFTER_SUBMIT = """
import os, sys, time
import aiida.engine
real = aiida.engine.submit
calls = []
def submit(builder, **kwargs):
    node = real(builder, **kwargs)
    calls.append(node.pk)
    if len(calls) == int(os.environ["KILL_AT"]):
        time.sleep(2)  # the broker's task has left (a task lost with its sender is `verdi process repair`'s case)
        os._exit(9)  # killed after the workflow is stored, before the controller sets its extras or group
    return node
aiida.engine.submit = submit
from aiida_polymer.cli import cli
cli(sys.argv[1:])
"""


def test_controller_killed_between_submit_and_bookkeeping_duplicates_nothing(daemon, library, aiida_config):
    from aiida.manage import get_manager

    env = {**os.environ, "AIIDA_PATH": str(aiida_config.dirpath), "KILL_AT": "2",
           "AIIDA_POLYMER_PROFILE": get_manager().get_profile().name}
    args = ["campaign", "submit", str(library), "--group", "killed", "--workflow", "cell", "--protocol", "fast",
            "--temperature", "310", "--max-concurrent", "3"]
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_AFTER_SUBMIT), *args], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 9, run.stdout + run.stderr
    stored = orm.QueryBuilder().append(orm.WorkflowNode, filters={"description": {"like": "%|310K|%"}}).all(
        flat=True)
    assert len(stored) == 2  # the second one was stored, then the controller died
    assert len(_workflows("killed")) == 1  # ... before it was put in the group
    result = _invoke(*args[1:], "--watch", "--interval", "1")
    assert result.exit_code == 0, result.output
    assert result.output.count("adopted (found again after an interruption)") == 1
    nodes = _workflows("killed")
    keys = [node.base.extras.get(KEY) for node in nodes]
    assert len(nodes) == 4 and len(set(keys)) == 4 and all(node.is_finished_ok for node in nodes)
    everything = orm.QueryBuilder().append(orm.WorkflowNode, filters={"description": {"like": "%|310K|%"}})
    assert everything.count() == 4  # none computed twice
    assert {node.pk for node in stored} <= {node.pk for node in nodes}
    assert load_settings(orm.Group.collection.get(label="killed")).rejected[0]["line"] == 7


def _kill_workers(client) -> list[int]:
    import signal

    pids = [int(pid) for pid in client.get_worker_info().get("info", {})]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def test_daemon_killed_mid_flight_loses_and_duplicates_nothing(daemon, library):
    """SIGKILL the daemon's worker while the campaign runs, then the whole daemon; the same command resumes."""
    args = ["submit", str(library), "--group", "daemon-killed", "--workflow", "cell", "--protocol", "fast",
            "--temperature", "320", "--max-concurrent", "4"]
    _ok(_invoke(*args))
    time.sleep(3)
    assert any(not node.is_terminated for node in _workflows("daemon-killed"))
    assert _kill_workers(daemon)  # circus starts a new worker
    time.sleep(5)
    assert any(not node.is_terminated for node in _workflows("daemon-killed"))
    daemon_pid = daemon.get_daemon_pid()
    _kill_workers(daemon)
    os.kill(daemon_pid, 9)  # the daemon itself: nothing restarts the workers
    time.sleep(1)
    daemon.start_daemon(number_workers=1)
    result = _invoke(*args, "--watch", "--interval", "1")
    assert result.exit_code == 0, result.output
    _wait("daemon-killed")
    nodes = _workflows("daemon-killed")
    assert len(nodes) == 4 and all(node.is_finished_ok for node in nodes), [
        (node.pk, node.process_state, node.exit_status) for node in nodes]
    assert orm.QueryBuilder().append(orm.WorkflowNode, filters={"description": {"like": "%|320K|%"}}).count() == 4
    # the same cells as a clean run (the reference campaign links the clean runs of the other tests, or makes them)
    reference = ["submit", str(library), "--group", "reference", "--workflow", "cell", "--protocol", "fast",
                 "--watch", "--interval", "1"]
    _ok(_invoke(*reference))

    def results(label):  # the built cell (its LAMMPS data file) and its summary but for the time it took
        return {node.base.extras.get(KEY).split("|")[0]: (
            node.outputs.data_file.get_content(),
            {k: v for k, v in node.outputs.summary.get_dict().items() if k != "build_seconds"})
            for node in _workflows(label)}

    assert results("daemon-killed") == results("reference")


def test_cancel_status_and_retry(daemon, library):
    args = ["submit", str(library), "--group", "cancelled", "--workflow", "cell", "--protocol", "fast",
            "--temperature", "330", "--max-concurrent", "4"]
    _ok(_invoke(*args))
    cancelled = _invoke("cancel", "cancelled")
    assert cancelled.exit_code == 0 and "asked 4 active workflows to stop" in cancelled.output, cancelled.output
    _wait("cancelled")
    killed = [node for node in _workflows("cancelled") if node.is_killed]
    assert killed
    status = _invoke("status", "cancelled").output
    assert re.search(rf"^killed\s+{len(killed)}$", status, re.M), status
    assert re.search(rf"^killed\s+{len(killed)}\s+campaign 'cancelled' cancelled", status, re.M), status
    assert "aiida-polymer campaign retry cancelled" in status
    assert _invoke("retry", "cancelled", "--exit-code", "401").output.startswith("campaign 'cancelled': nothing")
    retried = _invoke("retry", "cancelled", "--exit-code", "killed", "--protocol", "moderate")
    assert retried.exit_code == 0 and retried.output.count("at protocol moderate") == len(killed), retried.output
    _ok(_invoke(*args, "--watch", "--interval", "1"))
    nodes = _workflows("cancelled")
    assert len(nodes) == 4 and all(node.is_finished_ok for node in nodes)
    moderate = [node for node in nodes if "|moderate|" in node.base.extras.get(KEY)]
    assert len(moderate) == len(killed)  # retried at the other protocol: its larger cell
    assert all(node.outputs.summary["n_atoms"] > 1500 for node in moderate)
    kept = _workflows("cancelled/failed")
    assert {node.pk for node in kept} == {node.pk for node in killed}  # the killed runs are kept, not deleted


def test_bad_campaign_input_is_a_clean_error(daemon, tmp_path, library):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,structure\nPE,*CC*\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["campaign", "submit", str(bad), "--group", "x", "--dry-run"])
    assert result.exit_code == 2 and "no 'id' and no 'smiles' column" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for args, message in ((["status", "nosuch"], "no campaign 'nosuch'"),
                          (["retry", "nosuch"], "no campaign 'nosuch'"),
                          (["submit", str(library), "--group", "throttled", "--workflow", "cell", "--protocol",
                            "moderate"], "was started with other settings (protocol 'fast', now 'moderate')"),
                          (["submit", str(library), "--group", "x", "--overrides", "{nope"], "not JSON"),
                          (["submit", str(library), "--group", "x", "--code-lmp", "lmp@nowhere", "--dry-run"],
                           "no code 'lmp@nowhere'")):
        result = runner.invoke(cli, ["campaign", *args])
        assert result.exit_code in (1, 2) and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
