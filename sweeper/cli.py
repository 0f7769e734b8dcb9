"""Command line: flags (each with an environment variable; flags win), checks, one pass."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence

from sweeper import __version__
from sweeper.errors import KubeError
from sweeper.github import GitHub, GitHubError, Unauthorized
from sweeper.metrics import Metrics, Pushgateway
from sweeper.ports import KubePort
from sweeper.report import Summary, configure
from sweeper.settings import ConfigError, Settings, build
from sweeper.stopping import Stop
from sweeper.sweep import finish, run_sweep

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

DESCRIPTION = """\
Open the missing pull requests of Completed LLMKube Foreman Workloads, exactly once.

Lists Completed Workloads without a recorded PR, matches each issue to its reviewed,
pushed branch, and opens every missing PR in one idempotent pass; records each PR in
the annotation pr-sweeper.foreman.llmkube.dev/pull-requests and as an Event. A PR the
sweeper wrote for an older review of its branch is refreshed, not duplicated; with
--draft-on-request-changes, a review that requested changes gets a draft PR.
"""

EPILOG = """\
environment: every flag has a variable (shown in brackets); flags win.
  GITHUB_TOKEN holds the token unless --github-token-file is given.
  Cluster access: in-cluster config inside a pod, else KUBECONFIG or ~/.kube/config.

trusted: a task counts only when its controller ownerReference carries the Workload's
  uid, and a branch only when it is what the Workload asked for (spec.repo and
  spec.issues, or a step of spec.pipeline); anything else is skipped invalid-input.

GitHub reads: batched GraphQL queries (about one point per 100 branches, from GraphQL's own
  quota); REST for writes, and for reads when the token may not use GraphQL (a warning says so).

notify: review requests and labels apply to PRs the sweeper opens; a failure there is a
  warning on the decision line (field "warnings"), never a failed PR.

metrics: with --pushgateway-url every run (dry runs and exit-2 runs too) pushes gauges of
  its results before its last line, sweep.finished; an unreachable gateway is a warning
  line (metrics.push_failed), never another exit code.

report: `foreman-pr-sweeper report [FILE] [--format text|markdown]` reads a run's log
  (FILE, or standard input) and prints what an operator reads: `report --help`.

exit codes:
  0  the pass ran and nothing failed (also: another run holds the lock)
  1  the pass ran and at least one item failed; the rest still ran
  2  configuration, authentication or cluster error before the pass; nothing was done
