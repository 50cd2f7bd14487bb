"""The app's models and widgets, without a browser: the repeat-unit check and its depiction, the cost estimate,
the submission, the property table in words, the database table's filters, and each page built on a profile."""

import re

import pandas as pd
import pytest

from aiida_polymer.app import models


@pytest.mark.parametrize(("text", "error"), [
    ("*CC(", "not valid SMILES syntax"),
    ("*CC", "expected exactly 2"),
    ("", "type a repeat unit"),
    ("*CC[N+](C)(C)C*", "net charge"),
    ("*CC*.*C(*)Xx", "unit 2"),
])
def test_check_units_errors(text, error):
    check = models.check_units(text)
    assert not check.ok
    assert any(error in message for message in check.errors), check.errors


def test_check_units_ok_and_depiction_marks_head_and_tail():
    check = models.check_units("*CC(*)c1ccccc1")
    assert check.ok and check.errors == []
    assert check.canonical == ["*CC(*)c1ccccc1"]
    assert "<svg" in check.svg and "#D82626" in check.svg and "#2659D8" in check.svg  # head red, tail blue
    notes = "".join(re.findall(r"class='note'[^>]*>([^<]*)</text>", check.svg))
    assert notes == "headtail"  # the atom notes, one <text> per letter
    several = models.check_units("*CC*\n*CC(*)C")
    assert several.ok and len(several.canonical) == 2 and several.svg.count("#D82626") >= 2


def test_cost_estimate_orders_protocols_and_scales_with_cores():
    fast, screening, moderate, precise = (models.cost_estimate(p, ["*CC*"]) for p in models.PROTOCOLS)
    assert fast.seconds < screening.seconds < moderate.seconds < precise.seconds
    assert screening.atom_steps <= 0.2 * precise.atom_steps  # issue 16: at most a fifth of precise's MD
    assert screening.nemd_atoms == 0 and "NEMD" not in screening.steps and "no NEMD" in screening.text()
    assert 60 < fast.seconds < 30 * 60  # README: about 5 minutes on two cores
    assert moderate.seconds > 3600  # hours
    assert fast.nemd_atoms == 3 * fast.atoms  # the 3x1x1 replica
    assert models.cost_estimate("fast", ["*CC*"], cores=4).seconds == pytest.approx(fast.seconds / 2)
    assert "min" in fast.text() and "Psi4" in fast.text()
    with pytest.raises(ValueError, match="unknown protocol"):
        models.cost_estimate("slow")


def test_make_request():
    request = models.make_request("*CC(*)c1ccccc1", "fast", tacticity="isotactic", head_group="*C")
    assert request.ok and request.overrides == {"equilibrate": {"cell": {"tacticity": "isotactic",
                                                                        "head_group": "*C"}}}
    copolymer = models.make_request("*CC*\n*CC(*)C", "moderate", copolymer="block", fractions="0.7, 0.3")
    assert copolymer.ok and copolymer.overrides["equilibrate"]["cell"] == {"copolymer": "block",
                                                                           "fractions": [0.7, 0.3]}
    assert not models.make_request("*CC* *CC(*)C", fractions="0.7").ok
    assert any("head group" in e for e in models.make_request("*CC*", head_group="*C*").errors)
    assert models.make_request("*CC*", temperature=-3).errors == ["temperature must be a positive number"]


def test_property_rows_explain_flags():
    table = {"density": {"value": 0.8, "stderr": 0.01, "unit": "g/cm^3", "flags": ["not_converged"]},
             "thermal_conductivity": {"value": 0.2, "stderr": 0.3, "unit": "W/(m K)", "flags": []},
             "self_diffusion": {"value": None, "stderr": None, "unit": "m^2/s", "flags": ["skipped"]}}
    rows = {row.name: row for row in models.property_rows(table)}
    assert rows["density"].value == "0.8 ± 0.01" and rows["density"].result
    assert rows["thermal_conductivity"].value == "— (noise)" and not rows["thermal_conductivity"].result
    assert rows["self_diffusion"].value.startswith("—")
    html = models.property_table_html(table)
    assert "polymer-property-table" in html and "did not meet the convergence criteria" in html
    assert "not distinguishable from zero" in html


