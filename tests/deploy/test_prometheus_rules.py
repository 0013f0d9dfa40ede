"""Prometheus configuration and alert rules, checked by Debian's promtool (the Prometheus project's own checker)."""

import re
import subprocess

import pytest
import yaml

from tests.deploy.support import DEPLOY, require_binary

PROMETHEUS = DEPLOY / "prometheus"
CONFIGS = ["prometheus.yml", "prometheus-k8s.yml"]


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_binary("promtool"), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_accepts_the_configuration(config):
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(tmp_path):
    """The same tests against rules with a changed threshold must fail: they check what the alerts do."""
    rules = (
        (PROMETHEUS / "alerts.yml")
        .read_text()
        .replace("eduplatform:drift_psi:max > 0.25", "eduplatform:drift_psi:max > 0.5")
    )
    (tmp_path / "alerts.yml").write_text(rules)
    (tmp_path / "alerts_test.yml").write_text((PROMETHEUS / "alerts_test.yml").read_text())
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "EduplatformDriftHigh" in result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_silent():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    firing, silent = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never shown firing in alerts_test.yml"
    assert names - silent == set(), "alerts never shown staying silent in alerts_test.yml"
    assert {
        "EduplatformJobFailureRateHigh",
        "EduplatformCeleryWorkersDown",
        "EduplatformQueueBacklog",
        "EduplatformRequestLatencyHigh",
        "EduplatformHighErrorRate",
        "EduplatformDriftHigh",
    } <= names


def test_every_alert_has_a_severity_and_a_summary():
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


@pytest.mark.parametrize("config", CONFIGS)
def test_scrape_jobs_are_the_ones_the_alerts_and_dashboards_name(config):
    jobs = {job["job_name"] for job in yaml.safe_load((PROMETHEUS / config).read_text())["scrape_configs"]}
    named = set(re.findall(r'job="([^"]+)"', (PROMETHEUS / "alerts.yml").read_text()))
    for dashboard in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        named |= set(re.findall(r'job=\\"([^"\\]+)\\"', dashboard.read_text()))
    assert named and named <= jobs
    assert {"eduplatform-web", "eduplatform-celery", "prometheus"} <= jobs
