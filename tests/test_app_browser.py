"""The app served as a new user gets it (``aiida-polymer gui``), on the test profile: the server binds to
127.0.0.1 and refuses requests without Jupyter's token; then a real headless browser (Debian's chromium and
chromedriver, driven by selenium) goes through the pages — a bad SMILES and its message, a good one and its
depiction, the database page filtered, a point of the Pareto plot clicked to open that run's results (property
table, provenance picture), the Follow page, and the results page of a real (tiny) MD run with its plots (thermo
traces, compression, NEMD profile) and the quantum-corrected Cp. Screenshots of each page are saved as test artefacts
(``$AIIDA_POLYMER_ARTEFACTS``, default ``test-artefacts/app/``)."""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
ARTEFACTS = Path(os.environ.get("AIIDA_POLYMER_ARTEFACTS", REPOSITORY / "test-artefacts" / "app"))
WAIT = 240  # s for anything the page does (a kernel start and AiiDA's imports on a loaded two-core machine)
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # scripts/system-deps.sh installs both


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def campaign(aiida_profile, polymer_codes_module):
    from aiida_polymer.database.synthetic import synthetic_campaign

    return synthetic_campaign(40, f"browser-test-{secrets.token_hex(3)}", seed=3)


@pytest.fixture(scope="module")
def md_run(aiida_profile, polymer_codes_module):
    """polymer.properties on the tiny system of tests/test_properties_workchain.py (the same builder: with caching,
    whichever module runs first computes it and the other is served from the cache)."""
    from aiida.engine import run_get_node
    from aiida.manage.caching import enable_caching

    from tests.test_properties_workchain import _builder

    with enable_caching():
        _, node = run_get_node(_builder(polymer_codes_module))
    assert node.is_finished_ok, node.exit_message
    return node


