"""The flags: each with its environment variable (a flag wins), the help, and argparse
made to refuse in one line. `read_raw` gives every setting as given, with its source."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from sweeper import __version__
from sweeper.settings import ConfigError, Given, Raw, unknown_variables
from sweeper.values import LOG_FORMATS

PROG = "foreman-pr-sweeper"

USAGE = """%(prog)s [OPTIONS]
       %(prog)s report [FILE] [--format text|markdown]
       %(prog)s check [--format table|json] [OPTIONS]"""

DESCRIPTION = """\
Open the missing pull requests of Completed LLMKube Foreman Workloads, exactly once.

Lists Completed Workloads without a recorded PR, matches each issue to its reviewed,
pushed branch, and opens every missing PR in one idempotent pass; records each PR in
the annotation pr-sweeper.foreman.llmkube.dev/pull-requests, and emits an Event on the
Workload only for a PR it opened, updated or withdrew (and for a record it could not
write). A PR the sweeper wrote for an older review of its branch is refreshed, not
duplicated; with --draft-on-request-changes, a review that requested changes gets a
draft PR.
"""

EPILOG = """\
environment: every flag has a variable (shown in brackets); a flag wins over its variable.
  A switch has its --no- form, so a flag can turn off what a variable turned on; its
  variable takes true/false, 1/0, yes/no or on/off, in any case. A variable set to ""
  counts as unset. Anything else, and any SWEEPER_* variable the sweeper does not know,
  is refused (exit 2) with one sweep.config_error line naming the flag, variable or file.
  GITHUB_TOKEN holds the token unless --github-token-file is given.
  POD_NAMESPACE: the run lock's namespace when --lock-namespace is not set and the pod's
  service-account namespace file is absent (deploy/ sets SWEEPER_LOCK_NAMESPACE instead).
  Cluster access: in-cluster config inside a pod, else KUBECONFIG or ~/.kube/config.

namespaces: each --namespace is looked up first (one GET of the Namespace). One that does
  not exist is a warning line (sweep.namespace_unusable, namespace-not-found) and is still
  listed; one whose Workloads may not be listed is a warning (namespace-forbidden) and is
  left out. When none named may be read, the run is refused (exit 2).

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

check: `foreman-pr-sweeper check [--format table|json] [FLAGS]` asks, writing nothing,
  whether a sweep with these flags and variables would work: `check --help`.

output: one JSON line per event on stdout. A reader that goes away (`| head`) loses the
  rest of the log, not the run: the pass finishes its writes and records them.

exit codes:
  0    the pass ran and nothing failed (also: another run holds the lock)
  1    the pass ran and at least one item failed; the rest still ran
  2    configuration, authentication or cluster error before the pass; nothing was done
  130  SIGINT ended the pass early (128 + 2): what was done is recorded, the Lease
       released, the metrics pushed; sweep.finished says terminated
  143  SIGTERM ended the pass early (128 + 15: a Job's deadline, a node drain), the same
"""


class UsageError(ConfigError):
    """A command line argparse cannot read: an unknown flag, a flag without its value."""


class Done(Exception):
    """--help or --version has printed what was asked."""

    def __init__(self, code: int) -> None:
        self.code = code


class _Switch(argparse.Action):
    """`--dry-run` / `--no-dry-run`: stores the text a variable would hold ("true" for the
    first form), so a flag can turn off what the environment turned on."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self, _p: Any, namespace: argparse.Namespace, _v: Any, option: str | None = None
    ) -> None:
        setattr(namespace, self.dest, "true" if option == self.option_strings[0] else "false")


class Parser(argparse.ArgumentParser):
    """argparse whose refusals are ConfigErrors (one JSON line, not a page of usage) and
    whose --help and --version return instead of exiting. `variables` maps each dest to
    its environment variable; `flags` to its first option string."""

    def __init__(self) -> None:
        super().__init__(
            prog=PROG,
            usage=USAGE,
            description=DESCRIPTION,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,  # `--dry` is a typo, not --dry-run
        )
        self.variables: dict[str, str] = {"github_token": "GITHUB_TOKEN"}
        self.variables["pod_namespace"] = "POD_NAMESPACE"
        self.flags: dict[str, str] = {}
        self.lists: set[str] = set()

    def option(self, *flags: str, env: str, help: str, **kwargs: Any) -> None:
        """A flag and its variable, named at the end of the help."""
        many = kwargs.get("action") == "append"
        switch = kwargs.get("action") is _Switch
        shown = f"{env}, comma-separated" if many else f"{env}=true" if switch else env
        action = self.add_argument(*flags, default=None, help=f"{help} [{shown}]", **kwargs)
        self.variables[action.dest] = env
        self.flags[action.dest] = flags[0]
        if many:
            self.lists.add(action.dest)

    def error(self, message: str) -> NoReturn:
        raise UsageError(_unshown(message), _source(message))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise Done(status)


