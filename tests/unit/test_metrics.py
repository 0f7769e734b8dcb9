"""The run as metric families: names, types and labels by Prometheus' conventions."""

from __future__ import annotations

import re

import pytest

from sweeper.budget import Bucket
from sweeper.metrics import Pushgateway, RunFacts, families, public_url
from sweeper.settings import ConfigError, validate_pushgateway_url
from tests.standins.serving import LocalServer, QuietHandler

RUN = RunFacts(
    finished_at=1_764_633_600.0,
    duration_s=12.5,
    exit_code=0,
    result="success",
    dry_run=False,
    version="0.1.0",
    decisions={("opened", "missing-pr"): 3, ("deferred", "budget-exhausted"): 2},
    workloads={"pending": 4, "settled": 10},
    record_failures=0,
    github_requests={"read": 1, "write": 3, "graphql": 1, "graphql_points": 1, "auth": 2},
    github_rate={
        Bucket("core", "acme"): {"used": 3, "remaining": 4990, "limit": 5000, "resets_at": "x"},
        Bucket("graphql", "acme"): {"used": 1, "remaining": 4999, "limit": 5000, "resets_at": None},
        Bucket("core", "initech"): {"used": 0, "remaining": None, "limit": None, "resets_at": None},
    },
    kube_requests={"list": 5, "patch": 3, "create": 3},
)


def samples(run: RunFacts) -> dict[str, float]:
    out = {}
    for family in families(run):
        for s in family.samples:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()) if v)
            out[f"{s.name}{{{inner}}}" if inner else s.name] = s.value
    return out


def test_every_family_is_a_gauge_named_by_convention() -> None:
    for family in families(RUN):
        assert family.type == "gauge"  # each describes the last run: none is a counter
        assert re.fullmatch(r"foreman_pr_sweeper_[a-z_]+", family.name)
        assert not family.name.endswith("_total")
        assert family.documentation
    names = {f.name for f in families(RUN)}
    assert {
        "foreman_pr_sweeper_last_run_timestamp_seconds",
        "foreman_pr_sweeper_last_success_timestamp_seconds",
        "foreman_pr_sweeper_last_run_duration_seconds",
        "foreman_pr_sweeper_last_run_exit_code",
    } <= names


def test_values_and_low_cardinality_labels() -> None:
    got = samples(RUN)
    assert got["foreman_pr_sweeper_last_run_duration_seconds"] == 12.5
    assert got['foreman_pr_sweeper_decisions{outcome="opened",reason="missing-pr"}'] == 3
    assert got['foreman_pr_sweeper_decisions{outcome="deferred",reason="budget-exhausted"}'] == 2
    assert got['foreman_pr_sweeper_workloads{state="settled"}'] == 10
    assert got['foreman_pr_sweeper_github_requests{kind="auth"}'] == 2
    assert not any("graphql_points" in key for key in got)  # points are quota
    # An App's buckets, per installation (named by the owner it serves).
    assert got['foreman_pr_sweeper_github_quota_used{bucket="core",installation="acme"}'] == 3
    assert got['foreman_pr_sweeper_github_quota_remaining{bucket="graphql",installation="acme"}']
    assert got['foreman_pr_sweeper_github_quota_used{bucket="core",installation="initech"}'] == 0
    # Unknown quota is no sample, not a zero.
    assert 'foreman_pr_sweeper_github_quota_limit{bucket="core",installation="initech"}' not in got
    assert got['foreman_pr_sweeper_kubernetes_requests{verb="patch"}'] == 3


def test_only_a_successful_pass_sets_the_last_success() -> None:
    """Failed, refused and terminated runs push no success time."""
    for code, result in ((1, "failed"), (2, "config-error"), (143, "terminated")):
        failed = RunFacts(1.0, 1.0, code, result, False, "0.1.0")
        got = samples(failed)
        assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in got
        assert got["foreman_pr_sweeper_last_run_exit_code"] == code
        assert got[f'foreman_pr_sweeper_last_run_info{{result="{result}",version="0.1.0"}}'] == 1


