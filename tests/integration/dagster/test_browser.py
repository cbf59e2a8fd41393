"""What a data scientist sees: a real browser (the operating system's headless Chromium, driven
through chromedriver by selenium) on a real Dagster webserver of a local-default deployment
(MLflow on SQLite with a plain-path artifact root, no tracking server) after a publish."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.support.dagster_deployment import LOCATION, REPOSITORY, dagster_deployment
from tests.support.dagster_support import spec_folder

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1100",
]
KEY, JOB = "customer_churn_predictor", "customer_churn_predictor_publish"
# the picture in the README and docs/dagster.md; the test refreshes it only when asked (a test run leaves the tree as it was)
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "images" / "dagster-model-evaluation-roc.png"
REFRESH = os.environ.get("MLPUBLISH_REFRESH_SCREENSHOTS") == "1"
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
STATUS = """query($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""
SHOW_PLOT = "//tr[.//span[normalize-space()='plot']]//a[contains(., 'Show Markdown')]"
# the ROC <img> of the plot metadata, loaded (a broken or blocked image has naturalWidth 0) and on screen
# (the markdown dialog fades in: the image can be loaded a moment before it is visible)
ROC_SHOWN = """return [...document.querySelectorAll('img[alt="ROC curve"]')]
    .filter(i => i.complete && i.naturalWidth > 0 && i.checkVisibility({opacityProperty: true, visibilityProperty: true})
                 && i.getBoundingClientRect().width > 0)"""


@pytest.fixture(scope="module")
def published(tmp_path_factory, warehouse_template):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    root = tmp_path_factory.mktemp("dagster_browser")
    shutil.copy(warehouse_template, root / "warehouse.db")
    env = {
        **os.environ,
        # the README's local settings: no MLflow server, a plain path as the artifact root
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLPUBLISH_ARTIFACT_ROOT": str(root / "mlartifacts"),
        "MLPUBLISH_CATALOG": str(root / "catalog.db"),
        "WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}",
        "MLPUBLISH_SPECS_DIR": str(spec_folder(root, schedule=None)),
        "MLPUBLISH_DEPLOYMENT": "local",
    }
    env.pop("MLFLOW_REGISTRY_URI", None)
    with dagster_deployment(root, env) as dep:
        launched = dep.graphql(
            LAUNCH,
            params={"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": JOB}},
        )
        assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["launchRun"]["run"]["runId"]
        deadline = time.monotonic() + 300
        while (status := dep.graphql(STATUS, runId=run_id)["runOrError"]["status"]) not in ("SUCCESS", "FAILURE"):
            assert time.monotonic() < deadline, dep.log_tail()
            time.sleep(1)
        assert status == "SUCCESS", dep.log_tail()
        yield dep, root


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_model_evaluation_shows_the_roc_curve_as_a_picture(published, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    dep, _ = published
    browser.get(f"{dep.url}/assets/{KEY}/model_evaluation")
    wait = WebDriverWait(browser, 90, poll_frequency=1)
    try:
        # what a person does: the plot row of the metadata table, then its markdown (the image)
        show = wait.until(lambda d: d.find_elements(By.XPATH, SHOW_PLOT))[0]
        time.sleep(2)  # the webserver's first-visit "join the community" dialog opens a moment after the page
        for skip in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            skip.click()
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", show)
        show.click()
        [img, *_] = wait.until(lambda d: d.execute_script(ROC_SHOWN))
    except Exception:
        (tmp_path / "page.html").write_text(browser.page_source)
        browser.save_screenshot(str(tmp_path / "page.png"))
        raise AssertionError(f"no loaded ROC image on the asset page; page saved in {tmp_path}") from None
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 100
    assert img.get_attribute("src").startswith("data:image/png;base64,")  # no server: the picture rides inline
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    time.sleep(1)  # the dialog's opening animation
    assert browser.save_screenshot(str(tmp_path / SCREENSHOT.name))
    if REFRESH:
        shutil.copy(tmp_path / SCREENSHOT.name, SCREENSHOT)
