"""Export of a campaign (aiida_polymer.database, `aiida-polymer export`): the table, deterministic CSV, the archive
round trip, closed campaigns and the public export's scrub, on a synthetic campaign with the node pattern of a
real run."""

from __future__ import annotations

import csv
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner

from aiida_polymer.campaign.submission import DESCRIPTION, KEY, LIBRARY, SETTINGS
from aiida_polymer.cli import cli
from aiida_polymer.database import campaign_table, export_group
from aiida_polymer.database.table import settings_hash

EMAIL = "alice.secret@lab.example.org"
HOSTNAME = "login7.hpc.example.org"
NODE = "vm"  # a compute node's short name, known only from the outputs
USERNAME = "alice7q"
WORKDIR = f"/scratch/{USERNAME}/aiida_run/ab/cd/0123-4567"
LABEL = "pe-screen"
KEY_PE = "*C*|fast|300K|1atm"
KEY_PEO = "*CCO*|fast|350K|1atm|tacticity=isotactic"
PROPS = {
    KEY_PE: {
        "density": {"value": 0.8123456789, "unit": "g/cm3", "stderr": 0.01, "flags": ["not_converged"]},
        "thermal_conductivity": {"value": 0.2, "unit": "W/(m K)", "stderr": 0.15, "flags": []},
    },
    KEY_PEO: {
        "density": {"value": 1.1, "unit": "g/cm3", "stderr": 0.02, "flags": []},
        "thermal_conductivity": {
            "value": None,
            "unit": "W/(m K)",
            "stderr": None,
            "flags": ["skipped", "not_equilibrated"],
            "reason": "not_equilibrated",
        },
    },
}
SETTINGS_IN = {"equilibrate__protocol": {"production": {"temperature": 300.0}}, "nemd_requires_equilibrium": False}


def _workflow(key: str, rows: list[dict], computer, lammps: str | None) -> orm.WorkflowNode:
    workflow = orm.WorkflowNode()
    workflow.set_process_type("aiida.workflows:polymer.properties")
    workflow.description = DESCRIPTION + key
    workflow.base.attributes.set("version", {"core": "2.9.4", "plugin": "0.1.0"})
    protocol = orm.Dict(SETTINGS_IN["equilibrate__protocol"]).store()
    flag = orm.Bool(False).store()
    options = orm.Dict({"account": USERNAME}).store()
    workflow.base.links.add_incoming(protocol, LinkType.INPUT_WORK, "equilibrate__protocol")
    workflow.base.links.add_incoming(flag, LinkType.INPUT_WORK, "nemd_requires_equilibrium")
    workflow.base.links.add_incoming(options, LinkType.INPUT_WORK, "equilibrate__md__lammps__options")
    workflow.set_process_state("finished")
    workflow.set_exit_status(0)
    workflow.store()
    workflow.base.extras.set_many({KEY: key, LIBRARY: [{"campaign": LABEL, **row} for row in rows]})
    if lammps:
        job = orm.CalcJobNode(computer=computer)
        job.set_process_type("aiida.calculations:polymer.lammps")
        job.set_remote_workdir(WORKDIR)
        job.set_process_state("finished")
        job.set_exit_status(0)
        job.base.links.add_incoming(workflow, LinkType.CALL_CALC, "production")
        job.store()
        parameters = orm.Dict({"version": lammps, "note": f"ran in {WORKDIR} as {USERNAME}@{HOSTNAME}"})
        parameters.base.links.add_incoming(job, LinkType.CREATE, "output_parameters")
        parameters.store()
        remote = orm.RemoteData(remote_path=WORKDIR, computer=computer)
        remote.base.links.add_incoming(job, LinkType.CREATE, "remote_folder")
        remote.store()
        retrieved = orm.FolderData()
        retrieved.base.repository.put_object_from_bytes(f"cd {WORKDIR}\n".encode(), "_scheduler-stdout.txt")
        retrieved.base.repository.put_object_from_bytes(  # psi4 names the compute node; "nvme" is no host
            f"    Host:       {NODE}\n*** tstart() called on {NODE}\nscratch on nvme0\n".encode(), "output.dat")
        retrieved.base.links.add_incoming(job, LinkType.CREATE, "retrieved")
        retrieved.store()
        job.seal()
    properties = orm.Dict(PROPS[key]).store()
    properties.base.links.add_incoming(workflow, link_type=LinkType.RETURN, link_label="properties")
    workflow.seal()
    return workflow


