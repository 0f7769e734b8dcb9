"""Command line: the sweeper's command (settings, start-up checks, one pass) and `report`.

The flags and their variables are in sweeper/flags.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TextIO, cast

from sweeper import __version__
from sweeper.errors import Forbidden, KubeError
from sweeper.flags import PROG, Done, UsageError, parser, read_raw, refusal_format
from sweeper.github import GitHub, GitHubError, Transient, Unauthorized
from sweeper.metrics import Metrics, Pushgateway
from sweeper.ports import KubePort
from sweeper.runlog import Log, Summary, configure
from sweeper.settings import ConfigError, Raw, Settings, build
from sweeper.stopping import Stop
from sweeper.sweep import finish, run_sweep

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
# What a refused command line gets on stderr: the JSON line on stdout says what was wrong.
USAGE_HINT = """usage: foreman-pr-sweeper [OPTIONS] | report [FILE] | check [OPTIONS]
foreman-pr-sweeper --help lists every flag and its variable
"""


def settings_from(
    argv: Sequence[str] | None, env: Mapping[str, str]
) -> tuple[Settings, str | None]:
    """The run's settings and its kubeconfig (None: in-cluster or ~/.kube/config)."""
    raw = read_raw(sys.argv[1:] if argv is None else argv, env)
    return build(raw), raw.kubeconfig.value


def _refuse(err: ConfigError, argv: Sequence[str], env: Mapping[str, str], out: TextIO) -> int:
    """A start-up refusal: one sweep.config_error line, a short usage hint for a command
    line argparse could not read, exit code 2."""
    token = env.get("GITHUB_TOKEN", "").strip()  # in case it was pasted as an argument too
    log = configure(
        refusal_format(argv, env), secrets=[token] if len(token) > 7 else [], stream=out
    )
    log.error("sweep.config_error", reason=err.reason, source=err.source, detail=str(err))
    if isinstance(err, UsageError):
        sys.stderr.write(USAGE_HINT)
    return EXIT_CONFIG


class Output:
    """stdout for the log lines. A reader that goes away (`| head`, a closed pipe) loses
    the rest of the log but never stops the run: a pass cut between a write and its record
    leaves work half done, while the annotations, Events and metrics it writes are the
    durable account and the log only a copy. So the run goes on to its end and its usual
    exit code; the lines go to /dev/null (Python's documented recipe, which also keeps the
    interpreter's last flush from failing). To stop a run, send SIGTERM or SIGINT."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.gone = False

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._lost()

    def _lost(self) -> None:
        self.gone = True
        discard_stdout()


def discard_stdout() -> None:
    """Points fd 1 at /dev/null, so what is still buffered for a closed pipe goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture stdout)
        pass


def _refusal(err: Exception) -> str:
    """The reason word of a start-up refusal."""
    if isinstance(err, KubeError):
        return "cluster"
    return "github-auth" if isinstance(err, Unauthorized) else "github-unreachable"


def _check(argv: list[str], env: Mapping[str, str]) -> int:
    """`check [--format table|json]` and a sweep's own flags: sweeper.probing asks, writing
    nothing, whether a real run would work."""
    from sweeper.checking import ABOUT, ABOUT_EPILOG

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--format", default="table")
    known, rest = pre.parse_known_args(argv)
    out = cast(TextIO, Output(sys.stdout))
    if {"-h", "--help"} & set(rest):
        usage = parser()
        usage.prog, usage.description, usage.epilog = f"{PROG} check", ABOUT, ABOUT_EPILOG
        usage.usage = None
        usage.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="table: one row per check and a verdict; json: one document (default table)",
        )
        usage.print_help()
        return EXIT_OK
    try:
        if known.format not in ("table", "json"):
            raise UsageError(f"--format {known.format!r} is not table or json", "flag --format")
        raw = read_raw(rest, env)
        settings = build(raw)
    except ConfigError as err:
        return _refuse(err, rest, env, out)
    except Done as done:
        return done.code
    from sweeper.probing import run_check

    return run_check(settings, raw.kubeconfig.value, known.format, env, out)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = sys.argv[1:] if argv is None else list(argv)
    code = EXIT_OK
    try:
        if args[:1] == ["report"]:
            from sweeper.report.cli import main as report  # reads a log; needs no cluster or token

            code = report(args[1:], sys.stdin, sys.stdout)
        elif args[:1] == ["check"]:
            code = _check(args[1:], env)
        else:
            code = sweep(args, env)
        sys.stdout.flush()  # a closed pipe shows here, while it can still be handled
    except BrokenPipeError:  # a report whose reader went away (argparse swallows its own)
        discard_stdout()
    return code