def test_a_lock_held_run_is_no_success_and_keeps_the_failures_it_did_not_see() -> None:
    """A run that found the lock held exits 0 but did nothing: no success time, and no
    decision or workload series that would replace the previous run's failures."""
    held = RunFacts(1.0, 0.1, 0, "lock-held", False, "0.1.0", decisions={("failed", "x"): 0})
    got = samples(held)
    assert "foreman_pr_sweeper_last_success_timestamp_seconds" not in got
    assert got['foreman_pr_sweeper_last_run_info{result="lock-held",version="0.1.0"}'] == 1
    names = {key.split("{")[0] for key in got}
    assert names == {
        "foreman_pr_sweeper_last_run_timestamp_seconds",
        "foreman_pr_sweeper_last_run_exit_code",
        "foreman_pr_sweeper_last_run_duration_seconds",
        "foreman_pr_sweeper_last_run_info",
        "foreman_pr_sweeper_allow_repos_configured",
    }


@pytest.mark.parametrize("result", ["success", "failed", "lock-held", "config-error"])
def test_every_run_says_whether_an_allowlist_is_set(result: str) -> None:
    """The NoAllowlist alert reads this gauge: 1 with --allow-repo, 0 without, every run."""
    for configured, value in ((True, 1), (False, 0)):
        run = RunFacts(1.0, 1.0, 0, result, False, "0.1.0", allow_repos_configured=configured)
        assert samples(run)["foreman_pr_sweeper_allow_repos_configured"] == value


def test_a_dry_run_is_its_own_group() -> None:
    assert RUN.mode == "sweep"
    assert RunFacts(1.0, 1.0, 0, "success", True, "0.1.0").mode == "dry-run"


@pytest.mark.parametrize(
    "url",
    [
        "pushgateway:9091",
        "ftp://gw",
        "http://",
        "http://u:p@gw:9091",
        "http://gw?x=1",
        "http://gw#f",
    ],
)
def test_a_bad_pushgateway_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="--pushgateway-url"):
        validate_pushgateway_url(url)


def test_a_good_pushgateway_url() -> None:
    assert validate_pushgateway_url("http://pushgateway.monitoring:9091/") == (
        "http://pushgateway.monitoring:9091"
    )
    assert public_url("https://u:p@gw.example:9091/p") == "https://gw.example:9091/p"


def test_the_flag_and_its_variable() -> None:
    from sweeper.cli import settings_from

    env = {"GITHUB_TOKEN": "t", "SWEEPER_PUSHGATEWAY_URL": "http://gw:9091"}
    assert settings_from([], env)[0].pushgateway_url == "http://gw:9091"
    flag = settings_from(["--pushgateway-url", "https://gw.example"], env)[0]
    assert flag.pushgateway_url == "https://gw.example"
    assert flag.public()["pushgateway_url"] == "https://gw.example"
    assert settings_from([], {"GITHUB_TOKEN": "t"})[0].pushgateway_url is None


class _Gateway(LocalServer):
    """A loopback server answering GETs from `answers` (path -> status), logging each."""

    def __init__(self, answers: dict[str, int]) -> None:
        super().__init__()
        self.answers, self.seen = answers, []

    class handler(QuietHandler):  # LocalServer's hook
        owner: _Gateway

        def _answer(self) -> None:
            self.owner.seen.append(f"{self.command} {self.path}")
            status = self.owner.answers.get(self.path, 404) if self.command == "GET" else 405
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_PUT = do_POST = _answer


@pytest.mark.parametrize(
    ("answers", "seen", "ready"),
    [
        pytest.param({"/-/ready": 200}, ["GET /-/ready"], True, id="ready"),
        pytest.param(
            {"/api/v1/status": 200},
            ["GET /-/ready", "GET /api/v1/status"],
            True,
            id="no-ready-path-asks-the-status",
        ),
        pytest.param({"/-/ready": 503}, ["GET /-/ready"], False, id="not-ready"),
        pytest.param({}, ["GET /-/ready", "GET /api/v1/status"], False, id="not-a-gateway"),
    ],
)
def test_ready_is_a_look_never_a_push(
    answers: dict[str, int], seen: list[str], ready: bool
) -> None:
    """`check` asks GET /-/ready (else /api/v1/status), and a failure raises OSError."""
    with _Gateway(answers) as gateway:
        if ready:
            Pushgateway(gateway.url, 5).ready()
        else:
            with pytest.raises(OSError):
                Pushgateway(gateway.url, 5).ready()
        assert gateway.seen == seen