def _source(message: str) -> str:
    """The flag argparse complains about, as a refusal's source."""
    match = re.match(r"argument ([^:/ ]+)", message) or re.search(r"arguments: (-[^\s=]+)", message)
    return f"flag {match.group(1)}" if match else "command line"


def _unshown(message: str) -> str:
    """argparse's message without the values of unknown arguments: one may be a secret
    pasted in the wrong place. Flags and command-like words stay."""
    head, sep, rest = message.partition("unrecognized arguments: ")
    if not sep:
        return message
    words = [
        w.split("=", 1)[0] + ("=…" if "=" in w else "")
        if w.startswith("-")
        else w
        if re.fullmatch(r"[a-z][a-z-]{0,19}", w)
        else "…"
        for w in rest.split()
    ]
    return f"{head}unrecognized arguments: {' '.join(words)}"


def parser() -> Parser:
    p = Parser()
    add = p.option
    add(
        "--namespace",
        env="SWEEPER_NAMESPACES",
        action="append",
        metavar="NS",
        dest="namespaces",
        help="namespace to sweep; repeatable; default all; one that does not exist or may "
        "not be read is a warning",
    )
    add("--selector", env="SWEEPER_SELECTOR", help="label selector on Workloads")
    add(
        "--github-token-file",
        env="GITHUB_TOKEN_FILE",
        metavar="PATH",
        help="file holding the GitHub token, e.g. a mounted Secret",
    )
    add(
        "--github-app-id",
        env="GITHUB_APP_ID",
        metavar="ID",
        help="authenticate as this GitHub App (its App ID or client ID) instead of a token",
    )
    add(
        "--github-app-private-key-file",
        env="GITHUB_APP_PRIVATE_KEY_FILE",
        metavar="PATH",
        help="the App's private key (PEM), e.g. a mounted Secret",
    )
    add(
        "--github-app-installation-id",
        env="GITHUB_APP_INSTALLATION_ID",
        metavar="ID",
        help="use this one installation for every repository (default: each repository "
        "owner's own)",
    )
    add(
        "--github-api-url",
        env="GITHUB_API_URL",
        metavar="URL",
        help="GitHub API root (default https://api.github.com); GitHub Enterprise: "
        "https://HOST/api/v3",
    )
    add(
        "--dry-run",
        "--no-dry-run",
        env="SWEEPER_DRY_RUN",
        action=_Switch,
        help="decide and report everything; write nothing to GitHub or Kubernetes (no PR, "
        "annotation, Event or Lease); with --pushgateway-url the run's metrics are still "
        "pushed, as mode=dry-run (default off)",
    )
    add(
        "--min-age",
        env="SWEEPER_MIN_AGE",
        metavar="DURATION",
        help="skip Workloads completed less than this ago, e.g. 10m, 1h30m, 90s (default 10m)",
    )
    add(
        "--head-owner",
        env="SWEEPER_HEAD_OWNER",
        metavar="OWNER",
        help="owner of the fork coders push to; PR heads become OWNER:branch",
    )
    add(
        "--allow-repo",
        env="SWEEPER_ALLOW_REPOS",
        action="append",
        metavar="OWNER/NAME",
        dest="allow_repos",
        help="only open PRs on these repositories (OWNER/NAME or OWNER/*); repeatable; default any",
    )
    add(
        "--draft-on-request-changes",
        "--no-draft-on-request-changes",
        env="SWEEPER_DRAFT_ON_REQUEST_CHANGES",
        action=_Switch,
        help="also read Failed Workloads: a branch whose gate passed but whose review "
        "requested changes gets a draft PR with the findings, linking the issue without "
        "closing it (default off)",
    )
    add(
        "--open-as-draft",
        "--no-open-as-draft",
        env="SWEEPER_OPEN_AS_DRAFT",
        action=_Switch,
        help="open reviewed PRs as drafts where the reviewer Agent's openPullRequestsAsDraft "
        "is unset, or the Agent is missing or unreadable (default off: ready for review)",
    )
    add(
        "--reviewer",
        env="SWEEPER_REVIEWERS",
        action="append",
        metavar="LOGIN",
        dest="reviewers",
        help="request a review from this user on every PR the sweeper opens; repeatable",
    )
    add(
        "--team-reviewer",
        env="SWEEPER_TEAM_REVIEWERS",
        action="append",
        metavar="ORG/TEAM",
        dest="team_reviewers",
        help="request a review from this team (on repositories owned by ORG); repeatable",
    )
    add(
        "--label",
        env="SWEEPER_LABELS",
        action="append",
        metavar="NAME",
        dest="labels",
        help="add this label to every PR the sweeper opens; repeatable",
    )
    add(
        "--write-interval",
        env="SWEEPER_WRITE_INTERVAL",
        metavar="SECONDS",
        help="pause between GitHub writes, 0 to 60 (default 1.0)",
    )
    add(
        "--max-create",
        env="SWEEPER_MAX_CREATE",
        metavar="N",
        help="PRs to open at most per run, 0 or more; the rest are deferred (default 50); "
        "0 opens none: existing PRs are still adopted and recorded",
    )
    add(
        "--rate-reserve",
        env="SWEEPER_RATE_RESERVE",
        metavar="N|N%",
        help="leave at least this much of each GitHub rate-limit bucket (REST and GraphQL) "
        "to others sharing the token: a share of its limit or a count; 0 turns it off "
        "(default 20%%)",
    )
    add(
        "--pushgateway-url",
        env="SWEEPER_PUSHGATEWAY_URL",
        metavar="URL",
        help="push the run's metrics to this Prometheus Pushgateway at the end of every run, "
        "under job foreman-pr-sweeper (default: off)",
    )
    add(
        "--page-size",
        env="SWEEPER_PAGE_SIZE",
        metavar="N",
        help="Workloads per list call, 1 to 5000 (default 500)",
    )
    add(
        "--lock-namespace",
        env="SWEEPER_LOCK_NAMESPACE",
        metavar="NS",
        help="namespace of the run-lock Lease (default: the pod's namespace, from its service "
        "account or POD_NAMESPACE, else default)",
    )
    add(
        "--lock-name",
        env="SWEEPER_LOCK_NAME",
        metavar="NAME",
        help="name of the run-lock Lease (default foreman-pr-sweeper)",
    )
    add(
        "--no-lock",
        "--lock",
        env="SWEEPER_NO_LOCK",
        action=_Switch,
        dest="no_lock",
        help="do not take the run lock (only when nothing else can run at once); --lock "
        "takes it (the default)",
    )
    add(
        "--kubeconfig",
        env="KUBECONFIG",
        metavar="PATH",
        help="kubeconfig file (default: in-cluster, else ~/.kube/config)",
    )
    add(
        "--log-format",
        env="SWEEPER_LOG_FORMAT",
        metavar="auto|json|console",
        help="auto: JSON unless stdout is a terminal (default auto); refusals use it too",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def read_raw(argv: Sequence[str], env: Mapping[str, str]) -> Raw:
    """Every setting as given, with where it came from: the flag, else its variable."""
    p = parser()
    args = p.parse_args(list(argv))
    unknown_variables(env, p.variables.values())
    given: dict[str, Given[Any]] = {}
    for dest, variable in p.variables.items():
        flag, text = getattr(args, dest, None), env.get(variable) or ""
        if flag is not None:
            given[dest] = Given(tuple(flag) if dest in p.lists else flag, p.flags[dest])
        elif text.strip():
            items = tuple(v.strip() for v in text.split(",") if v.strip())
            given[dest] = Given(items if dest in p.lists else text, variable)
    return Raw(**given)


def refusal_format(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The --log-format a refusal is written in: the flag's, else the variable's, else auto
    (also when the one that wins is not a format)."""
    chosen = env.get("SWEEPER_LOG_FORMAT", "").strip() or None
    for i, arg in enumerate(argv):
        if arg.startswith("--log-format="):
            chosen = arg.partition("=")[2]
        elif arg == "--log-format" and i + 1 < len(argv):
            chosen = argv[i + 1]
    return chosen if chosen in LOG_FORMATS else "auto"
