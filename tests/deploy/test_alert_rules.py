"""Prometheus itself on the alert rules: `promtool check rules` (syntax, templates) and
`promtool test rules` (synthetic series in deploy/monitoring/alerts_test*.yaml: each alert
fires when it should, with the labels and rendered annotations expected, and stays silent when
it should). promtool comes from Debian's `prometheus` package (`make ops-tools` installs it).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.deploy.conftest import CHART, ROOT

MONITORING = ROOT / "deploy" / "monitoring"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed: apt-get install prometheus (make ops-tools)")
    return path


def test_promtool_check_rules(promtool: str) -> None:
    proc = subprocess.run([promtool, "check", "rules", str(CHART / "files" / "alerts.yaml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_unit_tests_of_the_alerts(promtool: str) -> None:
    files = sorted(p.name for p in MONITORING.glob("alerts_test*.yaml"))
    assert files == ["alerts_test.yaml", "alerts_test_daily.yaml"]
    proc = subprocess.run([promtool, "test", "rules", *files], cwd=MONITORING,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