def sweep(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """The sweeper's own command: settings, start-up checks, one pass."""
    out = cast(TextIO, Output(sys.stdout))
    try:
        raw = read_raw(argv, env)
        settings = build(raw)
    except ConfigError as err:
        return _refuse(err, argv, env, out)
    except Done as done:
        return done.code
    # The token, the key's lines, and every JWT and installation token minted later.
    secrets: list[str] = [settings.github_token]
    if settings.app is not None:
        secrets += [line for line in settings.app.private_key.splitlines() if len(line) > 16]
    log = configure(settings.log_format, secrets=secrets, stream=out)
    stop = Stop()
    stop.install()  # PID 1 in a container has no default SIGTERM handler
    # Without an allowlist any repository may get PRs: fine on a laptop, a warning in a pod.
    in_pod = bool(env.get("KUBERNETES_SERVICE_HOST"))
    first_line = log.warning if in_pod and not settings.allow_repos else log.info
    first_line(
        "sweep.started",
        version=__version__,
        settings=settings.public(),
        **(
            {}
            if settings.allow_repos
            else {"warning": "no --allow-repo: any repository may get PRs"}
        ),
    )
    return _run(settings, raw, log, stop, secrets)


def _run(settings: Settings, raw: Raw, log: Log, stop: Stop, secrets: list[str]) -> int:
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
            kube = connect(raw.kubeconfig.value, settings.tunables, stop)
            settings = _usable_namespaces(settings, kube.check(settings.namespaces), log)
            github.check_token()
        except (KubeError, GitHubError) as err:  # RateLimited and Unauthorized among them
            source = _source_of(err, raw)
            log.error("sweep.config_error", reason=_refusal(err), source=source, detail=str(err))
            summary = Summary(config_error=str(err))
            duration_s = round(time.monotonic() - started, 3)
            finish(settings, summary, github, kube, log, metrics, duration_s)
            return EXIT_CONFIG
        return run_sweep(settings, kube, github, log, metrics, stop).exit_code
    finally:
        github.close()


class NoNamespace(Forbidden):
    """Every namespace named may not be read: nothing could be swept."""

    source = "flag --namespace"


def _usable_namespaces(settings: Settings, problems: Mapping[str, KubeError], log: Log) -> Settings:
    """Warns about each named namespace that cannot be swept. One that does not exist
    stays in scope (listing it finds nothing; it may exist by the next run); one the
    sweeper may not read is left out, else the pass would stop at its listing. When none
    is left, the run is refused: an empty scope would mean every namespace."""
    for namespace, err in problems.items():
        missing = not isinstance(err, Forbidden)
        log.warning(
            "sweep.namespace_unusable",
            namespace=namespace,
            reason="namespace-not-found" if missing else "namespace-forbidden",
            detail=f"namespace {namespace} does not exist: no Workload there to sweep"
            if missing
            else f"the sweeper may not list Workloads in namespace {namespace}, so it is "
            f"left out of this run: {err}",
        )
    kept = tuple(ns for ns in settings.namespaces if not isinstance(problems.get(ns), Forbidden))
    if settings.namespaces and not kept:
        raise NoNamespace(f"none of the namespaces named may be read: {', '.join(problems)}")
    return replace(settings, namespaces=kept)


def _source_of(err: Exception, raw: Raw) -> str:
    """Where the refused cluster or GitHub setting came from."""
    if isinstance(err, NoNamespace):
        return raw.namespaces.where
    if isinstance(err, KubeError):
        if raw.kubeconfig.value:
            return raw.kubeconfig.where
        in_pod = os.environ.get("KUBERNETES_SERVICE_HOST")
        return "in-cluster config" if in_pod else "file ~/.kube/config"
    if isinstance(err, Transient):
        return raw.github_api_url.where
    for given in (raw.github_app_id, raw.github_token_file):
        if given.value:
            return given.where
    return raw.github_token.where
