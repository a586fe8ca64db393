"""The sync health page (/crsync/) in a real browser: Debian's chromium, headless, driven by Selenium
through chromium-driver (installed by bin/ensure-chromium when missing), against the `make up` stack of
this folder: log in on Airflow's login page, find the page in the UI's navigation, see the error a bad
Opportunity produced, fix the Opportunity in the sandbox, press Retry, see the row leave and the
Opportunity Synced; Resolve another row and see it leave, marked with who resolved it. The page with
its open errors is saved as a PNG: to $CRSYNC_SCREENSHOT when set (the README's picture:
CRSYNC_SCREENSHOT=docs/sync-health.png), else to the test's temporary folder.

Also over plain HTTP: a caller without a session is sent to the login page, and a user who may read but
not trigger the DAG (simple auth manager role "viewer") gets no Retry button and a 403 from /crsync/retry.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.ops.conftest import ROOT, AirflowStack

pytestmark = pytest.mark.slow

DAG_ID = "sf_opportunity_to_ns_sales_order"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = subprocess.run([str(ROOT / "bin/ensure-chromium")], capture_output=True, text=True, timeout=900)
    assert found.returncode == 0, found.stderr[-3000:]
    chromium, driver_path = found.stdout.split()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="crsync-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        driver.set_page_load_timeout(120)
        try:
            yield driver
        finally:
            driver.quit()


def _wait(what: str, check, timeout: float = 60, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def _login(driver, stack: AirflowStack) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{stack.api_url}/crsync/")  # no session yet: Airflow's login page, then back here
    user = _wait("the login form", lambda: driver.find_elements(By.CSS_SELECTOR, "input[name='username']"))[0]
    user.send_keys("admin")
    driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(stack.password())
    driver.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    _wait("the sync health page after login", lambda: "Contract renewal sync: health" in driver.page_source)


def _error_rows(driver, key: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"tr.error-row[data-key='{key}']")


def _open_in_airflow_ui(driver, stack: AirflowStack) -> None:
    """Click Browse > Sync health in Airflow's navigation; the page shows in the UI's frame (entered)."""
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    driver.get(f"{stack.api_url}/")
    browse = _wait(
        "the Browse menu", lambda: driver.find_elements(By.XPATH, "//button[@aria-label='Browse']")
    )
    browse[0].click()
    entry = _wait(
        "the Sync health entry",
        lambda: driver.find_elements(By.XPATH, "//a[@role='menuitem'][normalize-space()='Sync health']"),
    )
    entry[0].click()
    _wait("the plugin route", lambda: "/plugin/crsync-health" in driver.current_url)
    frame = _wait(
        "the page's frame", lambda: driver.find_elements(By.CSS_SELECTOR, "iframe[src*='/crsync/']")
    )[0]
    driver.switch_to.frame(frame)
    _wait("the page in the frame", lambda: "Contract renewal sync: health" in driver.page_source)


def _reload_frame(driver) -> None:
    driver.execute_script("window.location.reload()")
    _wait(
        "the reloaded page",
        lambda: (
            driver.execute_script("return document.readyState") == "complete"
            and "Contract renewal sync: health" in driver.page_source
        ),
    )


def _failed_run_for(stack: AirflowStack, ids: list[str]) -> None:
    run = stack.api_json(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"opportunity_ids": ids}}
    )
    assert stack.wait_for_run(DAG_ID, run["dag_run_id"], timeout=300)["state"] == "failed"


def test_retry_and_resolve_in_the_browser(airflow_stack: AirflowStack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    stack, driver = airflow_stack, browser
    stack.listed_dags({DAG_ID})
    seeded = stack.control("salesforce", "seed", {"opportunities": 2, "order_type": "Contract Upsell"})
    bad, handled = seeded["opportunity_ids"]
    stack.api_json("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    _failed_run_for(stack, [bad, handled])  # both refused: an Upsell needs the contract it adds to

    _login(driver, stack)
    plugins = stack.api_json("GET", "/plugins")["plugins"]
    (view,) = [v for p in plugins if p["name"] == "crsync_health" for v in p["external_views"]]
    assert (view["href"], view["destination"], view["url_route"]) == ("/crsync/", "nav", "crsync-health")
    _open_in_airflow_ui(driver, stack)

    (row,) = _wait("the error row", lambda: _error_rows(driver, bad))
    assert "Contract" in row.text and "Salesforce" in row.text
    assert row.find_element(By.CSS_SELECTOR, "a").get_attribute("href").endswith(f"/{bad}")
    # The picture of the page inside the UI, with its open errors.
    driver.switch_to.default_content()
    screenshot = Path(os.environ.get("CRSYNC_SCREENSHOT") or tmp_path / "sync-health.png")
    assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe[src*='/crsync/']"))

    # Resolve: the row leaves the page, marked handled by the user (kept in the metadata DB).
    _error_rows(driver, handled)[0].find_element(By.CSS_SELECTOR, "button.resolve").click()
    _wait("the resolved row to leave", lambda: not _error_rows(driver, handled) and _error_rows(driver, bad))
    assert "Resolved by admin" in driver.find_element(By.ID, "notice").text
    marks = stack.api_json("GET", f"/variables/{DAG_ID}.resolved_errors")
    assert '"by": "admin"' in marks["value"] and handled in marks["value"]

    # Fix the other one in Salesforce (it is a new contract after all) and queue it again, as Create
    # NetSuite Order does; then Retry on the page.
    fixed = requests.patch(
        f"{stack.sandbox.salesforce_url}/services/data/v59.0/sobjects/Opportunity/{bad}",
        json={"Order_Type__c": "Contract New", "Sync_Status__c": "Processing"},
        headers={"Authorization": f"Bearer {stack.sandbox.salesforce.access_token}"},
        verify=str(stack.sandbox.ca_path),
        timeout=60,
    )
    assert fixed.status_code == 204, fixed.text
    _error_rows(driver, bad)[0].find_element(By.CSS_SELECTOR, "button.retry").click()
    started = _wait("the started run's link", lambda: driver.find_elements(By.ID, "started-run"))[0]
    assert started.text.startswith(f"{DAG_ID} / ")
    run_id = started.text.split(" / ", 1)[1]
    run = stack.api_json("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
    assert run["conf"] == {"opportunity_ids": [bad], "mode": "queued", "dry_run": False}
    assert run["triggering_user_name"] == "admin"
    done = stack.wait_for_run(DAG_ID, run_id, timeout=300)
    assert done["state"] == "success", stack.describe_run(DAG_ID, run_id)

    def row_gone() -> bool:
        _reload_frame(driver)
        return not _error_rows(driver, bad)

    _wait("the row to leave the page", row_gone, timeout=60, every=2)
    (opp,) = stack.soql(f"SELECT Id, Sync_Status__c FROM Opportunity WHERE Id = '{bad}'")
    assert opp["Sync_Status__c"] == "Synced"
    flow_row = driver.find_element(By.CSS_SELECTOR, f"#flows tr[data-flow='{DAG_ID}']").text
    assert "success" in flow_row


def test_no_session_goes_to_login_and_a_viewer_may_not_retry(airflow_stack: AirflowStack):
    stack = airflow_stack
    anonymous = requests.get(f"{stack.api_url}/crsync/", allow_redirects=False, timeout=60)
    assert anonymous.status_code == 303 and "/auth/login" in anonymous.headers["location"]
    assert requests.post(
        f"{stack.api_url}/crsync/retry", json={"dag_id": DAG_ID, "keys": ["x"]}, timeout=60
    ).status_code in (401, 403)

    token = requests.post(
        f"{stack.api_url}/auth/token",
        json={"username": "viewer", "password": _password(stack, "viewer")},
        timeout=60,
    )
    assert token.status_code == 201, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    page = requests.get(f"{stack.api_url}/crsync/", headers=headers, timeout=60)
    assert page.status_code == 200 and "Contract renewal sync: health" in page.text
    assert 'class="retry' not in page.text
    refused = requests.post(
        f"{stack.api_url}/crsync/retry",
        json={"dag_id": DAG_ID, "keys": ["006000000000001AAA"]},
        headers=headers,
        timeout=60,
    )
    assert refused.status_code == 403, refused.text


def _password(stack: AirflowStack, user: str) -> str:
    import json

    return json.loads(
        (Path(stack.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text()
    )[user]