@pytest.fixture
def campaign(aiida_profile_clean):
    """A campaign group of two finished polymers, one with a LAMMPS job on a cluster computer."""
    user = orm.User(email=EMAIL, first_name="Alice", last_name="Secret", institution="Lab").store()
    orm.User.collection.get_default()  # the profile's own
    computer = orm.Computer(
        label="cluster",
        hostname=HOSTNAME,
        transport_type="core.local",
        scheduler_type="core.direct",
        workdir="/scratch/{username}/aiida_run/",
    ).store()
    rows = {
        KEY_PE: [{"id": "pe", "line": 2, "metadata": {"contact": EMAIL, "source": "seed"}}],
        KEY_PEO: [
            {"id": "peo", "line": 3, "metadata": {"source": "seed"}},
            {"id": "peo-b", "line": 4, "metadata": {"source": "duplicate"}},
        ],
    }
    group = orm.Group(LABEL, user=user).store()
    group.base.extras.set(
        SETTINGS,
        {
            "protocol": "fast",
            "library": f"/home/{USERNAME}/lib.csv",
            "entries": {key: [{**row, "units": [key.split("|")[0]]} for row in value] for key, value in rows.items()},
        },
    )
    nodes = [
        _workflow(KEY_PE, rows[KEY_PE], computer, "29 Aug 2024"),
        _workflow(KEY_PEO, rows[KEY_PEO], computer, None),
    ]
    group.add_nodes(nodes)
    yield group, nodes
    aiida_profile_clean.reset_storage()  # the synthetic runs must not reach other tests' `aiida-polymer list`


def _expected(nodes) -> list[dict]:
    pe, peo = nodes
    digest = settings_hash(SETTINGS_IN)
    common = {
        "head_group": "*C",
        "tail_group": "*C",
        "overrides_hash": "",
        "state": "finished",
        "exit_status": 0,
        "settings_sha256": digest,
        "aiida_core_version": "2.9.4",
        "aiida_polymer_version": "0.1.0",
        "psi4_version": "unknown",
        "ambertools_version": "unknown",
    }
    return [
        {
            "key": KEY_PE,
            "smiles": "*C*",
            "protocol": "fast",
            "temperature": 300.0,
            "pressure": 1.0,
            "tacticity": "atactic",
            "library_id": "pe",
            "metadata.contact": EMAIL,
            "metadata.source": "seed",
            **common,
            "lammps_version": "29 Aug 2024",
            "workflow_uuid": pe.uuid,
            "properties_uuid": pe.outputs.properties.uuid,
            "density": 0.8123456789,
            "density_stderr": 0.01,
            "density_unit": "g/cm3",
            "density_flags": "not_converged",
            "thermal_conductivity": 0.2,
            "thermal_conductivity_stderr": 0.15,
            "thermal_conductivity_unit": "W/(m K)",
            "thermal_conductivity_flags": "noise",
        },
        {
            "key": KEY_PEO,
            "smiles": "*CCO*",
            "protocol": "fast",
            "temperature": 350.0,
            "pressure": 1.0,
            "tacticity": "isotactic",
            "library_id": "peo;peo-b",
            "metadata.contact": "",
            "metadata.source": "seed;duplicate",
            **common,
            "lammps_version": "unknown",
            "workflow_uuid": peo.uuid,
            "properties_uuid": peo.outputs.properties.uuid,
            "density": 1.1,
            "density_stderr": 0.02,
            "density_unit": "g/cm3",
            "density_flags": "",
            "thermal_conductivity": None,
            "thermal_conductivity_stderr": None,
            "thermal_conductivity_unit": "W/(m K)",
            "thermal_conductivity_flags": "skipped;not_equilibrated",
        },
    ]


def test_table_rows(campaign):
    group, nodes = campaign
    table = campaign_table(group)
    expected = _expected(nodes)
    assert table.rows == expected
    assert table.columns[:11] == [
        "key",
        "smiles",
        "protocol",
        "temperature",
        "pressure",
        "tacticity",
        "head_group",
        "tail_group",
        "overrides_hash",
        "library_id",
        "metadata.contact",
    ]
    assert table.columns[-4:] == [
        "thermal_conductivity",
        "thermal_conductivity_stderr",
        "thermal_conductivity_unit",
        "thermal_conductivity_flags",
    ]
    assert table.fields["density"]["unit"] == "g/cm3" and table.fields["temperature"]["unit"] == "K"
    long = table.long()
    assert [(r["key"], r["property"], r["value"]) for r in long.rows] == [
        (KEY_PE, "density", 0.8123456789),
        (KEY_PE, "thermal_conductivity", 0.2),
        (KEY_PEO, "density", 1.1),
        (KEY_PEO, "thermal_conductivity", None),
    ]