def test_filter_frame():
    frame = pd.DataFrame({"pk": [1, 2, 3], "smiles": ["*CC*", "*CC(*)C", "*CCO*"], "key": ["a", "b", "c"],
                          "protocol": ["fast", "fast", "moderate"], "density": [0.8, 0.9, None]})
    assert list(models.filter_frame(frame, "density>0.85")["pk"]) == [2]
    assert list(models.filter_frame(frame, "protocol==fast; density<1")["pk"]) == [1, 2]
    assert list(models.filter_frame(frame, contains="O")["pk"]) == [3]
    assert list(models.filter_frame(frame, sort="-density")["pk"]) == [2, 1, 3]
    from aiida_polymer.database import QueryError

    with pytest.raises(QueryError, match="unknown column"):
        models.filter_frame(frame, "densty>1")


def test_query_pk():
    assert models.query_pk("pk=12&x=1") == 12
    assert models.query_pk("?pk=abc") is None
    assert models.query_pk("") is None


def test_new_polymer_widget_as_you_type():
    from aiida_polymer.app.new_polymer import NewPolymerWidget

    page = NewPolymerWidget(with_codes=False)
    page.units.value = "*CC("
    assert "polymer-error" in page.message._dom_classes and "not valid SMILES" in page.message.value
    assert page.submit_button.disabled
    page.units.value = "*CC(*)c1ccccc1"
    assert "polymer-ok" in page.message._dom_classes and "<svg" in page.depiction.value
    assert not page.submit_button.disabled
    page.protocol.value = "moderate"
    assert "moderate" in page.cost.value and "h on 2 cores" in page.cost.value
    page.units.value = "*CC*\n*CC(*)C"
    assert page.copolymer_box.layout.display == "flex"
    page.fractions.value = "0.5"
    assert page.submit_button.disabled and "fractions" in page.message.value


def test_new_polymer_submit(polymer_codes):
    from aiida_polymer.app.new_polymer import NewPolymerWidget

    submitted = []

    class Node:
        pk, process_label = 4242, "PropertiesWorkChain"

    def fake_submit(builder):
        submitted.append(builder)
        return Node()

    page = NewPolymerWidget(submit=fake_submit)
    assert {name: widget.label for name, widget in page.codes.items()}["lmp"].startswith("lmp@")
    page.units.value = "*CC(*)C"
    page.tacticity.value = "isotactic"
    page.submit_button.click()
    assert "Submitted PropertiesWorkChain&lt;4242&gt;" in page.status.value
    (builder,) = submitted
    assert builder.equilibrate.cell.parameters["smiles"] == ["*CC(*)C"]
    assert builder.equilibrate.cell.parameters["tacticity"] == "isotactic"
    assert builder.metadata.label == "app: *CC(*)C"


@pytest.fixture
def synthetic(aiida_profile_clean):
    from aiida_polymer.database.synthetic import synthetic_campaign

    return synthetic_campaign(30, "app-test")


def test_results_and_database_pages(synthetic):
    from aiida_polymer.app import pages

    first = synthetic.polymers[0]
    results = pages.results(pk=first["pk"])
    html = results.body.children[1].value
    assert "polymer-property-table" in html and "density" in html
    assert any("polymer-run-plots" in child._dom_classes for child in results.body.children)
    missing = pages.results(pk=10**8)
    assert "No node with PK" in missing.body.children[0].value

    database = pages.database()
    assert "app-test" in database.campaigns.value
    assert database.table.value.count("polymer-db-row") == 30
    database.where.value = "protocol==moderate"
    moderate = sum(p["protocol"] == "moderate" for p in synthetic.polymers)
    assert database.table.value.count("polymer-db-row") == moderate
    assert "<area" in database.scatter.value and "results.ipynb?pk=" in database.scatter.value
    database.where.value = "densty>1"
    assert "unknown column" in database.message.value
    follow = pages.follow(pk=first["pk"], auto_refresh=False)
    assert "finished" in follow.state.value


def test_gui_server_command_is_loopback_with_a_token():
    from aiida_polymer.cli.gui import HOST, page_url, server_command

    command = server_command("/repo", 8899, "abc")
    assert HOST == "127.0.0.1" and "--ServerApp.ip=127.0.0.1" in command
    assert "--IdentityProvider.token=abc" in command and "--ServerApp.open_browser=False" in command
    assert "--ServerApp.jpserver_extensions=voila=True" in command
    assert page_url(8899, "abc") == "http://127.0.0.1:8899/voila/render/notebooks/new_polymer.ipynb?token=abc"
    with pytest.raises(ValueError, match="token"):
        server_command("/repo", 8899, "")
