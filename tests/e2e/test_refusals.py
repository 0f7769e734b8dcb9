"""First contact: every refusal is one sweep.config_error line naming its reason and its
source, exit 2, a few lines of stderr at most and never a traceback; a typo never
changes what a run does; a namespace that cannot be swept is a warning naming it.

Most refusals need no stand-in at all: the sweeper refuses before it looks at a cluster,
whose kubeconfig here points at a closed loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO_ROOT, Run, World, parse_lines
from tests.fixtures.keys import key_file

pytestmark = pytest.mark.e2e
DEAD = "https://127.0.0.1:1"
PLACEHOLDER = "REQUIRED: set OWNER/NAME or OWNER/* (comma-separated)"


def dead_kubeconfig(tmp: Path) -> Path:
    path = tmp / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{DEAD}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    return path


def sweeper(tmp: Path, *args: str, **extra: str) -> Run:
    """The real CLI with a clean environment: a token, a Lease namespace, a dead cluster."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "SWEEPER_", "KUBE")) and k not in ("POD_NAMESPACE",)
    }
    env.update(
        HOME=str(tmp),
        PYTHONPATH=str(REPO_ROOT),
        GITHUB_TOKEN="ghp_e2e_token_value",
        SWEEPER_LOCK_NAMESPACE="ops",
        KUBECONFIG=str(dead_kubeconfig(tmp)),
    )
    env.update(extra)
    env = {k: v for k, v in env.items() if v != "<unset>"}
    proc = subprocess.run(
        [sys.executable, "-m", "sweeper", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_refusal(run: Run, reason: str, source: str) -> dict[str, Any]:
    """Exit 2; the run's only config_error line, with this reason and source; a quiet stderr."""
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.code == 2, run.stdout + run.stderr
    lines = parse_lines(run.stdout)  # every line is one JSON object
    [line] = [x for x in lines if x["event"] == "sweep.config_error"]
    assert (line["reason"], line["source"], line["level"]) == (reason, source, "error"), line
    assert len(run.stderr.splitlines()) <= 2, run.stderr
    return line


@pytest.mark.parametrize(
    ("args", "env", "source", "says"),
    [
        pytest.param(
            ["--max-create", "abc"],
            {},
            "flag --max-create",
            "--max-create 'abc' is not a whole",
            id="flag-not-a-number",
        ),
        pytest.param(
            ["--log-format", "bogus"],
            {},
            "flag --log-format",
            "--log-format 'bogus' is not",
            id="flag-not-a-format",
        ),
        pytest.param(
            ["--no-such-flag"],
            {},
            "flag --no-such-flag",
            "unrecognized arguments: --no-such",
            id="unknown-flag",
        ),
        pytest.param(
            ["--min-age"], {}, "flag --min-age", "expected one argument", id="flag-without-value"
        ),
        pytest.param(
            [],
            {"SWEEPER_MAX_CREATE": "abc"},
            "variable SWEEPER_MAX_CREATE",
            "SWEEPER_MAX_CREATE='abc' is not a whole number",
            id="variable-not-a-number",
        ),
        pytest.param(
            [],
            {"SWEEPER_MIN_AGE": "bogus"},
            "variable SWEEPER_MIN_AGE",
            "SWEEPER_MIN_AGE='bogus' is not a duration",
            id="variable-not-blamed-on-the-flag",
        ),
        pytest.param(
            [],
            {"SWEEPER_LOG_FORMAT": "bogus"},
            "variable SWEEPER_LOG_FORMAT",
            "SWEEPER_LOG_FORMAT='bogus' is not auto, json or console",
            id="variable-not-a-format",
        ),
        pytest.param(
            [],
            {"SWEEPER_ALLOW_REPO": "acme/*"},
            "variable SWEEPER_ALLOW_REPO",
            "did you mean SWEEPER_ALLOW_REPOS?",
            id="misspelt-variable",
        ),
        pytest.param(
            ["--allow-repo", PLACEHOLDER],
            {},
            "flag --allow-repo",
            "--allow-repo still holds deploy/'s placeholder",
            id="placeholder-from-the-flag",
        ),
        pytest.param(
            [], {"GITHUB_TOKEN": "<unset>"}, "none given", "no GitHub credentials", id="no-token"
        ),
    ],
)
def test_every_start_up_refusal_is_one_json_line_naming_its_source(
    tmp_path: Path, args: list[str], env: dict[str, str], source: str, says: str
) -> None:
    """argparse's 15 lines of usage, a variable blamed on a flag, an unvalidated log format:
    each is now exactly one line on stdout, with the reason and the source."""
    run = sweeper(tmp_path, *args, **env)
    line = one_refusal(run, "config", source)
    assert says in line["detail"] and len(run.stdout.splitlines()) == 1
    assert "ghp_e2e_token_value" not in run.stdout + run.stderr


def test_a_refusal_is_written_in_the_format_asked_for(tmp_path: Path) -> None:
    """--log-format console is honoured by the refusal itself: one readable line."""
    run = sweeper(tmp_path, "--max-create", "abc", "--log-format", "console")
    assert run.code == 2 and "Traceback" not in run.stderr
    [line] = run.stdout.splitlines()
    assert "sweep.config_error" in line and "flag --max-create" in line
    assert not line.startswith("{")


def test_a_token_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A binary token file was a UnicodeDecodeError traceback and exit 1."""
    token = tmp_path / "token"
    token.write_bytes(b"\x89PNG\r\n\x1a\nghp_hidden_in_the_file")
    run = sweeper(tmp_path, "--github-token-file", str(token), GITHUB_TOKEN="<unset>")
    line = one_refusal(run, "config", f"file {token}")
    assert "not UTF-8" in line["detail"] and "ghp_hidden" not in run.stdout


def test_a_key_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    """The App's key file likewise."""
    key = tmp_path / "app.pem"
    key.write_bytes(b"\xff\xfe" + key_file(tmp_path).read_bytes())
    run = sweeper(
        tmp_path,
        "--github-app-id",
        "12345",
        "--github-app-private-key-file",
        str(key),
        GITHUB_TOKEN="<unset>",
    )
    line = one_refusal(run, "config", f"file {key}")
    assert str(key) in line["detail"] and "PRIVATE KEY" not in run.stdout


def test_an_unreachable_cluster_says_where_and_why(tmp_path: Path) -> None:
    """It said "list workloads: MaxRetryError": now what was tried and why it failed."""
    run = sweeper(tmp_path, "--dry-run")
    line = one_refusal(run, "cluster", "variable KUBECONFIG")
    assert line["detail"].startswith(f"cannot reach the cluster at {DEAD}: connection refused")
    assert [x["event"] for x in parse_lines(run.stdout)][-1] == "sweep.finished"


def test_a_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    """It said "Invalid kube-config file. No configuration found." without the path."""
    missing = tmp_path / "no-such-kubeconfig"
    run = sweeper(tmp_path, "--kubeconfig", str(missing))
    line = one_refusal(run, "cluster", "flag --kubeconfig")
    assert line["detail"] == f"no kubeconfig at {missing}: no such file"
    default = sweeper(tmp_path, KUBECONFIG="<unset>")
    line = one_refusal(default, "cluster", "file ~/.kube/config")
    assert line["detail"].startswith("no kubeconfig at ~/.kube/config: no such file")


def test_a_kubeconfig_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    """A malformed kubeconfig was a yaml ParserError traceback."""
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    line = one_refusal(
        sweeper(tmp_path, "--kubeconfig", str(broken)), "cluster", "flag --kubeconfig"
    )
    assert line["detail"].startswith(f"kubeconfig {broken} is not usable:")


# ---------------------------------------------------------------- with the stand-ins


def test_a_misspelt_true_is_refused_not_a_real_run(world: World) -> None:
    """SWEEPER_DRY_RUN=ture opened a PR: now exit 2 before any call, nothing written."""
    world.simple()
    run = world.sweep(SWEEPER_DRY_RUN="ture")
    one_refusal(run, "config", "variable SWEEPER_DRY_RUN")
    assert world.pulls() == [] and world.kube.calls == [] and world.github.calls == []


def test_a_misspelt_variable_is_refused_not_a_wider_scope(world: World) -> None:
    """SWEEPER_NAMESPACE=team-a was ignored and every namespace swept: now refused."""
    world.simple(namespace="team-b")
    run = world.sweep(SWEEPER_NAMESPACE="team-a")
    line = one_refusal(run, "config", "variable SWEEPER_NAMESPACE")
    assert "did you mean SWEEPER_NAMESPACES?" in line["detail"]
    assert world.pulls() == []


def test_a_flag_turns_off_a_true_in_the_environment(world: World) -> None:
    """--no-dry-run wins over SWEEPER_DRY_RUN=true: the README's "flags win" holds."""
    world.simple()
    assert world.sweep(SWEEPER_DRY_RUN="true").summary["counts"] == {"would-open": 1}
    run = world.sweep("--no-dry-run", SWEEPER_DRY_RUN="true")
    assert run.code == 0 and run.summary["counts"] == {"opened": 1}
    assert len(world.pulls()) == 1


def test_open_as_draft_from_the_environment_and_its_off_switch(world: World) -> None:
    """SWEEPER_OPEN_AS_DRAFT=true: with no reviewer Agent to ask, the PR opens as a draft
    (still closing its issue); --no-open-as-draft wins over the variable."""
    world.simple("drafted", issues=(1,))
    assert world.sweep(SWEEPER_OPEN_AS_DRAFT="true").summary["counts"] == {"opened": 1}
    world.simple("ready", issues=(2,))
    run = world.sweep("--no-open-as-draft", SWEEPER_OPEN_AS_DRAFT="true")
    assert run.summary["counts"] == {"opened": 1}
    drafts = {p["head"]["ref"]: p["draft"] for p in world.pulls()}
    assert drafts == {"foreman/drafted/issue-1": True, "foreman/ready/issue-2": False}
    assert all("Fixes #" in p["body"] for p in world.pulls())


def test_a_namespace_that_does_not_exist_is_a_warning_naming_it(world: World) -> None:
    """`--namespace does-not-exist` exited 0 having swept nothing, without a word."""
    world.kube.inject("GET", r"^/api/v1/namespaces/does-not-exist$", 404, "NotFound")
    run = world.sweep("--namespace", "does-not-exist")
    assert run.code == 0 and "Traceback" not in run.stderr
    [warning] = [x for x in run.lines if x["event"] == "sweep.namespace_unusable"]
    assert warning["level"] == "warning" and warning["namespace"] == "does-not-exist"
    assert warning["reason"] == "namespace-not-found"


def test_a_namespace_the_sweeper_may_not_read_is_left_out_with_a_warning(world: World) -> None:
    """A forbidden namespace beside a readable one: a warning, and the other is swept."""
    world.simple(namespace="team-a")
    world.kube.inject("GET", r"/namespaces/secret/workloads$", 403, "Forbidden")
    run = world.sweep("--namespace", "team-a", "--namespace", "secret")
    assert run.code == 0 and run.summary["counts"] == {"opened": 1}
    [warning] = [x for x in run.lines if x["event"] == "sweep.namespace_unusable"]
    assert (warning["namespace"], warning["reason"]) == ("secret", "namespace-forbidden")


def test_when_no_named_namespace_may_be_read_the_run_is_refused(world: World) -> None:
    """Nothing could be swept (and an empty scope would mean every namespace): exit 2."""
    world.simple(namespace="team-a")
    world.kube.inject("GET", r"/namespaces/team-a/workloads$", 403, "Forbidden")
    run = world.sweep("--namespace", "team-a")
    line = one_refusal(run, "cluster", "flag --namespace")
    assert "team-a" in line["detail"] and world.pulls() == []


def test_a_refused_token_names_where_it_came_from(world: World) -> None:
    """GitHub's 401 at start-up: reason github-auth, source the variable holding the token."""
    run = world.sweep(GITHUB_TOKEN="wrong-token-value")
    one_refusal(run, "github-auth", "variable GITHUB_TOKEN")


def test_an_unreachable_github_names_the_api_url(world: World) -> None:
    """A GitHub that does not answer: reason github-unreachable, source GITHUB_API_URL."""
    run = world.sweep(GITHUB_API_URL="http://127.0.0.1:1")
    line = one_refusal(run, "github-unreachable", "variable GITHUB_API_URL")
    assert json.dumps(line)
