"""The dashboard server's routes and its JSON, without a browser (tests/integration/obs has Chromium)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from stoker.cli import main
from stoker.obs.dashboard import STATIC, DashboardServer, jobs_payload


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_page_assets_ship_in_the_package_with_the_chart_licence() -> None:
    server = DashboardServer([f"127.0.0.1:{_closed_port()}"], port=0).start()
    try:
        for name, ctype in STATIC.items():
            with urllib.request.urlopen(server.url + "static/" + name) as resp:
                assert resp.headers["Content-Type"] == ctype
                assert resp.read()
        page = urllib.request.urlopen(server.url).read().decode()
        assert "/static/uPlot.iife.min.js" in page
        assert "http" not in page  # nothing from the network: every asset is served from the package
        licence = urllib.request.urlopen(server.url + "static/uPlot.LICENSE").read().decode()
        assert "MIT License" in licence
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "static/../dashboard.py")
        assert err.value.code == 404
    finally:
        server.close()


def test_api_reports_a_gone_job() -> None:
    target = f"127.0.0.1:{_closed_port()}"
    payload = jobs_payload([f"http://{target}/metrics"])
    [entry] = payload["targets"]
    assert entry["jobs"] == [] and entry["gone"]
    json.dumps(payload, allow_nan=False)  # valid JSON for the browser


def test_cli_dashboard_needs_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard"]) == 2
    assert "stoker dashboard: error:" in capsys.readouterr().err
