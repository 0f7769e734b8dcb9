"""`foreman-pr-sweeper check`, the real CLI against the stand-ins: a table (or JSON) that
names what a real run would miss, exit 0 only when it would work, nothing written to the
cluster or GitHub, and an answer in under ten seconds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, World
from tests.fixtures.keys import key_file, public_pem, rsa_key
from tests.real.pushgateway import free_port, pushgateway

pytestmark = pytest.mark.e2e
ALLOWED = ("--allow-repo", "acme/widgets")
TEAMS = ("--namespace", "team-a", "--namespace", "team-b")
APP_ID = 424242


@dataclass
class Checked:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def rows(self) -> dict[str, tuple[str, str]]:
        """check -> (status, detail), read from the table as a user reads it."""
        header, *rest = self.stdout.splitlines()
        assert header.split() == ["CHECK", "STATUS", "DETAIL"], self.stdout
        at = header.index("STATUS")
        rows = {}
        for line in rest:
            if not line:
                break
            rows[line[:at].strip()] = (line[at : at + 6].strip(), line[at + 8 :])
        return rows

    @property
    def verdict(self) -> str:
        return self.stdout.rstrip("\n").splitlines()[-1]


def check(world: World, *args: str, **env: str) -> Checked:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sweeper", "check", *args],
        env=world.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=world.tmp,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return Checked(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def wrote_nothing(world: World) -> None:
    """Only reads reached the stand-ins (a SelfSubjectAccessReview is answered, not kept)."""
    kube = {(c.method, c.resource) for c in world.kube.calls if c.method != "GET"}
    assert kube <= {("POST", "selfsubjectaccessreviews")}, kube
    assert {c.method for c in world.github.calls} == {"GET"}
    assert world.kube.list("leases", group="coordination.k8s.io") == []
    assert world.kube.list("events", group="") == []


def degraded_only_by_the_standin(rows: dict[str, tuple[str, str]]) -> None:
    """Every row ok, but that the stand-in may not serve Foreman's Agents (a warning)."""
    for name, (status, detail) in rows.items():
        assert status == "ok" or (name == "cluster" and "does not serve agents" in detail), rows


def test_all_granted_is_exit_0_with_nothing_written(world: World) -> None:
    """Everything a run needs is there: every row passes, exit 0, only reads, under 10 s."""
    world.simple("wl", namespace="team-a")
    done = check(world, *ALLOWED, *TEAMS)
    assert done.code == 0, done.stdout + done.stderr
    rows = done.rows
    degraded_only_by_the_standin(rows)
    assert rows["rbac workloads"] == ("ok", "get, list, patch in namespaces team-a, team-b")
    assert rows["lease"][1].startswith("sweeper/foreman-pr-sweeper: get, update, create granted")
    assert rows["allowlist"] == ("ok", "acme/widgets")
    assert done.verdict.endswith("a real run would work (exit 0)")
    assert done.seconds < 10
    wrote_nothing(world)
    assert world.pulls() == [] and world.records("wl", "team-a") == {}


def test_a_denied_patch_is_named_and_the_sweep_meets_it_too(world: World) -> None:
    """RBAC without patch on Workloads in team-a: check exits 1 naming exactly that; JSON
    says the same; a real sweep then fails recording there, as check said it would."""
    world.kube.deny("patch", "workloads.foreman.llmkube.dev", namespace="team-a")
    world.simple("wl", namespace="team-a")
    done = check(world, *ALLOWED, *TEAMS)
    assert done.code == 1, done.stdout
    assert done.rows["rbac workloads"] == (
        "fail",
        "cannot patch workloads.foreman.llmkube.dev in namespace team-a",
    )
    assert [name for name, (status, _) in done.rows.items() if status == "fail"] == [
        "rbac workloads"
    ]
    assert done.verdict.startswith("1 failed")
    assert done.verdict.endswith(": a real run would not work (exit 1)")
    assert done.seconds < 10

    as_json = check(world, *ALLOWED, *TEAMS, "--format", "json")
    document = json.loads(as_json.stdout)
    assert as_json.code == document["exit_code"] == 1 and document["ok"] is False
    assert {
        "check": "rbac workloads",
        "status": "fail",
        "detail": "cannot patch workloads.foreman.llmkube.dev in namespace team-a",
    } in document["checks"]
    wrote_nothing(world)

    swept = world.sweep(*ALLOWED, *TEAMS)
    assert swept.code == 1
    failed = [line for line in swept.lines if line.get("event") == "record.failed"]
    assert failed and "403" in failed[0]["detail"]


def test_no_allowlist_in_a_pod_is_a_warning(world: World) -> None:
    """Inside a pod (KUBERNETES_SERVICE_HOST set) an unset allowlist warns; a run still works."""
    done = check(world, KUBERNETES_SERVICE_HOST="10.96.0.1")
    assert done.code == 0, done.stdout
    status, detail = done.rows["allowlist"]
    assert status == "warn" and "any repository may get PRs" in detail
    assert "warning" in done.verdict


def test_a_pushgateway_down_fails_naming_its_url(world: World) -> None:
    """A set --pushgateway-url nobody answers: the pushgateway row fails naming the URL."""
    url = f"http://127.0.0.1:{free_port()}"
    done = check(world, *ALLOWED, "--pushgateway-url", url)
    assert done.code == 1
    status, detail = done.rows["pushgateway"]
    assert status == "fail" and detail.startswith(f"{url} is not ready: ")
    assert "Connection refused" in detail


