"""`check`, judged: what the probes found, turned into one row per check (pure).

`sweeper/probing.py` asks the cluster, GitHub and the Pushgateway read-only questions and
hands the answers here as plain data (`Facts`); nothing here does I/O. A row is `ok`,
`warn` (a run works, with something degraded or unverifiable, and the detail says what)
or `fail` (a real run would not work, and the detail names exactly what is missing). The
exit code is 0 unless a row failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sweeper.lock import held_by_other
from sweeper.model import GROUP
from sweeper.permissions import PERMISSIONS
from sweeper.settings import Settings

if TYPE_CHECKING:  # plain data the probes return; no I/O comes with the names
    from sweeper.github.probe import InstallationProbe, TokenProbe

ABOUT = """\
Check, writing nothing, whether a sweep with these settings would work; answers in seconds.

Takes a sweep's own flags and variables (credential, cluster, namespaces, allowlist, Lease,
Pushgateway) and prints one row per check:

  allowlist       the repositories PRs may go to (warn: none set, inside a pod)
  github          the token (a classic token's scopes; a fine-grained token shows none, so
                  its permissions are named, not verified), or that GitHub takes the App's key
  quota           a token's REST and GraphQL buckets, against --rate-reserve
  installation O  as an App: its installation on each allowed owner O, with Contents read,
                  Pull requests write, Metadata read
  cluster         the cluster answers and serves Foreman's workloads, agentictasks, agents
  rbac R          RBAC grants what the sweep does to R, asked with SelfSubjectAccessReviews
                  in each --namespace (else cluster-wide)
  namespaces      each --namespace exists
  lease           the run lock: its namespace, and get, update, create on its Lease
  pushgateway     --pushgateway-url answers GET /-/ready (nothing is pushed)

ok: fine. warn: a run works, and the detail says what is degraded or unverified. fail: a
real run would not work, and the detail names what is missing, e.g. "cannot patch
workloads.foreman.llmkube.dev in namespace team-a".
"""
ABOUT_EPILOG = """\
exit codes:
  0  every row is ok or warn: a real run would work
  1  a row failed: fix what it names, then check again
  2  a setting was refused before anything was asked (one sweep.config_error line)
"""

OK, WARN, FAIL = "ok", "warn", "fail"
EXIT_OK, EXIT_FAILED = 0, 1
NEEDED_PERMISSIONS = "Contents: read, Pull requests: read and write, Metadata: read"

# What a run does without a permission it can do without; every other one it needs.
WITHOUT: Mapping[tuple[str, str], str] = {
    (GROUP, "agents"): "draft or ready follows the sweeper's own default",
    ("", "events"): "no Event records a PR (the Workload's annotation still does)",
    ("", "namespaces"): "a --namespace that does not exist reads as an empty one",
}


@dataclass(frozen=True)
class Row:
    check: str
    status: str  # ok | warn | fail
    detail: str


@dataclass(frozen=True)
class Access:
    """One question for RBAC (a SelfSubjectAccessReview) and, once asked, its answer."""

    verb: str
    group: str
    resource: str
    namespace: str | None = None  # None: in every namespace (cluster-wide)
    name: str | None = None  # None: any object
    allowed: bool | None = None  # None: not answered
    error: str = ""  # why not


@dataclass(frozen=True)
class ClusterFacts:
    server: str = ""
    error: str = ""  # the cluster could not be reached or asked at all
    group_version: str = f"{GROUP}/v1alpha1"
    served: frozenset[str] | None = None  # Foreman's resources; None: no such group version
    access: tuple[Access, ...] = ()
    namespaces: tuple[tuple[str, bool | None], ...] = ()  # --namespace: exists (None: unknown)
    lock_namespace: bool | None = None  # the Lease's namespace exists (None: unknown)
    lease: Mapping[str, Any] | None = None
    lease_error: str = ""


@dataclass(frozen=True)
class GitHubFacts:
    error: str = ""  # the credential could not be probed at all
    refused: bool = False  # GitHub answered 401
    token: TokenProbe | None = None
    installations: tuple[InstallationProbe, ...] = ()


@dataclass(frozen=True)
class Facts:
    settings: Settings
    in_pod: bool  # KUBERNETES_SERVICE_HOST is set
    now: datetime
    cluster: ClusterFacts = field(default_factory=ClusterFacts)
    github: GitHubFacts = field(default_factory=GitHubFacts)
    pushgateway: str | None = None  # why the gateway is not ready; None: ready, or not set


def questions(settings: Settings) -> tuple[Access, ...]:
    """Every permission of sweeper.permissions, asked where the sweep would use it: in
    each --namespace (else cluster-wide), and the Lease's in its namespace, by name."""
    asked: list[Access] = []
    for p in PERMISSIONS:
        if p.lock_namespace_only:
            if settings.use_lock:
                name = p.resource_names[0] if p.resource_names else None
                asked += [
                    Access(verb, p.api_group, p.resource, settings.lock_namespace, name)
                    for verb in sorted(p.verbs)
                ]
            continue
        for namespace in settings.namespaces or (None,):
            asked += [Access(v, p.api_group, p.resource, namespace) for v in sorted(p.verbs)]
    return tuple(asked)


