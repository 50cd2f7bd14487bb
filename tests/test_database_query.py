"""Queries of the polymer database (aiida_polymer.database.query, `aiida-polymer query`) on synthetic campaigns
whose values are known by construction: every result is checked against a pure-Python filter and sort of the
stored rows; bad conditions are one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import math
import operator

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner

from aiida_polymer.campaign.submission import DESCRIPTION
from aiida_polymer.chem.flags import shown_flags
from aiida_polymer.cli import cli
from aiida_polymer.database import QueryError, campaign_table, query
from aiida_polymer.database.query import DEFAULT_COLUMNS, PROPERTIES, Condition, _key_fields, _pushed
from aiida_polymer.database.summary import SUMMARY, refresh, summarise
from aiida_polymer.database.synthetic import synthetic_campaign
from aiida_polymer.database.table import parse_key

OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
DESCRIBED_KEY = "*CC(C)(C)*|fast|300K|1atm|tacticity=isotactic"  # a workflow with its key in the description only


@pytest.fixture(scope="module")
def database(aiida_profile):
    """Two synthetic campaigns (300 and 40 polymers) and one polymer workflow outside any group whose key is only
    in its description (a workflow stored before its extras were set)."""
    aiida_profile.reset_storage()
    a = synthetic_campaign(300, "syn-a", batch=128)
    b = synthetic_campaign(40, "syn-b", seed=1, start=300)
    workflow = orm.WorkflowNode()
    workflow.set_process_type("aiida.workflows:polymer.properties")
    workflow.description = DESCRIPTION + DESCRIBED_KEY
    workflow.set_process_state("finished")
    workflow.set_exit_status(0)
    workflow.store()
    entry = {"value": 1.25, "unit": "g/cm^3", "stderr": 0.9, "flags": []}
    properties = orm.Dict({"density": entry}).store()
    properties.base.links.add_incoming(workflow, link_type=LinkType.RETURN, link_label="properties")
    workflow.seal()
    described = {"key": DESCRIBED_KEY, **parse_key(DESCRIBED_KEY), "pk": workflow.pk, "state": "finished",
                 "exit_status": 0, "library_id": "", "workflow_uuid": workflow.uuid,
                 "properties_uuid": properties.uuid, "properties": {"density": entry}}
    yield {"syn-a": a.polymers, "syn-b": b.polymers, None: a.polymers + b.polymers + [described]}
    aiida_profile.reset_storage()  # the synthetic runs must not reach other tests' `aiida-polymer list`


def _row(polymer: dict) -> dict:
    """The flat row of a stored polymer, every column, as the query should give it (None for missing)."""
    row = {name: polymer[name] for name in ("key", "pk", "smiles", "protocol", "temperature", "pressure", "state",
                                            "exit_status", "library_id", "workflow_uuid", "properties_uuid")}
    row.update({name: value for name, value in parse_key(polymer["key"]).items() if name not in row})
    row["_has"] = set(polymer["properties"])  # a condition on a property the row lacks is never met
    for name in PROPERTIES:
        entry = polymer["properties"].get(name)
        row[name] = entry["value"] if entry else None
        row[f"{name}_stderr"] = entry["stderr"] if entry else None
        row[f"{name}_unit"] = entry["unit"] if entry else ""
        row[f"{name}_flags"] = ";".join(shown_flags(entry)) if entry else ""
    return row


def _reference(polymers, where=(), sort=None, columns=DEFAULT_COLUMNS) -> list[dict]:
    rows = [_row(p) for p in polymers]
    for text in where:
        condition = Condition(text)
        prop = condition.column.removesuffix("_stderr").removesuffix("_unit").removesuffix("_flags")
        rows = [r for r in rows if r[condition.column] is not None and (prop not in PROPERTIES or prop in r["_has"])
                and OPS[condition.op](r[condition.column], condition.value)]
    rows.sort(key=lambda r: (r["key"], r["pk"]))
    for name in reversed(sort.split(",") if sort else []):
        descending, name = name.startswith("-"), name.lstrip("-")
        present = [r for r in rows if r[name] is not None]
        present.sort(key=lambda r: r[name], reverse=descending)  # stable both ways
        rows = present + [r for r in rows if r[name] is None]
    return [{c: r[c] for c in columns} for r in rows]


def _records(frame) -> list[dict]:
    def plain(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if hasattr(value, "item"):
            value = value.item()
        return None if str(value) == "<NA>" else value

    return [{c: plain(v) for c, v in row.items()} for row in frame.to_dict("records")]


def test_full_table(database):
    frame = query("syn-a")
    assert list(frame.columns) == list(DEFAULT_COLUMNS)
    assert len(frame) == 300
    assert _records(frame) == _reference(database["syn-a"])


CASES = [
    (["density>1.1", "thermal_conductivity>=0.3"], "-thermal_conductivity"),
    (["density<=1.0"], "density"),
    (["protocol==moderate", "temperature==350"], None),
    (["protocol!=fast"], "-density,pk"),
    (["smiles==*CC(C)OCCCCC*"], None),
    (["state==excepted"], None),
    (["exit_status==0", "density_stderr<0.05"], "-density_stderr"),
    (["thermal_conductivity_flags==skipped;not_equilibrated"], None),
    (["density_flags==", "protocol==precise"], None),
    (["density_unit==g/cm^3", "rg>12"], "rg"),
    (["pk>100", "pk<=150"], "-pk"),
    (["thermal_conductivity<0.2"], "-thermal_conductivity"),
]


@pytest.mark.parametrize(("where", "sort"), CASES)
def test_filters_and_sort(database, where, sort):
    columns = list(dict.fromkeys(["key", "pk", "state", "exit_status", *(Condition(t).column for t in where),
                                  *(sort.replace("-", "").split(",") if sort else [])]))
    frame = query("syn-a", where=where, sort=sort, columns=columns)
    expected = _reference(database["syn-a"], where, sort, columns)
    assert _records(frame) == expected
    assert 0 < len(expected) < 300 or where == ["exit_status==0", "density_stderr<0.05"]


def test_not_equal_exact_value(database):
    value = database["syn-a"][5]["properties"]["density"]["value"]
    frame = query("syn-a", where=[f"density!={value!r}"], columns=["pk", "density"])
    assert _records(frame) == _reference(database["syn-a"], [f"density!={value!r}"], columns=["pk", "density"])
    assert len(frame) == 300 - 3 - 1  # the three excepted have no density; the one row has the value
    frame = query("syn-a", where=[f"density=={value!r}"], columns=["pk"])
    assert frame["pk"].tolist() == [database["syn-a"][5]["pk"]]


def test_every_column(database):
    columns = [c for c in _row(database["syn-a"][0]) if c != "_has"]
    frame = query("syn-b", columns=columns)
    assert _records(frame) == _reference(database["syn-b"], columns=columns)


def test_profile_wide(database):
    frame = query(where=["density>1.2"], sort="-density", columns=["key", "pk", "density", "library_id"])
    expected = _reference(database[None], ["density>1.2"], "-density", ["key", "pk", "density", "library_id"])
    assert _records(frame) == expected
    assert DESCRIBED_KEY in frame["key"].tolist() and "syn-b" not in set(frame["library_id"])
    frame = query(where=["protocol==fast", "tacticity==isotactic"], columns=["key"])  # the key from the description
    assert frame["key"].tolist() == [DESCRIBED_KEY]
    assert len(query()) == 300 + 40 + 1


def test_agrees_with_export_table(database):
    table = campaign_table(orm.Group.collection.get(label="syn-b"))
    columns = ["key", "library_id", "workflow_uuid", "properties_uuid", "density", "density_flags",
               "thermal_conductivity", "thermal_conductivity_stderr", "thermal_conductivity_unit",
               "thermal_conductivity_flags", "temperature", "tacticity", "head_group"]
    frame = query("syn-b", columns=columns)
    assert _records(frame) == [{c: row[c] for c in columns} for row in table.rows]


def test_pushed_into_the_database():
    workflow = _pushed([Condition("density>1.1"), Condition("thermal_conductivity>=0.3"),
                        Condition("density!=1.3"), Condition("protocol==fast"), Condition("pk<9"),
                        Condition("density_stderr<0.1")])
    assert workflow[1] == {"id": {"<": 9}}
    assert workflow[0]["or"][0] == {"extras.polymer_key": {"like": "%|fast|%"}}
    assert workflow[2] == {"or": [  # the values on the summary; a workflow without one is kept (made on the way)
        {"and": [{"extras.polymer_values.density": {">": 1.1}},
                 {"extras.polymer_values.thermal_conductivity": {">=": 0.3}},
                 {"extras.polymer_values.density": {"or": [{"<": 1.3}, {">": 1.3}]}}]},
        {"extras.polymer_values.workflow": {"of_type": "null"}}]}
    assert len(workflow) == 3  # the standard error: from the Dicts, checked in pandas


def _summaries(label: str) -> dict[int, tuple]:
    """workflow pk -> (its summary extra, its uuid, its properties Dict's uuid and content, or None)."""
    builder = orm.QueryBuilder().append(orm.Group, filters={"label": label}, tag="group")
    builder.append(orm.WorkflowNode, with_group="group", tag="workflow", project=["id", f"extras.{SUMMARY}", "uuid"])
    out = {pk: (value, uuid, None) for pk, value, uuid in builder.all()}
    builder.append(orm.Dict, with_incoming="workflow", edge_filters={"label": "properties"},
                   project=["uuid", "attributes"])
    for pk, value, uuid, properties_uuid, attributes in builder.all():
        out[pk] = (value, uuid, (properties_uuid, attributes))
    return out


def test_summary_equals_properties(database):
    """Every synthetic workflow carries the summary a run writes: its own UUID, its Dict's UUID, every value."""
    summaries = _summaries("syn-a")
    assert len(summaries) == 300
    for value, uuid, dict_ in summaries.values():
        assert value == summarise(uuid, *(dict_ or (None, None)))
        assert value["workflow"] == uuid and value["properties"] == (dict_[0] if dict_ else "")
        for name, entry in (dict_[1] if dict_ else {}).items():
            assert value.get(name) == entry["value"]  # None (left out) for a skipped NEMD value
    assert sum(dict_ is None for _, _, dict_ in summaries.values()) == 3  # the excepted: sealed, no properties


def _restore(pks: list[int], summaries: dict) -> None:
    for pk in pks:
        orm.load_node(pk).base.extras.set(SUMMARY, summaries[pk][0])


def test_workflow_without_summary_gets_it(database):
    before = _summaries("syn-a")
    pks = [p["pk"] for p in database["syn-a"][10:14]] + [database["syn-a"][99]["pk"]]  # 99: excepted
    try:
        for pk in pks:
            orm.load_node(pk).base.extras.delete(SUMMARY)
        frame = query("syn-a", where=["pk>=" + str(pks[0])], columns=["pk", "density", "properties_uuid"])
        assert _records(frame) == _reference(database["syn-a"], ["pk>=" + str(pks[0])],
                                             columns=["pk", "density", "properties_uuid"])
        after = _summaries("syn-a")
        assert after == before  # made from the Dicts and stored, equal to what the run wrote
        frame = query("syn-a", where=["density>0"], columns=["pk"])  # and then read from the summary
        assert len(frame) == 297
    finally:
        _restore(pks, before)


def test_copied_summary_is_not_trusted(database):
    """A summary names its workflow: one copied onto another workflow is rebuilt from that workflow's Dict."""
    before = _summaries("syn-a")
    a, b = database["syn-a"][20], database["syn-a"][21]
    try:
        orm.load_node(b["pk"]).base.extras.set(SUMMARY, before[a["pk"]][0])
        frame = query("syn-a", where=[f"pk=={b['pk']}"], columns=["pk", "density", "rg", "properties_uuid"])
        assert _records(frame) == [{"pk": b["pk"], "density": b["properties"]["density"]["value"],
                                    "rg": b["properties"]["rg"]["value"], "properties_uuid": b["properties_uuid"]}]
        assert orm.load_node(b["pk"]).base.extras.get(SUMMARY) == before[b["pk"]][0]
    finally:
        _restore([b["pk"]], before)


def test_refresh_rebuilds_from_the_dicts(database):
    before = _summaries("syn-b")
    pk = database["syn-b"][0]["pk"]
    try:
        edited = {**before[pk][0], "density": 99.0}  # a hand edit that keeps the UUIDs: trusted, until refreshed
        orm.load_node(pk).base.extras.set(SUMMARY, edited)
        assert query("syn-b", where=["density>90"], columns=["pk"])["pk"].tolist() == [pk]
        assert refresh([pk]) == 1
        assert _summaries("syn-b") == before
        assert query("syn-b", where=["density>90"], columns=["pk"]).empty
    finally:
        _restore([pk], before)


def test_running_workflow_summary_not_stored(database):
    """A workflow that has not returned its properties and is not sealed gets no stored summary (it may still
    return them); a query reads it as without properties."""
    workflow = orm.WorkflowNode()
    workflow.set_process_type("aiida.workflows:polymer.properties")
    workflow.set_process_state("running")
    workflow.store()
    group = orm.Group(label="syn-running").store()
    group.add_nodes(workflow)
    try:
        frame = query("syn-running", columns=["pk", "state", "density", "properties_uuid"])
        assert _records(frame) == [{"pk": workflow.pk, "state": "running", "density": None, "properties_uuid": ""}]
        assert SUMMARY not in orm.load_node(workflow.pk).base.extras
    finally:
        orm.Group.collection.delete(group.pk)
        from aiida.tools import delete_nodes

        delete_nodes([workflow.pk], dry_run=False)


def test_key_fields_as_parse_key():
    keys = ["*C*|fast|300K|1atm", DESCRIBED_KEY, "*CCO*|moderate|350K|2.5atm|ends=*CO,*C|overrides=0123456789ab",
            "random(*CC*:0.7,*CCO*:0.3)|fast|300K|1atm", ""]
    fields = _key_fields(keys)
    for i, key in enumerate(keys):
        expected = parse_key(key)
        got = {name: values[i] for name, values in fields.items()}
        if expected["temperature"] is None:
            assert math.isnan(got.pop("temperature")) and math.isnan(got.pop("pressure"))
            expected.pop("temperature"), expected.pop("pressure")
        assert got == expected


BAD = [
    ("densty>1.1", "unknown column 'densty'"),
    ("density=>1.1", "bad operator '=>'"),
    ("density=1.1", "bad operator '='"),
    ("density>abc", "not one"),
    ("density", "bad condition"),
    ("protocol~fast", "bad condition"),
]


@pytest.mark.parametrize(("where", "message"), BAD)
def test_bad_where(database, where, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(")):
        query("syn-a", where=[where])
    result = CliRunner().invoke(cli, ["query", "syn-a", "--where", "density>1", "--where", where])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["--sort", "-kappa"], ["--columns", "smiles,nope"]])
def test_bad_sort_and_columns(database, args):
    result = CliRunner().invoke(cli, ["query", "syn-a", *args])
    assert result.exit_code == 2 and result.output.startswith("Error: unknown") and result.output.count("\n") == 1


def test_unknown_group(database):
    result = CliRunner().invoke(cli, ["query", "no-such-campaign"])
    assert result.exit_code == 1 and "no group 'no-such-campaign'" in result.output and "Traceback" not in result.output


def test_cli_csv_and_table(database):
    args = ["query", "syn-a", "--where", "density>1.1", "--where", "thermal_conductivity>=0.3",
            "--sort", "-thermal_conductivity", "--columns", "pk,smiles,density,thermal_conductivity"]
    result = CliRunner().invoke(cli, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    expected = _reference(database["syn-a"], ["density>1.1", "thermal_conductivity>=0.3"], "-thermal_conductivity",
                          ["pk", "smiles", "density", "thermal_conductivity"])
    assert [{k: r[k] for k in r} for r in rows] == [{k: str(v) for k, v in r.items()} for r in expected]
    result = CliRunner().invoke(cli, [*args, "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["pk", "smiles", "density", "thermal_conductivity"] and len(lines) == 4
    assert lines[1].split() == [str(expected[0]["pk"]), expected[0]["smiles"], f"{expected[0]['density']:.6g}",
                                f"{expected[0]['thermal_conductivity']:.6g}"]
    result = CliRunner().invoke(cli, ["query", "syn-a", "--where", "density>9"])
    assert result.exit_code == 0 and result.output.startswith("no polymers match")
