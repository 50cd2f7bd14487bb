"""Queries on PostgreSQL (aiida_polymer.database.query): the columns read by COPY and pyarrow
(aiida_polymer.database.fetch) give the same DataFrames as the driver's rows, and both the rows a pure-Python filter
and sort of the stored polymers give; the cases of tests/test_database_query.py, on a throwaway ``core.psql_dos``
profile (its own role and database, dropped afterwards). Skipped without Debian's PostgreSQL or root/sudo (fails
instead where CI is set)."""

from __future__ import annotations

import os
import secrets
import subprocess

import pandas as pd
import pytest
from aiida import orm
from aiida.common.links import LinkType
from test_database_query import CASES, DESCRIBED_KEY, _records, _reference

from aiida_polymer import production
from aiida_polymer.campaign.submission import DESCRIPTION, KEY
from aiida_polymer.database import fetch, query
from aiida_polymer.database.query import COLUMNS, Condition, _pushed, _scope
from aiida_polymer.database.summary import SUMMARY
from aiida_polymer.database.synthetic import synthetic_campaign
from aiida_polymer.database.table import parse_key


def _require_postgres() -> None:
    problem = None
    if not production.packages_installed():
        problem = "Debian's postgresql is not installed (scripts/system-deps.sh installs it)"
    elif os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        problem = "scripts/services.sh needs root or password-less sudo"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set and PostgreSQL cannot run: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def database(aiida_config, tmp_path_factory):
    """A psql_dos profile with the campaigns of tests/test_database_query.py (300 and 40 synthetic polymers, one
    workflow outside any group with its key in its description only); the profile's polymers as stored."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, profile_context

    _require_postgres()
    production.services("start")
    name = "aiida_test_query_" + secrets.token_hex(4)
    database = production.ensure_database(name, secrets.token_urlsafe(18))
    previous = aiida_config.default_profile_name
    profile = None
    try:
        profile = create_profile(aiida_config, storage_backend="core.psql_dos", name=name, email="test@localhost",
                                 storage_config=database.storage_config(tmp_path_factory.mktemp("repository")),
                                 broker_backend=None, broker_config=None)
        aiida_config.update_profile(profile)
        aiida_config.store()
        with profile_context(profile, allow_switch=True):
            try:
                yield _campaigns()
            finally:
                get_manager().get_profile_storage().close()  # before its database is dropped
    finally:
        if profile is not None:
            aiida_config.remove_profile(name)
        if previous:
            aiida_config.set_default_profile(previous, overwrite=True)
        aiida_config.store()
        production.drop_database(name)


def _campaigns() -> dict:
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
    return {"syn-a": a.polymers, "syn-b": b.polymers, None: a.polymers + b.polymers + [described]}


def _both(*args, **kwargs) -> pd.DataFrame:
    """The query by COPY, checked equal (values and dtypes) to the same query by the driver's rows."""
    by_copy = query(*args, **kwargs)
    try:
        fetch.USE_COPY = False
        by_rows = query(*args, **kwargs)
    finally:
        fetch.USE_COPY = True
    pd.testing.assert_frame_equal(by_copy, by_rows)
    return by_copy


def test_copy_is_used(database, monkeypatch):
    calls = []
    original = fetch._by_copy
    monkeypatch.setattr(fetch, "_by_copy", lambda *args: calls.append(1) or original(*args))
    frame = query("syn-a", where=["density>1.1"])
    assert calls == [1] and 0 < len(frame) < 300


def test_full_table_and_every_column(database):
    assert _records(_both("syn-a")) == _reference(database["syn-a"])
    assert _records(_both("syn-b", columns=list(COLUMNS))) == _reference(database["syn-b"], columns=list(COLUMNS))
    assert _records(_both(columns=list(COLUMNS))) == _reference(database[None], columns=list(COLUMNS))