def test_export_deterministic_and_round_trip(campaign, aiida_profile, tmp_path):
    from aiida.tools.archive import import_archive

    group, _ = campaign
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    export_group(group, first, long=True)
    export_group(group, second, long=True, archive=False)
    assert (first / "polymers.csv").read_bytes() == (second / "polymers.csv").read_bytes()
    assert (first / "properties_long.csv").read_bytes() == (second / "properties_long.csv").read_bytes()
    rows = list(csv.DictReader((first / "polymers.csv").open()))
    assert rows[0]["density"] == "0.8123456789" and rows[1]["thermal_conductivity"] == ""
    package = json.loads((first / "datapackage.json").read_text())
    assert package["profile"] == "tabular-data-package"
    assert [r["path"] for r in package["resources"]] == [
        "polymers.csv",
        "polymers.parquet",
        "properties_long.csv",
        "properties_long.parquet",
    ]
    fields = {f["name"]: f for f in package["resources"][0]["schema"]["fields"]}
    assert fields["density"] == {"name": "density", "type": "number", "description": "density: value", "unit": "g/cm3"}
    import pyarrow.parquet as pq

    parquet = pq.read_table(first / "polymers.parquet").to_pylist()
    assert [r["density"] for r in parquet] == [0.8123456789, 1.1]

    aiida_profile.reset_storage()
    import_archive(first / ARCHIVE_NAME)
    export_group(orm.Group.collection.get(label=LABEL), third, long=True, archive=False)
    assert (third / "polymers.csv").read_bytes() == (first / "polymers.csv").read_bytes()
    assert (third / "properties_long.csv").read_bytes() == (first / "properties_long.csv").read_bytes()


ARCHIVE_NAME = "provenance.aiida"


def test_public_refuses_closed(campaign, tmp_path):
    result = CliRunner().invoke(cli, ["campaign", "close", LABEL])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", LABEL, "-o", str(tmp_path / "out"), "--public"])
    assert result.exit_code in (1, 2)
    assert LABEL in result.output and "closed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "polymers.csv").exists()
    result = CliRunner().invoke(cli, ["campaign", "open", LABEL])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", LABEL, "-o", str(tmp_path / "out"), "--public", "--no-archive"])
    assert result.exit_code == 0, result.output


SECRETS = (EMAIL, HOSTNAME, WORKDIR, USERNAME, f"Host:       {NODE}", f"called on {NODE}")


def _leaks(path: Path) -> list[str]:
    data = path.read_bytes()
    return [f"{path.name}: {secret}" for secret in SECRETS if secret.encode() in data]


def test_public_export_leaks_nothing(campaign, aiida_profile, tmp_path):
    from aiida.tools.archive import import_archive

    group, nodes = campaign
    out = tmp_path / "public"
    result = CliRunner().invoke(cli, ["export", LABEL, "-o", str(out), "--public", "--long"])
    assert result.exit_code == 0, result.output
    private = tmp_path / "private"
    export_group(group, private)  # the secrets are there without --public (the test would prove nothing else)
    with zipfile.ZipFile(private / ARCHIVE_NAME) as archive:
        archive.extractall(tmp_path / "private-unzipped")
    assert {
        s
        for s in SECRETS
        if any(s.encode() in p.read_bytes() for p in (tmp_path / "private-unzipped").rglob("*") if p.is_file())
    } == set(SECRETS)

    leaks = []
    for name in ("polymers.csv", "polymers.parquet", "properties_long.csv", "datapackage.json", ARCHIVE_NAME):
        leaks += _leaks(out / name)
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(out / ARCHIVE_NAME) as archive:
        archive.extractall(unzipped)
    files = [p for p in unzipped.rglob("*") if p.is_file()]
    assert any(p.name == "db.sqlite3" for p in files) and any("repo" in p.parts for p in files)
    for path in files:
        leaks += _leaks(path)
    db = sqlite3.connect(unzipped / "db.sqlite3")
    dump = "\n".join(db.iterdump())
    leaks += [f"db dump: {secret}" for secret in SECRETS if secret in dump]
    assert leaks == []
    row = next(csv.DictReader((out / "polymers.csv").open()))
    assert row["metadata.contact"] == "redacted@redacted.invalid" and row["density"] == "0.8123456789"

    uuids = [n.uuid for n in nodes]
    aiida_profile.reset_storage()
    import_archive(out / ARCHIVE_NAME)
    imported = orm.Group.collection.get(label=LABEL)
    table = campaign_table(imported)
    assert [r["workflow_uuid"] for r in table.rows] == uuids
    assert table.rows[0]["density"] == 0.8123456789 and table.rows[0]["lammps_version"] == "29 Aug 2024"
    remote = orm.QueryBuilder().append(orm.RemoteData, project="attributes.remote_path").all(flat=True)
    assert remote == ["[redacted]"]
    folder = orm.QueryBuilder().append(orm.FolderData).one()[0]
    assert folder.base.repository.get_object_content("_scheduler-stdout.txt") == "cd [redacted]\n"
    assert folder.base.repository.get_object_content("output.dat") == (
        "    Host:       redacted-host\n*** tstart() called on redacted-host\nscratch on nvme0\n")


def test_export_unknown_group(aiida_profile_clean, tmp_path):
    result = CliRunner().invoke(cli, ["export", "no-such-campaign", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "no-such-campaign" in result.output and "Traceback" not in result.output