@pytest.fixture(scope="module")
def server(aiida_profile, campaign, md_run):
    """``aiida-polymer gui`` on a free port, with the test profile (its config dir is $AIIDA_PATH here)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, AIIDA_POLYMER_PROFILE=aiida_profile.name, AIIDA_POLYMER_GUI_TOKEN=token)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTEFACTS.parent / "gui-server.log", "w") as log:
        process = subprocess.Popen([str(Path(sys.executable).parent / "aiida-polymer"), "gui", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                assert process.poll() is None, f"the server stopped (see {log.name})"
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"the server did not listen on 127.0.0.1:{port} within {WAIT} s")
            yield f"http://127.0.0.1:{port}", token
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def _mkdir() -> bool:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=60) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def test_gui_needs_the_token_and_binds_to_loopback(server):
    base, token = server
    page = f"{base}/voila/render/notebooks/new_polymer.ipynb"
    status, location = _status(page)
    assert status == 302 and location.startswith("/login"), (status, location)  # to the login page, not the app
    assert _status(f"{base}/api/kernels")[0] == 403
    assert _status(f"{base}/api/contents/notebooks?token=wrong{token}")[0] == 403
    assert _status(f"{base}/api/contents/notebooks?token={token}")[0] == 200
    port = int(base.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)} - {"127.0.0.1", "::1"}
    for address in addresses:  # another address of this machine does not answer
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1500", f"--user-data-dir={ARTEFACTS.parent / 'chromium-profile'}"):
        options.add_argument(argument)
    _mkdir()
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.5).until(condition)


def _shot(driver, name: str) -> None:
    """The whole page: the window made as tall as the page (which scrolls inside Voilà's containers: the tallest
    element is its height), once its images are loaded."""
    _wait(driver, lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    for _ in range(2):  # a taller window can lay the page out taller
        height = driver.execute_script(
            "return Math.max(900, ...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))")
        driver.set_window_size(1280, min(int(height) + 200, 5000))
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def test_app_in_a_browser(server, browser, campaign, md_run):
    base, token = server
    try:
        _walk_through(browser, base, token, campaign, md_run)
    except Exception:  # what the browser showed when it failed, for the artefacts
        _shot(browser, "failure")
        (ARTEFACTS / "failure.html").write_text(browser.page_source)
        raise


def _walk_through(browser, base, token, campaign, md_run):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    css = By.CSS_SELECTOR

    # New polymer: a bad SMILES says why, a good one is drawn with its head and tail, the cost estimate follows
    browser.get(f"{base}/voila/render/notebooks/new_polymer.ipynb?token={token}")
    box = _wait(browser, ec.visibility_of_element_located((css, ".polymer-smiles-input textarea")))
    box.send_keys("*CC(")
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-smiles-message"), "not valid SMILES syntax"))
    assert "polymer-error" in browser.find_element(css, ".polymer-smiles-message").get_attribute("class")
    _shot(browser, "new_polymer_error")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys("*CC(*)c1ccccc1")
    # every key goes to the kernel; "*CC(*)" is already valid: wait for the message of the whole unit
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-smiles-message.polymer-ok"),
                                                    "✓ *CC(*)c1ccccc1 (RDKit canonical)"))
    _wait(browser, ec.presence_of_element_located((css, ".polymer-depiction svg")))
    assert "head" in browser.find_element(css, ".polymer-depiction").text
    browser.find_element(By.XPATH, "//div[contains(@class,'polymer-protocol')]//button[text()='moderate']").click()
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-cost"), "moderate: about"))
    assert browser.find_element(css, ".polymer-submit").is_enabled()  # the test profile's codes are chosen
    _shot(browser, "new_polymer")
    browser.set_window_size(1280, 1500)

    # Database: the campaign is listed and chosen, the table filtered, the Pareto plot drawn with a link per point
    browser.get(f"{base}/voila/render/notebooks/database.ipynb?token={token}")
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-campaigns"), campaign.group.label))
    _wait(browser, ec.presence_of_element_located((css, ".polymer-db-scatter img.polymer-scatter")))
    # the profile may hold other tests' polymers: this campaign's only
    Select(browser.find_element(css, ".polymer-db-group select")).select_by_visible_text(campaign.group.label)
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-db-count"), f"{len(campaign.polymers)} polymers"))
    moderate = sum(p["protocol"] == "moderate" for p in campaign.polymers)
    where = browser.find_element(css, ".polymer-db-where input")
    where.send_keys("protocol==moderate", Keys.ENTER)
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-db-count"), f"{moderate} polymers"))
    assert len(browser.find_elements(css, ".polymer-db-row")) == moderate

    # a point of the plot opens its results page: the property table, the flags in words, the provenance picture
    chosen = {p["pk"] for p in campaign.polymers if p["protocol"] == "moderate"}

    def filtered_points(driver):  # the plot is redrawn after the table: wait until it shows the filtered rows
        try:
            areas = driver.find_elements(css, "map[name='polymer-scatter-map'] area")
            pks = [int(a.get_attribute("href").rsplit("pk=", 1)[1]) for a in areas]
        except StaleElementReferenceException:  # replaced while read: look again
            return False
        return pks[0] if pks and set(pks) <= chosen else False

    pk = _wait(browser, filtered_points)
    _shot(browser, "database")
    browser.execute_script(f"document.querySelector(\"map[name='polymer-scatter-map'] area[href$='pk={pk}']\")"
                           f".click();")
    _wait(browser, ec.url_contains(f"results.ipynb?pk={pk}"))
    _wait(browser, ec.visibility_of_element_located((css, ".polymer-property-table")))
    assert f"<{pk}>" in browser.find_element(css, ".polymer-results-title").text
    table = browser.find_element(css, ".polymer-property-table").text
    assert "density" in table and "thermal_conductivity" in table and "g/cm" in table
    _wait(browser, ec.visibility_of_element_located((css, ".polymer-provenance")))
    _shot(browser, "results")
    browser.set_window_size(1280, 1500)

    # Follow: the run's state and report
    browser.get(f"{base}/voila/render/notebooks/follow.ipynb?pk={pk}&token={token}")
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-follow-state"), "finished"))
    _wait(browser, ec.text_to_be_present_in_element((css, ".polymer-follow-tree"), f"PropertiesWorkChain<{pk}>"))
    _shot(browser, "follow")

    # a real MD run: its plots (thermo traces, compression, NEMD profile) and the quantum-corrected Cp in the table
    browser.set_window_size(1280, 1500)
    browser.get(f"{base}/voila/render/notebooks/results.ipynb?pk={md_run.pk}&token={token}")
    _wait(browser, ec.visibility_of_element_located((css, ".polymer-property-table")))
    _wait(browser, lambda d: len(d.find_elements(css, "img.polymer-plot")) >= 3)
    table = browser.find_element(css, ".polymer-property-table").text
    assert "heat_capacity_cp_quantum" in table and "thermal_conductivity" in table
    _shot(browser, "results_md")
    for name in ("new_polymer_error", "new_polymer", "database", "results", "follow", "results_md"):
        assert (ARTEFACTS / f"{name}.png").stat().st_size > 10_000