@pytest.mark.parametrize(("where", "sort"), CASES)
def test_filters_and_sort(database, where, sort):
    columns = list(dict.fromkeys(["key", "pk", "state", "exit_status", *(Condition(t).column for t in where),
                                  *(sort.replace("-", "").split(",") if sort else [])]))
    frame = _both("syn-a", where=where, sort=sort, columns=columns)
    assert _records(frame) == _reference(database["syn-a"], where, sort, columns)


def test_profile_wide(database):
    columns = ["key", "pk", "density", "library_id"]
    frame = _both(where=["density>1.2"], sort="-density", columns=columns)
    assert _records(frame) == _reference(database[None], ["density>1.2"], "-density", columns)
    assert _both(where=["protocol==fast", "tacticity==isotactic"], columns=["key"])["key"].tolist() == [DESCRIBED_KEY]


def test_copied_summary_and_missing_key(database):
    """A copied summary is rebuilt from the Dict (the COPY path's arrays updated in place); a workflow without the
    key extra gets it from its description."""
    a, b = database["syn-a"][20], database["syn-a"][21]
    node_a, node_b = orm.load_node(a["pk"]), orm.load_node(b["pk"])
    summary_b = node_b.base.extras.get(SUMMARY)
    try:
        node_b.base.extras.set(SUMMARY, node_a.base.extras.get(SUMMARY))
        node_b.base.extras.delete(KEY)
        frame = _both("syn-a", where=[f"pk>={b['pk'] - 1}", f"pk<={b['pk']}"], columns=["pk", "key", "density", "rg"])
        assert _records(frame) == _reference(database["syn-a"], [f"pk>={b['pk'] - 1}", f"pk<={b['pk']}"],
                                             columns=["pk", "key", "density", "rg"])
        assert orm.load_node(b["pk"]).base.extras.get(SUMMARY) == summary_b
    finally:
        node_b = orm.load_node(b["pk"])
        node_b.base.extras.set(SUMMARY, summary_b)
        node_b.base.extras.set(KEY, b["key"])


def test_copy_reads_odd_values(database):
    """A summary value that is not a number is read as missing, and a text with a newline or a comma and quotes
    comes back as it is (the CSV read again with newlines in values)."""
    p = database["syn-a"][30]
    node = orm.load_node(p["pk"])
    summary = node.base.extras.get(SUMMARY)
    odd_key = p["key"] + '|x="a,\nb"'
    try:
        node.base.extras.set(SUMMARY, {**summary, "density": "dense", "rg": True})
        node.base.extras.set(KEY, odd_key)
        frame = query("syn-a", where=[f"pk=={p['pk']}"], columns=["pk", "key", "density", "rg", "refractive_index"])
        assert frame["key"].tolist() == [odd_key]
        assert frame["density"].isna().all() and frame["rg"].isna().all()
        assert frame["refractive_index"].tolist() == [p["properties"]["refractive_index"]["value"]]
    finally:
        node.base.extras.set(SUMMARY, summary)
        node.base.extras.set(KEY, p["key"])


def test_copy_binds_the_parameters(database):
    """The filters' parameters bound into the COPY text as the server would bind them: JSON paths, LIKE patterns
    with escaped ``_`` and ``%``, quotes, numbers and booleans."""
    builder = _scope(None, _pushed([Condition("protocol==fast"), Condition("density>=1.1"), Condition("pk>0")]))
    columns = fetch.columns(builder, "workflow", {"pk": fetch.Field("id", fetch.ID),
                                                  "key": fetch.Field(f"extras.{KEY}", fetch.TEXT)})
    expected = sorted(p["pk"] for p in database[None] if p["protocol"] == "fast"
                      and (p["properties"].get("density") or {}).get("value", 0) >= 1.1)
    assert sorted(columns["pk"].tolist()) == expected and expected
    for text in ("smiles==*C'C*", "protocol==fa_st", "protocol==f%"):
        assert _both(where=[text], columns=["pk"]).empty