def evaluate(facts: Facts) -> list[Row]:
    """One row per check, in the order an operator fixes them."""
    return [
        allowlist(facts.settings, facts.in_pod),
        *credential(facts.settings, facts.github),
        *cluster(facts),
        pushgateway(facts.settings.pushgateway_url, facts.pushgateway),
    ]


def exit_code(rows: Iterable[Row]) -> int:
    return EXIT_FAILED if any(r.status == FAIL for r in rows) else EXIT_OK


# ---------------------------------------------------------------- the allowlist


def allowlist(settings: Settings, in_pod: bool) -> Row:
    if settings.allow_repos:
        return Row("allowlist", OK, ", ".join(settings.allow_repos))
    if in_pod:
        return Row(
            "allowlist",
            WARN,
            "not set, in a pod: any repository may get PRs; set SWEEPER_ALLOW_REPOS "
            "(OWNER/NAME or OWNER/*, comma-separated)",
        )
    return Row("allowlist", OK, "not set: any repository may get PRs (--allow-repo)")


# ---------------------------------------------------------------- GitHub


def credential(settings: Settings, github: GitHubFacts) -> list[Row]:
    app = settings.app
    who = "the token" if app is None else f"the GitHub App {app.app_id}'s key"
    if github.error:
        if github.refused:
            return [Row("github", FAIL, f"GitHub refused {who}: {github.error}")]
        return [
            Row("github", FAIL, f"cannot ask GitHub at {settings.github_api_url}: {github.error}")
        ]
    if app is None:
        if github.token is None:
            return [Row("github", FAIL, "the token was not probed")]
        return [scopes(github.token.scopes), quota(github.token, settings)]
    rows = [Row("github", OK, f"GitHub App {app.app_id}: GitHub accepts its key")]
    if not settings.allow_repos:
        rows.append(
            Row(
                "installations",
                WARN,
                "no allowlist: which owners need the App is not known; every owner a run "
                f"meets needs it installed with {NEEDED_PERMISSIONS}",
            )
        )
    by_owner: dict[str, list[InstallationProbe]] = {}
    for probe in github.installations:
        by_owner.setdefault(probe.owner, []).append(probe)
    rows += [installation(owner, found, settings) for owner, found in by_owner.items()]
    return rows


def scopes(granted: Sequence[str] | None) -> Row:
    """A classic token's scopes; a fine-grained token shows none, and is not failed."""
    if granted is None:
        return Row(
            "github",
            OK,
            "token accepted; GitHub lists no scopes for it (fine-grained), so its repository "
            f"permissions cannot be verified here: it needs {NEEDED_PERMISSIONS} on the "
            "allowed repositories",
        )
    listed = ", ".join(granted) or "none"
    if "repo" in granted:
        return Row("github", OK, f"classic token; scopes: {listed}")
    if "public_repo" in granted:
        return Row(
            "github",
            WARN,
            f"classic token without the repo scope (scopes: {listed}): PRs on private "
            "repositories fail; add repo",
        )
    return Row(
        "github",
        FAIL,
        f"classic token without the repo scope (scopes: {listed}): it cannot open pull "
        "requests; add repo",
    )


def quota(probe: TokenProbe, settings: Settings) -> Row:
    """What is left of the REST and GraphQL buckets, against the reserve."""
    shown, low = [], []
    for name in ("core", "graphql"):
        rate = probe.rate(name)
        if rate is None:
            continue
        shown.append(f"{name} {rate.remaining} of {rate.limit} left")
        reserve = settings.rate_reserve.of(rate.limit)
        if rate.remaining <= reserve:
            low.append(
                f"{name} has {rate.remaining} of {rate.limit} left, within the reserve of "
                f"{reserve} ({settings.rate_reserve}): GitHub work waits for its reset at "
                f"{rate.resets_at or 'an unknown time'}"
            )
    if low:
        return Row("quota", WARN, "; ".join(low))
    if not shown:
        return Row("quota", WARN, "GitHub's /rate_limit named no core or graphql bucket")
    return Row("quota", OK, f"{', '.join(shown)} (reserve {settings.rate_reserve})")