def test_a_ready_pushgateway_is_asked_not_pushed_to(world: World) -> None:
    """The real Pushgateway: the row passes, and the gateway holds no series afterwards."""
    with pushgateway() as gateway:
        done = check(world, *ALLOWED, "--pushgateway-url", gateway.url)
        assert done.rows["pushgateway"] == ("ok", f"{gateway.url} is ready")
        assert done.code == 0
        assert gateway.series() == {}


def test_an_unreachable_cluster_is_one_failed_row_in_time(world: World, tmp_path: Path) -> None:
    """No API server: one row fails naming it, none per question, well within 10 s."""
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(
        world.kubeconfig.read_text().replace(world.kube.url, f"http://127.0.0.1:{free_port()}")
    )
    done = check(world, *ALLOWED, KUBECONFIG=str(dead))
    assert done.code == 1 and done.seconds < 10
    failed = [name for name, (status, _) in done.rows.items() if status == "fail"]
    assert (
        failed == ["cluster"]
        and "cannot ask the cluster at http://127.0.0.1:" in (done.rows["cluster"][1])
    )


def test_a_slow_cluster_still_gets_an_answer_in_time(world: World) -> None:
    """Two seconds per call: what could not be asked in time is not verified, so exit 1,
    and the answer still comes in under 10 s."""
    world.kube.latency_s = 2.0
    done = check(world, *ALLOWED, *TEAMS)
    assert done.seconds < 10, done.seconds
    assert done.code == 1
    unverified = [n for n, (s, d) in done.rows.items() if s == "fail" and "not asked" in d]
    assert unverified, done.stdout


def test_a_refused_token_is_named_and_never_printed(world: World) -> None:
    """GitHub answers 401: the github row fails saying so, and the token appears nowhere."""
    done = check(world, *ALLOWED, GITHUB_TOKEN="ghp_notthetoken0123456789")
    assert done.code == 1
    status, detail = done.rows["github"]
    assert status == "fail" and detail.startswith("GitHub refused the token")
    assert "ghp_notthetoken0123456789" not in done.stdout + done.stderr


def test_as_an_app_each_allowed_owner_needs_an_installation(world: World) -> None:
    """As a GitHub App: an installation per allowed owner, read with the JWT (nothing
    minted); an owner without one fails, naming it."""
    world.github.enable_app(APP_ID, public_pem(rsa_key(0)))
    world.github.install("acme")
    world.ensure_repo("acme/widgets")
    key = key_file(world.tmp, 0, "app-key.pem")
    done = check(
        world,
        "--allow-repo",
        "acme/widgets",
        "--allow-repo",
        "other/*",
        GITHUB_TOKEN="",
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_APP_PRIVATE_KEY_FILE=str(key),
    )
    assert done.code == 1, done.stdout
    assert done.rows["github"] == ("ok", f"GitHub App {APP_ID}: GitHub accepts its key")
    assert done.rows["installation acme"][0] == "ok"
    assert done.rows["installation other"] == (
        "fail",
        "the App is not installed on other (or cannot see other/*): install it there with "
        "Contents: read, Pull requests: read and write, Metadata: read",
    )
    assert world.github.tokens_minted == 0
    wrote_nothing(world)


def test_a_refused_setting_is_exit_2_in_one_line(world: World) -> None:
    """A setting check cannot use is refused as a sweep refuses it: one line, exit 2."""
    done = check(world, "--format", "xml")
    assert done.code == 2
    [line] = [json.loads(raw) for raw in done.stdout.splitlines() if raw.strip()]
    assert line["event"] == "sweep.config_error" and "--format 'xml'" in line["detail"]
    assert world.kube.calls == [] and world.github.calls == []


def test_help_documents_check() -> None:
    """`check --help` lists every row it prints and the exit codes; the main help names it."""
    run = [sys.executable, "-m", "sweeper"]
    text = subprocess.run([*run, "check", "--help"], capture_output=True, text=True).stdout
    assert text.startswith("usage: foreman-pr-sweeper check")
    for row in ("allowlist", "github", "quota", "installation O", "cluster", "rbac R"):
        assert f"\n  {row} " in text
    for row in ("namespaces", "lease", "pushgateway", "--format {table,json}", "exit codes:"):
        assert row in text
    main = subprocess.run([*run, "--help"], capture_output=True, text=True).stdout
    assert "foreman-pr-sweeper check [--format table|json]" in main


def test_the_readmes_example_is_what_check_prints(world: World) -> None:
    """The README's example output, its command run against the stand-ins with the same
    denial: every row but the cluster's (whose address differs) is printed as shown."""
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"```text\n\$ foreman-pr-sweeper check (.*?)\n(.*?)```", text, re.S)
    assert match, "README has no example of check's output"
    args, shown = match.group(1).split(), Checked(1, match.group(2), "", 0)
    world.github.oauth_scopes = "repo"
    world.kube.deny("patch", "workloads.foreman.llmkube.dev", namespace="team-a")
    done = check(world, *args, SWEEPER_LOCK_NAMESPACE="foreman-pr-sweeper")
    assert done.code == 1
    expected = {k: v for k, v in shown.rows.items() if k != "cluster"}
    assert {k: v for k, v in done.rows.items() if k != "cluster"} == expected
    assert shown.rows["cluster"][0] == "ok" and done.rows["cluster"][0] in ("ok", "warn")
    assert done.verdict.startswith("1 failed") and shown.verdict.startswith("1 failed")