"""


def _env_list(env: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in env.get(name, "").split(",") if v.strip()]


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="foreman-pr-sweeper",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add(
        "--namespace",
        action="append",
        metavar="NS",
        dest="namespaces",
        help="namespace to sweep; repeatable; default all [SWEEPER_NAMESPACES, comma-separated]",
    )
    add(
        "--selector",
        default=env.get("SWEEPER_SELECTOR"),
        help="label selector on Workloads [SWEEPER_SELECTOR]",
    )
    add(
        "--github-token-file",
        metavar="PATH",
        default=env.get("GITHUB_TOKEN_FILE"),
        help="file holding the GitHub token, e.g. a mounted Secret [GITHUB_TOKEN_FILE]",
    )
    add(
        "--github-app-id",
        metavar="ID",
        default=env.get("GITHUB_APP_ID"),
        help="authenticate as this GitHub App (its App ID or client ID) instead of a token "
        "[GITHUB_APP_ID]",
    )
    add(
        "--github-app-private-key-file",
        metavar="PATH",
        default=env.get("GITHUB_APP_PRIVATE_KEY_FILE"),
        help="the App's private key (PEM), e.g. a mounted Secret [GITHUB_APP_PRIVATE_KEY_FILE]",
    )
    add(
        "--github-app-installation-id",
        metavar="ID",
        default=env.get("GITHUB_APP_INSTALLATION_ID"),
        help="use this one installation for every repository (default: each repository "
        "owner's own) [GITHUB_APP_INSTALLATION_ID]",
    )
    add(
        "--github-api-url",
        metavar="URL",
        default=env.get("GITHUB_API_URL", "https://api.github.com"),
        help="GitHub API root; GitHub Enterprise: https://HOST/api/v3 [GITHUB_API_URL]",
    )
    add(
        "--dry-run",
        action="store_true",
        default=_env_bool(env, "SWEEPER_DRY_RUN"),
        help="decide and report everything, write nothing anywhere [SWEEPER_DRY_RUN=true]",
    )
    add(
        "--min-age",
        metavar="DURATION",
        default=env.get("SWEEPER_MIN_AGE", "10m"),
        help="skip Workloads completed less than this ago, e.g. 10m, 1h30m (default 10m) "
        "[SWEEPER_MIN_AGE]",
    )
    add(
        "--head-owner",
        metavar="OWNER",
        default=env.get("SWEEPER_HEAD_OWNER"),
        help="owner of the fork coders push to; PR heads become OWNER:branch [SWEEPER_HEAD_OWNER]",
    )
    add(
        "--allow-repo",
        action="append",
        metavar="OWNER/NAME",
        dest="allow_repos",
        help="only open PRs on these repositories (OWNER/NAME or OWNER/*); repeatable; "
        "default any [SWEEPER_ALLOW_REPOS, comma-separated]",
    )
    add(
        "--draft-on-request-changes",
        action="store_true",
        default=_env_bool(env, "SWEEPER_DRAFT_ON_REQUEST_CHANGES"),
        help="also read Failed Workloads: a branch whose gate passed but whose review "
        "requested changes gets a draft PR with the findings, linking the issue without "
        "closing it [SWEEPER_DRAFT_ON_REQUEST_CHANGES=true]",
    )
    add(
        "--reviewer",
        action="append",
        metavar="LOGIN",
        dest="reviewers",
        help="request a review from this user on every PR the sweeper opens; repeatable "
        "[SWEEPER_REVIEWERS, comma-separated]",
    )
    add(
        "--team-reviewer",
        action="append",
        metavar="ORG/TEAM",
        dest="team_reviewers",
        help="request a review from this team (on repositories owned by ORG); repeatable "
        "[SWEEPER_TEAM_REVIEWERS, comma-separated]",
    )
    add(
        "--label",
        action="append",
        metavar="NAME",
        dest="labels",
        help="add this label to every PR the sweeper opens; repeatable [SWEEPER_LABELS, "
        "comma-separated]",
    )
    add(
        "--write-interval",
        type=float,
        metavar="SECONDS",
        default=float(env.get("SWEEPER_WRITE_INTERVAL", "1.0")),
        help="pause between GitHub writes (default 1.0) [SWEEPER_WRITE_INTERVAL]",
    )
    add(
        "--max-create",
        type=int,
        metavar="N",
        default=int(env.get("SWEEPER_MAX_CREATE", "50")),
        help="PRs to open at most per run; the rest are deferred (default 50) [SWEEPER_MAX_CREATE]",
    )
    add(
        "--rate-reserve",
        metavar="N|N%",
        default=env.get("SWEEPER_RATE_RESERVE", "20%"),
        help="leave at least this much of each GitHub rate-limit bucket (REST and GraphQL) "
        "to others sharing the token: a share of its limit or a count; 0 turns it off "
        "(default 20%%) [SWEEPER_RATE_RESERVE]",
    )
    add(
        "--pushgateway-url",
        metavar="URL",
        default=env.get("SWEEPER_PUSHGATEWAY_URL") or None,
        help="push the run's metrics to this Prometheus Pushgateway at the end of every run, "
        "under job foreman-pr-sweeper (default: off) [SWEEPER_PUSHGATEWAY_URL]",
    )
    add(
        "--page-size",
        type=int,
        metavar="N",
        default=int(env.get("SWEEPER_PAGE_SIZE", "500")),
        help="Workloads per list call (default 500) [SWEEPER_PAGE_SIZE]",
    )
    add(
        "--lock-namespace",
        metavar="NS",
        default=env.get("SWEEPER_LOCK_NAMESPACE"),
        help="namespace of the run-lock Lease (default: the pod's namespace, else default) "
        "[SWEEPER_LOCK_NAMESPACE]",
    )
    add(
        "--lock-name",
        metavar="NAME",
        default=env.get("SWEEPER_LOCK_NAME", "foreman-pr-sweeper"),
        help="name of the run-lock Lease (default foreman-pr-sweeper) [SWEEPER_LOCK_NAME]",
    )
    add(
        "--no-lock",
        action="store_true",
        default=_env_bool(env, "SWEEPER_NO_LOCK"),
        help="do not take the run lock (only when nothing else can run at once) "
        "[SWEEPER_NO_LOCK=true]",
    )
    add(
        "--kubeconfig",
        metavar="PATH",
        default=env.get("KUBECONFIG") or None,
        help="kubeconfig file (default: in-cluster, else ~/.kube/config) [KUBECONFIG]",
    )
    add(
        "--log-format",
        choices=("auto", "json", "console"),
        default=env.get("SWEEPER_LOG_FORMAT", "auto"),
        help="auto: JSON unless stdout is a terminal [SWEEPER_LOG_FORMAT]",
    )
    add("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def settings_from(
    argv: Sequence[str] | None, env: Mapping[str, str]
) -> tuple[Settings, str | None]:
    try:
        args = parser(env).parse_args(argv)
    except ValueError as err:  # a malformed numeric environment variable
        raise ConfigError(f"bad environment value: {err}") from None
    settings = build(
        namespaces=args.namespaces or _env_list(env, "SWEEPER_NAMESPACES"),
        selector=args.selector,
        github_api_url=args.github_api_url,
        token_file=args.github_token_file,
        dry_run=args.dry_run,
        min_age=args.min_age,
        head_owner=args.head_owner,
        allow_repos=args.allow_repos or _env_list(env, "SWEEPER_ALLOW_REPOS"),
        log_format=args.log_format,
        write_interval_s=args.write_interval,
        max_create=args.max_create,
        page_size=args.page_size,
        lock_namespace=args.lock_namespace,
        lock_name=args.lock_name,
        use_lock=not args.no_lock,
        draft_on_request_changes=args.draft_on_request_changes,
        reviewers=args.reviewers or _env_list(env, "SWEEPER_REVIEWERS"),
        team_reviewers=args.team_reviewers or _env_list(env, "SWEEPER_TEAM_REVIEWERS"),
        labels=args.labels or _env_list(env, "SWEEPER_LABELS"),
        rate_reserve=args.rate_reserve,
        app_id=args.github_app_id,
        app_key_file=args.github_app_private_key_file,
        app_installation_id=args.github_app_installation_id,
        pushgateway_url=args.pushgateway_url,
        env=env,
    )
    return settings, args.kubeconfig


def _refusal(err: Exception) -> str:
    """The reason word of a start-up refusal."""
    if isinstance(err, KubeError):
        return "cluster"
    return "github-auth" if isinstance(err, Unauthorized) else "github-unreachable"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["report"]:
        from sweeper.readout import main as report  # reads a log; needs no cluster or token

        return report(args[1:], sys.stdin, sys.stdout)
    try:
        settings, kubeconfig = settings_from(argv, env)
    except ConfigError as err:
        log = configure(env.get("SWEEPER_LOG_FORMAT", "auto"))
        log.error("sweep.config_error", reason="config", detail=str(err))
        return EXIT_CONFIG
    # The token, the key's lines, and every JWT and installation token minted later.
    secrets: list[str] = [settings.github_token]
    if settings.app is not None:
        secrets += [line for line in settings.app.private_key.splitlines() if len(line) > 16]
    log = configure(settings.log_format, secrets=secrets)
    stop = Stop()
    stop.install()  # PID 1 in a container has no default SIGTERM handler
    log.info(
        "sweep.started",
        version=__version__,
        settings=settings.public(),
        **(
            {}
            if settings.allow_repos
            else {"warning": "no --allow-repo: any repository may get PRs"}
        ),
    )
    from sweeper.kube import connect  # the client is slow to import; --help never needs it

    started = time.monotonic()
    github = GitHub(
        settings.github_api_url,
        settings.github_token,
        settings.tunables,
        settings.write_interval_s,
        sleep=stop.sleep,  # a stop request cuts rate-limit waits short
        reserve=settings.rate_reserve,
        app=settings.app,
        secrets=secrets,
    )
    url = settings.pushgateway_url
    metrics = Metrics(Pushgateway(url, settings.tunables.push_timeout_s), log) if url else None
    kube: KubePort | None = None
    try:
        try:
            kube = connect(kubeconfig, settings.tunables, stop)
            kube.check(settings.namespaces)
            github.check_token()
        except (KubeError, GitHubError) as err:  # RateLimited and Unauthorized among them
            log.error("sweep.config_error", reason=_refusal(err), detail=str(err))
            summary = Summary(config_error=str(err))
            duration_s = round(time.monotonic() - started, 3)
            finish(settings, summary, github, kube, log, metrics, duration_s)
            return EXIT_CONFIG
        return run_sweep(settings, kube, github, log, metrics, stop).exit_code
    finally:
        github.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
