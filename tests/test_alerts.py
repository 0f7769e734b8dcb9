"""deploy/alerts/: rules Prometheus' own promtool accepts, that fire when they should and
stay silent otherwise, shipped equal as a plain rules file and as a PrometheusRule."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from sweeper.budget import Bucket
from sweeper.metrics import RunFacts, families
from tests.real.tools import require

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "alerts"
RULES_FILE = ALERTS / "rules.yml"
PROMTOOL_TESTS = ROOT / "tests" / "alerts" / "rules.test.yml"
CRD = (
    ROOT
    / "tests"
    / "contract"
    / "prometheus-operator"
    / "monitoring.coreos.com_prometheusrules.yaml"
)
RUNBOOK_BASE = "https://github.com/llmkube/foreman-pr-sweeper/blob/main/README.md#"
SEVERITIES = {"critical", "warning", "info"}


def pushed_series() -> set[str]:
    """Every series name the sweeper pushes, read from what `families()` produces for runs
    that between them take every path (a success with decisions, quota and backlog; a
    lock-held run), not from a list kept by hand."""
    busy = RunFacts(
        finished_at=1.0,
        duration_s=1.0,
        exit_code=0,
        result="success",
        dry_run=False,
        version="0",
        decisions={("opened", "missing-pr"): 1},
        workloads={"pending": 1},
        github_requests={"read": 1},
        github_rate={Bucket("core"): {"used": 1, "remaining": 1, "limit": 2}},
        kube_requests={"list": 1},
        oldest_pending_age_s=1.0,
        waiting={("deferred", "rate-reserve"): 1},
        allow_repos_configured=True,
    )
    held = replace(busy, result="lock-held", allow_repos_configured=False)
    return {s.name for run in (busy, held) for family in families(run) for s in family.samples}


WANTED = {
    "ForemanPRSweeperNoRecentSuccess",
    "ForemanPRSweeperFailedDecisions",
    "ForemanPRSweeperRateReserve",
    "ForemanPRSweeperRecordFailures",
    "ForemanPRSweeperBacklog",
    "ForemanPRSweeperNoAllowlist",
}


PUSHED = pushed_series()


def promtool() -> str:
    return require("prometheus", "promtool")


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules_file() -> None:
    """`promtool check rules` accepts the file, every expression and template included."""
    done = subprocess.run(
        [promtool(), "check", "rules", str(RULES_FILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_unit_tests_fire_each_alert_and_stay_silent_where_they_should() -> None:
    """tests/alerts/rules.test.yml passes under `promtool test rules`."""
    done = subprocess.run(
        [promtool(), "test", "rules", str(PROMTOOL_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    """Each alert has a promtool case where it fires and one where it must not."""
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]
    fired = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    silent = {t["alertname"] for c in cases for t in c["alert_rule_test"] if not t["exp_alerts"]}
    names = {rule["alert"] for rule in rules()}
    assert names == WANTED
    assert fired == names and silent == names


def misread(expr: str) -> list[tuple[str, str]]:
    """The sweeper series an expression selects that it never pushes, or selects without
    job="foreman-pr-sweeper" (kept by honor_labels) and mode="sweep" (never a dry run)."""
    wrong = []
    for name, matchers in re.findall(r"(foreman_pr_sweeper_\w+)(\{[^}]*\})?", expr):
        if name not in PUSHED:
            wrong.append((name, "never pushed"))
        elif 'job="foreman-pr-sweeper"' not in matchers or 'mode="sweep"' not in matchers:
            wrong.append((name, "not the schedule's own"))
    return wrong


def test_every_rule_reads_only_the_schedules_own_series() -> None:
    """Every sweeper series a rule reads is one the sweeper pushes (as `families()` makes
    them), selected as the schedule's own."""
    for rule in rules():
        assert re.search(r"foreman_pr_sweeper_\w+", rule["expr"]), rule["alert"]
        assert misread(rule["expr"]) == [], rule["alert"]


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param(
            'max(foreman_pr_sweeper_allow_repo_configured{job="foreman-pr-sweeper", '
            'mode="sweep"}) == 0',
            id="a-series-never-pushed",
        ),
        pytest.param(
            "max(foreman_pr_sweeper_allow_repos_configured) == 0", id="without-job-and-mode"
        ),
    ],
)
def test_a_rule_reading_the_wrong_series_is_caught(expr: str) -> None:
    """The check is not vacuous: a misspelt series or a dry run's are refused."""
    assert misread(expr)


def test_no_rule_takes_a_clean_exit_for_a_success() -> None:
    """A lock-held run exits 0 too: success is last_success only, never exit code 0."""
    for rule in rules():
        assert "last_run_exit_code" not in rule["expr"] and 'result="success"' not in rule["expr"]


def test_the_no_success_alert_is_silenced_by_a_suspended_cronjob() -> None:
    """The no-success alert joins kube-state-metrics' suspend flag; the others need not."""
    [rule] = [r for r in rules() if r["alert"] == "ForemanPRSweeperNoRecentSuccess"]
    assert re.search(r"unless on\(\)\s+max_over_time\(kube_cronjob_spec_suspend\{", rule["expr"])


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_rule_is_labelled_annotated_and_points_at_its_readme_section() -> None:
    """severity, summary, description, and a runbook_url to the README's part on it."""
    readme = (ROOT / "README.md").read_text()
    anchors = {_slug(h) for h in re.findall(r"^#{2,6} (.+)$", readme, re.M)}
    for rule in rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        url = annotations["runbook_url"]
        assert url == RUNBOOK_BASE + rule["alert"].lower()
        assert rule["alert"].lower() in anchors, f"README has no section {rule['alert']}"


def _closed(schema: Any) -> Any:
    """A CRD's structural schema as JSON Schema: declared objects accept nothing else."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if "properties" in schema and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


def prometheus_rule() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ALERTS / "prometheusrule.yaml").read_text())
    return doc


def test_the_prometheusrule_is_the_rules_file() -> None:
    """The PrometheusRule's groups equal rules.yml's (scripts/gen-prometheusrule writes it)."""
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    assert prometheus_rule()["spec"]["groups"] == groups, "run scripts/gen-prometheusrule"


def test_the_prometheusrule_validates_against_the_operators_crd() -> None:
    """The operator's own CRD schema (vendored) accepts the PrometheusRule."""
    crd = yaml.safe_load(CRD.read_text())
    [version] = crd["spec"]["versions"]
    doc = prometheus_rule()
    assert (doc["apiVersion"], doc["kind"]) == (
        f"{crd['spec']['group']}/{version['name']}",
        crd["spec"]["names"]["kind"],
    )
    schema = _closed(version["schema"]["openAPIV3Schema"])
    errors = [e.message for e in Draft7Validator(schema).iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize(
    "mistake",
    [
        pytest.param({"alert": "X", "expr": "1", "annotation": {}}, id="misspelt-field"),
        pytest.param({"alert": "X", "expr": "1", "for": "five minutes"}, id="bad-duration"),
    ],
)
def test_the_crd_validation_would_catch_a_mistake(mistake: dict[str, Any]) -> None:
    """The schema check is not vacuous: a misspelt field or a bad duration is refused."""
    crd = yaml.safe_load(CRD.read_text())
    schema = _closed(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    doc = prometheus_rule()
    doc["spec"]["groups"][0]["rules"].append(mistake)
    assert list(Draft7Validator(schema).iter_errors(doc))
