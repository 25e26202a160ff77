"""The dashboard in a real headless Chromium: loads without console errors, matches stats(), moves."""

from __future__ import annotations

import os
from collections.abc import Callable

import stoker
from stoker.obs.dashboard import DashboardServer
from tests.integration.obs.browser import chromium, screenshot_dir
from tests.integration.obs.pipelines import decode_bound, train

TIMEOUT_S = 60


def _wait(driver: object, what: Callable[[object], object], message: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.2).until(what, message)


def _shown_at(driver: object, selector: str) -> str:
    # Read in one script: the page rebuilds its cards every poll, so a found element can go stale.
    script = "const e = document.querySelector(arguments[0]); return e ? e.dataset.value : '';"
    return driver.execute_script(script, selector)  # type: ignore[attr-defined]


def _shown(driver: object, key: str) -> str:
    return _shown_at(driver, f'.job [data-key="{key}"]')


def test_dashboard_numbers_match_stats_and_follow_the_run() -> None:
    from selenium.webdriver.common.by import By

    with stoker.Loader(decode_bound(), workers=1, metrics_port=0, name="dashboard-test") as loader:
        it = iter(loader)
        train(it, 6)
        server = DashboardServer([str(loader.metrics_address)], port=0).start()
        driver = chromium(1400, 1250)
        try:
            driver.get(server.url)
            stats = loader.stats()
            _wait(driver, lambda d: _shown(d, "samples") == str(stats["samples"]), "the page never showed samples")
            for key in ("items", "workers", "max_workers", "errors", "skipped", "workers_lost", "queue_depth"):
                assert _shown(driver, key) == str(stats[key]), key
            assert float(_shown(driver, "wait_fraction")) == stats["wait_fraction"]
            train(it, 10)
            later = loader.stats()
            assert later["samples"] > stats["samples"]
            _wait(driver, lambda d: _shown(d, "samples") == str(later["samples"]), "the page did not follow the run")
            # Four charts drawn by the shipped chart library, and the diagnosis under the numbers.
            assert len(driver.find_elements(By.CSS_SELECTOR, ".chart .uplot canvas")) == 4
            diagnosis = driver.execute_script("return document.querySelector('.diagnosis').textContent;")
            assert "-bound: the trainer waits" in diagnosis
            assert "updated" in driver.find_element(By.ID, "status").text
            errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
            assert errors == [], errors
            shots = screenshot_dir()
            if shots:
                train(it, 20)  # a few more seconds of history in the charts
                _wait(driver, lambda d: _shown(d, "samples") == str(loader.stats()["samples"]), "no final update")
                driver.save_screenshot(os.path.join(shots, "dashboard.png"))
        finally:
            driver.quit()
            server.close()


def test_dashboard_shows_a_cluster_controllers_jobs_and_budgets() -> None:
    from stoker.obs.cluster import ClusterCollector
    from stoker.obs.exporter import MetricsServer
    from tests.unit.obs.test_cluster import STATUS

    status = {**STATUS, "jobs": [dict(j) for j in STATUS["jobs"]]}
    controller = MetricsServer(ClusterCollector(lambda: status), 0)
    server = DashboardServer([controller.url], port=0).start()
    driver = chromium()
    cell = '[data-cluster-job="{}"][data-key="{}"]'
    try:
        driver.get(server.url)
        _wait(driver, lambda d: _shown_at(d, cell.format("resnet", "budget")) == "5", "no cluster budgets")
        assert _shown_at(driver, cell.format("bert", "throughput")) == "95.5"
        status["jobs"][0]["budget"] = 3  # the controller moves two workers away from resnet
        status["rounds"] = 18
        _wait(driver, lambda d: _shown_at(d, cell.format("resnet", "budget")) == "3", "the budget change never showed")
        assert len(driver.find_elements("css selector", ".chart .uplot canvas")) == 4
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == [], errors
    finally:
        driver.quit()
        server.close()
        controller.close()