def installation(owner: str, found: Sequence[InstallationProbe], settings: Settings) -> Row:
    """The App's installation on one allowed owner, as each allowlist entry saw it."""
    check = f"installation {owner}"
    missing = [p for p in found if not p.installed]
    if missing:
        where = ", ".join(p.repo for p in missing)
        return Row(
            check,
            FAIL,
            f"the App is not installed on {owner} (or cannot see {where}): install it "
            f"there with {NEEDED_PERMISSIONS}",
        )
    ids = sorted({p.installation_id for p in found if p.installation_id is not None})
    name = "installation " + ", ".join(str(i) for i in ids)
    lacking = sorted({m for p in found for m in p.missing})
    if lacking:
        return Row(check, FAIL, f"{name} on {owner} lacks {', '.join(lacking)}")
    pinned = settings.app.installation_id if settings.app else None
    if pinned is not None and ids != [pinned]:
        return Row(
            check,
            FAIL,
            f"--github-app-installation-id {pinned} is not the App's {name} on {owner}: "
            "its token cannot see these repositories",
        )
    granted = found[0].permissions
    optional = []
    if settings.labels and granted.get("issues") not in ("write", "admin"):
        optional.append("issues: write (--label fails, as a warning)")
    if settings.team_reviewers and granted.get("members") not in ("read", "write", "admin"):
        optional.append("members: read (--team-reviewer may fail, as a warning)")
    if optional:
        return Row(check, WARN, f"{name} on {owner} lacks {'; '.join(optional)}")
    repos = ", ".join(p.repo for p in found)
    return Row(check, OK, f"{name}: contents, pull_requests and metadata granted ({repos})")


# ---------------------------------------------------------------- the cluster


def cluster(facts: Facts) -> list[Row]:
    c = facts.cluster
    at = f" at {c.server}" if c.server else ""
    if c.error:
        return [Row("cluster", FAIL, f"cannot ask the cluster{at}: {c.error}")]
    rows = [crds(c, at)]
    rows += [rbac(key, [a for a in c.access if (a.group, a.resource) == key]) for key in _swept()]
    if facts.settings.namespaces:
        rows.append(namespaces(c.namespaces))
    rows.append(lease(facts))
    return rows


def _swept() -> list[tuple[str, str]]:
    """(group, resource) of every permission but the Lease's, in the table's order."""
    keys = [(p.api_group, p.resource) for p in PERMISSIONS if not p.lock_namespace_only]
    return list(dict.fromkeys(keys))


def crds(c: ClusterFacts, at: str) -> Row:
    wanted = [r for g, r in _swept() if g == GROUP]
    if c.served is None:
        return Row(
            "cluster",
            FAIL,
            f"the cluster{at} does not serve {c.group_version}: install Foreman's CRDs",
        )
    absent = [r for r in wanted if r not in c.served]
    needed = [r for r in absent if (GROUP, r) not in WITHOUT]
    if needed:
        return Row("cluster", FAIL, f"{c.group_version} does not serve {', '.join(needed)}{at}")
    if absent:
        without = "; ".join(WITHOUT[(GROUP, r)] for r in absent)
        return Row(
            "cluster",
            WARN,
            f"{c.group_version} does not serve {', '.join(absent)}{at}: {without}",
        )
    return Row("cluster", OK, f"{c.group_version} serves {', '.join(wanted)}{at}")


def spelled(group: str, resource: str) -> str:
    """A resource as kubectl spells it: `workloads.foreman.llmkube.dev`, `events`."""
    return f"{resource}.{group}" if group else resource


def _scope(namespaces: Sequence[str | None]) -> str:
    if list(namespaces) == [None]:
        return "cluster-wide"
    names = [n for n in namespaces if n]
    return f"in namespace{'s' if len(names) > 1 else ''} {', '.join(names)}"


def denied(answers: Sequence[Access]) -> list[str]:
    """`cannot VERBS RESOURCE [NAME] SCOPE` for every refusal, verbs sharing a scope merged."""
    by_target: dict[tuple[str, str, str | None], dict[str, list[str | None]]] = {}
    for a in answers:
        if a.allowed is False:
            target = by_target.setdefault((a.group, a.resource, a.name), {})
            target.setdefault(a.verb, []).append(a.namespace)
    phrases = []
    for (group, resource, name), verbs in by_target.items():
        by_scope: dict[tuple[str | None, ...], list[str]] = {}
        for verb, scopes_ in verbs.items():
            by_scope.setdefault(tuple(scopes_), []).append(verb)
        for where, verbs_ in by_scope.items():
            what = spelled(group, resource) + (f" {name}" if name else "")
            phrases.append(f"cannot {', '.join(verbs_)} {what} {_scope(where)}")
    return phrases


def rbac(key: tuple[str, str], answers: Sequence[Access]) -> Row:
    check = f"rbac {key[1]}"
    refused = denied(answers)
    without = WITHOUT.get(key)
    if refused:
        if without:
            return Row(check, WARN, f"{'; '.join(refused)}: {without}")
        return Row(check, FAIL, "; ".join(refused))
    unanswered = [a for a in answers if a.allowed is None]
    if unanswered:  # a run is not known to work
        return Row(check, WARN if without else FAIL, f"not verified: {unanswered[0].error}")
    verbs = ", ".join(dict.fromkeys(a.verb for a in answers))
    return Row(check, OK, f"{verbs} {_scope(list(dict.fromkeys(a.namespace for a in answers)))}")


def namespaces(found: Sequence[tuple[str, bool | None]]) -> Row:
    absent = [name for name, exists in found if exists is False]
    if absent:
        return Row(
            "namespaces",
            WARN,
            f"{', '.join(absent)}: no such namespace{'s' if len(absent) > 1 else ''}, "
            "nothing is swept there",
        )
    names = ", ".join(name for name, _ in found)
    if any(exists is None for _, exists in found):
        return Row(
            "namespaces", OK, f"{names} (whether they exist was not read: no get, or no time)"
        )
    return Row("namespaces", OK, f"{names}: exist")


def lease(facts: Facts) -> Row:
    s, c = facts.settings, facts.cluster
    if not s.use_lock:
        return Row("lease", OK, "not taken (--no-lock)")
    where = f"{s.lock_namespace}/{s.lock_name}"
    if c.lock_namespace is False:
        return Row("lease", FAIL, f"namespace {s.lock_namespace} does not exist: no run lock")
    answers = [a for a in c.access if a.resource == "leases"]
    refused = denied(answers)
    if refused:
        return Row("lease", FAIL, "; ".join(refused))
    unanswered = [a for a in answers if a.allowed is None]
    if unanswered:
        return Row("lease", FAIL, f"{where}: not verified: {unanswered[0].error}")
    if c.lease_error:
        return Row(
            "lease", WARN, f"{where}: access granted, but reading it failed: {c.lease_error}"
        )
    granted = ", ".join(dict.fromkeys(a.verb for a in answers))
    if c.lease is None:
        return Row("lease", OK, f"{where}: {granted} granted; no Lease yet (a run creates it)")
    holder = held_by_other(c.lease, "", facts.now)
    if holder:
        return Row(
            "lease",
            OK,
            f"{where}: {granted} granted; held by {holder} now (a run started meanwhile "
            "finds it held and exits 0)",
        )
    return Row("lease", OK, f"{where}: {granted} granted; free")


# ---------------------------------------------------------------- the Pushgateway


def pushgateway(url: str | None, problem: str | None) -> Row:
    if url is None:
        return Row("pushgateway", OK, "not set: no metrics are pushed (--pushgateway-url)")
    if problem is not None:
        return Row(
            "pushgateway",
            FAIL,
            f"{url} is not ready: {problem}; no run's metrics would reach Prometheus",
        )
    return Row("pushgateway", OK, f"{url} is ready")


# ---------------------------------------------------------------- output


def verdict(rows: Sequence[Row]) -> str:
    failed = sum(r.status == FAIL for r in rows)
    warned = sum(r.status == WARN for r in rows)
    counts = [f"{failed} failed"] if failed else []
    counts += [f"{warned} warning{'s' if warned != 1 else ''}"] if warned else []
    said = ", ".join(counts) or "all ok"
    if failed:
        return f"{said}: a real run would not work (exit {EXIT_FAILED})"
    return f"{said}: a real run would work (exit {EXIT_OK})"


def table(rows: Sequence[Row]) -> str:
    header = Row("CHECK", "STATUS", "DETAIL")
    width = max(len(r.check) for r in (header, *rows))
    lines = [f"{r.check:<{width}}  {r.status:<6}  {r.detail}".rstrip() for r in (header, *rows)]
    return "\n".join([*lines, "", verdict(rows)]) + "\n"


def document(rows: Sequence[Row]) -> str:
    code = exit_code(rows)
    body = {
        "ok": code == EXIT_OK,
        "exit_code": code,
        "verdict": verdict(rows),
        "checks": [asdict(r) for r in rows],
    }
    return json.dumps(body, indent=2) + "\n"
