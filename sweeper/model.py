"""Plain data read from Foreman objects, and the strict parsing that produces it.

Everything here is pure. Workloads and AgenticTasks can be shaped by anyone with create
rights on them, so parsing never trusts a field: a value that is missing, of the wrong
type or unsafe to put in a URL raises `InvalidInput` with a precise detail.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sweeper import bounded

GROUP = "foreman.llmkube.dev"
WORKLOAD_LABEL = "foreman.llmkube.dev/workload"
STEP_LABEL = "foreman.llmkube.dev/step"
RECORD_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/pull-requests"
SETTLED_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/settled"
# An operator's opt-out for one Workload: "true" makes the sweeper leave it alone.
SKIP_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/skip"

MAX_ISSUE = 2**31 - 1
# Caps on what one Workload may ask for (the CRD sets no maxItems): a Workload over them is
# invalid-input before its list is built, so no tenant decides how much memory a run takes.
MAX_ISSUES = 1000
MAX_PIPELINE_STEPS = 1000
# The API server caps all of an object's annotations at 256 KiB together.
MAX_RECORDS_BYTES = 256 * 1024
MAX_BRANCH_LEN = 200
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Foreman labels each task with its Workload's name, so that name must be a label value.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# Stricter than git-check-ref-format: Foreman never produces these, and each is a way to
# smuggle a path, a query or a different ref into a GitHub URL.
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\%#\"'<>|{}`]")


class InvalidInput(ValueError):
    """A Foreman object field that cannot be used safely; the message is the detail."""


class Role(StrEnum):
    CODER = "coder"
    VERIFY = "verify"
    REVIEW = "review"
    # Reviewer escalation (`escalate-N-j`): advisory, it never decides anything.
    ADVISORY = "advisory"
    OTHER = "other"


_ROLE_BY_KIND = {"issue-fix": Role.CODER, "verify": Role.VERIFY, "review": Role.REVIEW}


# A record's key: (the repository, lowercased, or "" when the entry does not say; branch).
RecordKey = tuple[str, str]


def record_key(repo: str, branch: str) -> RecordKey:
    return (repo.lower(), branch)


@dataclass(frozen=True)
class Record:
    """One branch's entry in the sweeper's annotation."""

    repo: str
    url: str | None
    number: int | None
    sha: str | None
    outcome: str
    reason: str
    # True: the PR was opened or refreshed as a draft for a review that requested changes.
    draft: bool = False


@dataclass(frozen=True)
class PipelineStep:
    """One step of an explicit `spec.pipeline` that names a branch."""

    name: str
    kind: str
    repo: str
    branch: str
    open_pull_request: bool | None


@dataclass(frozen=True)
class Workload:
    namespace: str
    name: str
    uid: str
    resource_version: str
    phase: str | None
    completed_at: datetime | None
    open_pull_request: bool | None
    records: Mapping[RecordKey, Record]
    settled: str | None
    fingerprint: str
    # What the Workload asked for: issue-batch mode's spec.repo and spec.issues, or the
    # steps of an explicit spec.pipeline that name a branch (None in issue-batch mode).
    repo: str | None = None
    issues: frozenset[int] = frozenset()
    pipeline: tuple[PipelineStep, ...] | None = None
    # spec.reviewerAgentRefs: how many reviewers each round asks for (0: none, a
    # reviewer-less Workload; None: not said).
    reviewers_asked: int | None = None
    # spec.verifierAgentRef names an Agent: each round has a verify gate (issue-batch mode).
    verifier_asked: bool = False
    # The operator's opt-out annotation: None, or who set it (from managedFields).
    skipped_by: str | None = None
    # Foreman's CloudReviewersSuppressed condition: some reviewers were left out on purpose.
    reviewers_suppressed: bool = False

    @property
    def pipeline_branches(self) -> frozenset[tuple[str, str]] | None:
        """(repo, branch) of every step of an explicit pipeline."""
        if self.pipeline is None:
            return None
        return frozenset((step.repo, step.branch) for step in self.pipeline)

    @property
    def pipeline_pr_branches(self) -> frozenset[tuple[str, str]] | None:
        """(repo, branch) of the pipeline's review steps that ask for a PR."""
        if self.pipeline is None:
            return None
        return frozenset(
            (step.repo, step.branch)
            for step in self.pipeline
            if step.kind == "review" and step.open_pull_request
        )

    def pipeline_reviews(self, repo: str, branch: str) -> frozenset[str]:
        """The names of the pipeline's review steps for this branch."""
        return frozenset(
            step.name
            for step in self.pipeline or ()
            if step.kind == "review" and step.repo.lower() == repo.lower() and step.branch == branch
        )

    def record_for(self, repo: str, branch: str) -> Record | None:
        """This branch's entry, also when an older or hand-written one names no repo."""
        return self.records.get(record_key(repo, branch)) or self.records.get(("", branch))


@dataclass(frozen=True)
class Agent:
    """A Foreman Agent, as far as the PR it opens is concerned."""

    name: str
    # spec.openPullRequestsAsDraft (Foreman after 907ac8d8): True opens drafts, False
    # ready PRs; None: not said (the field is absent in older releases).
    draft: bool | None


@dataclass(frozen=True)
class Finding:
    severity: str
    area: str
    message: str
    file: str | None
    line: int | None
    suggestion: str | None


@dataclass(frozen=True)
class Task:
    name: str
    step: str
    role: Role
    round: int
    repo: str
    branch: str
    issue: int | None
    base_branch: str | None
    open_pull_request: bool | None
    phase: str | None
    verdict: str | None
    commit_sha: str | None
    finished_at: datetime | None
    transcript_ref: str | None
    summary: str
    pr_body: str | None
    outcome: str | None
    pull_request_url: str | None
    pull_request_error: str | None
    findings: tuple[Finding, ...]
    # spec.agentRef.name: the Agent that ran the step.
    agent: str | None = None


# ---------------------------------------------------------------- field readers


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else an empty one: for optional object fields."""
    return value if isinstance(value, Mapping) else {}


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _opt_str(value: Any, what: str, max_len: int = 1024) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(f"{what} is {len(value)} characters, more than {max_len}")
    return value


def _req_str(value: Any, what: str, max_len: int = 1024) -> str:
    text = _opt_str(value, what, max_len)
    if not text:
        raise InvalidInput(f"{what} is missing")
    return text


def _opt_bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{what} must be a boolean, got {type(value).__name__}")


def parse_repo(value: Any, what: str = "repo") -> str:
    slug = _req_str(value, what, 200)
    owner, sep, name = slug.partition("/")
    if not sep or not _OWNER.match(owner) or not _REPO_NAME.match(name) or name in {".", ".."}:
        raise InvalidInput(f"{what} {slug!r} is not an OWNER/NAME repository")
    return slug


def parse_branch(value: Any, what: str = "branch") -> str:
    branch = _req_str(value, what, 4096)
    problem = branch_problem(branch)
    if problem:
        raise InvalidInput(f"{what} {branch[:80]!r} is not a safe git branch name: {problem}")
    return branch


def branch_problem(branch: str) -> str | None:
    if len(branch) > MAX_BRANCH_LEN:
        return f"longer than {MAX_BRANCH_LEN} characters"
    if _BRANCH_FORBIDDEN.search(branch):
        return "contains a space, control or special character"
    if branch.startswith(("/", "-")) or branch.endswith(("/", ".")) or branch == "@":
        return "bad start or end"
    if ".." in branch or "//" in branch or "@{" in branch:
        return "contains '..', '//' or '@{'"
    if any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        return "a component starts with '.' or ends with '.lock'"
    return None


def parse_issue(value: Any, what: str = "issue") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_ISSUE:
        raise InvalidInput(f"{what} {value} is out of range")
    return value


def parse_sha(value: Any, what: str = "commitSHA") -> str | None:
    text = _opt_str(value, what, 64)
    if not text:
        return None
    if not _SHA.match(text):
        raise InvalidInput(f"{what} {text!r} is not a full lowercase hex commit id")
    return text


def parse_time(value: Any, what: str) -> datetime | None:
    text = _opt_str(value, what, 64)
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not an RFC 3339 time") from None
    if stamp.tzinfo is None:
        raise InvalidInput(f"{what} {text!r} has no time zone")
    return stamp


# ---------------------------------------------------------------- workloads


def fingerprint(obj: Mapping[str, Any]) -> str:
    """Changes whenever Foreman changes what the sweeper decides from: spec or status."""
    basis = {"generation": _get(obj, "metadata", "generation"), "status": obj.get("status")}
    blob = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_workload(obj: Any) -> Workload:
    if not isinstance(obj, Mapping):
        raise InvalidInput("object is not a mapping")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise InvalidInput("metadata is missing")
    spec = as_mapping(obj.get("spec"))
    status = as_mapping(obj.get("status"))
    annotations = as_mapping(meta.get("annotations"))
    name = _req_str(meta.get("name"), "metadata.name", 253)
    if not _LABEL_VALUE.match(name):
        raise InvalidInput(
            f"metadata.name {name[:80]!r} is not a label value (at most 63 characters), "
            "so no task can carry it"
        )
    return Workload(
        namespace=_req_str(meta.get("namespace"), "metadata.namespace", 253),
        name=name,
        uid=_opt_str(meta.get("uid"), "metadata.uid") or "",
        resource_version=_opt_str(meta.get("resourceVersion"), "metadata.resourceVersion") or "",
        phase=_opt_str(status.get("phase"), "status.phase", 64),
        completed_at=_completed_at(status),
        open_pull_request=_opt_bool(spec.get("openPullRequest"), "spec.openPullRequest"),
        records=parse_records(annotations.get(RECORD_ANNOTATION)),
        settled=_settled_mark(annotations.get(SETTLED_ANNOTATION)),
        fingerprint=fingerprint(obj),
        repo=None if spec.get("repo") is None else parse_repo(spec.get("repo"), "spec.repo"),
        issues=_issues(spec.get("issues")),
        pipeline=parse_pipeline(spec.get("pipeline")),
        reviewers_asked=_count(spec.get("reviewerAgentRefs"), "spec.reviewerAgentRefs"),
        verifier_asked=bool(
            _opt_str(_get(spec, "verifierAgentRef", "name"), "spec.verifierAgentRef.name", 253)
        ),
        reviewers_suppressed=_condition(status, "CloudReviewersSuppressed") == "True",
        skipped_by=_skipped_by(meta, annotations.get(SKIP_ANNOTATION)),
    )


def _count(raw: Any, what: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidInput(f"{what} must be a list")
    return len(raw)


def _skipped_by(meta: Mapping[str, Any], value: Any) -> str | None:
    """Who set the opt-out annotation (the field manager that owns it), if it is set."""
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else value
    if text in ("false", ""):
        return None
    if text != "true":
        shown = repr(value)[:40]
        raise InvalidInput(f'annotation {SKIP_ANNOTATION} must be "true" or "false", got {shown}')
    managers = meta.get("managedFields")
    for entry in managers if isinstance(managers, list) else []:
        fields = _get(entry, "fieldsV1", "f:metadata", "f:annotations")
        if isinstance(fields, Mapping) and f"f:{SKIP_ANNOTATION}" in fields:
            manager = _opt_str(entry.get("manager"), "managedFields manager", 128) or "unknown"
            when = entry.get("time")
            return f"{manager} at {when}" if isinstance(when, str) else manager
    return "someone (no managedFields entry names it)"


def _issues(raw: Any) -> frozenset[int]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise InvalidInput("spec.issues must be a list")
    if len(raw) > MAX_ISSUES:
        raise InvalidInput(f"spec.issues lists {len(raw):,} issues, more than {MAX_ISSUES:,}")
    return frozenset(parse_issue(n, f"spec.issues[{i}]") for i, n in enumerate(raw))


def _settled_mark(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _condition(status: Mapping[str, Any], kind: str) -> str | None:
    """The status ("True", "False", "Unknown") of the condition of this type, if any."""
    conditions = status.get("conditions")
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            value = cond.get("status")
            return value if isinstance(value, str) else None
    return None


def _completed_at(status: Mapping[str, Any]) -> datetime | None:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for cond in conditions:
        if isinstance(cond, Mapping) and cond.get("type") == "Completed":
            return parse_time(cond.get("lastTransitionTime"), "Completed condition time")
    return None


def parse_pipeline(raw: Any) -> tuple[PipelineStep, ...] | None:
    """The steps of an explicit `spec.pipeline` that name a branch (None: issue-batch mode)."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise InvalidInput("spec.pipeline must be a list")
    if len(raw) > MAX_PIPELINE_STEPS:
        raise InvalidInput(
            f"spec.pipeline has {len(raw):,} steps, more than {MAX_PIPELINE_STEPS:,}"
        )
    steps = []
    for i, step in enumerate(raw):
        payload = _get(step, "payload")
        if not isinstance(payload, Mapping) or payload.get("branch") is None:
            continue  # a step that names no branch is no branch's step
        where = f"spec.pipeline[{i}]"
        steps.append(
            PipelineStep(
                name=_opt_str(_get(step, "name"), f"{where}.name", 253) or "",
                kind=_opt_str(_get(step, "kind"), f"{where}.kind", 64) or "",
                repo=parse_repo(payload.get("repo"), f"{where}.payload.repo"),
                branch=parse_branch(payload.get("branch"), f"{where}.payload.branch"),
                open_pull_request=_opt_bool(
                    payload.get("openPullRequest"), f"{where}.openPullRequest"
                ),
            )
        )
    return tuple(steps)


def parse_records(raw: Any) -> dict[RecordKey, Record]:
    """The annotation as written by an earlier run; anything not JSON counts as absent.

    Keys are a branch name, or `OWNER/REPO:branch` where one annotation holds the same
    branch name for several repositories (an explicit pipeline over several repos). JSON
    no sweeper wrote (over the annotation limit, nested deeper than `bounded.MAX_DEPTH`)
    is InvalidInput: decoding it would cost memory or a RecursionError.
    """
    if not isinstance(raw, str):
        return {}
    try:
        data = bounded.loads(raw, MAX_RECORDS_BYTES)
    except bounded.NotJson:
        return {}
    except bounded.Refused as err:
        raise InvalidInput(f"annotation {RECORD_ANNOTATION} is {err}") from None
    if not isinstance(data, dict):
        return {}
    records = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(key, str):
            continue
        key_repo, sep, branch = key.rpartition(":")  # git branch names hold no ':'
        number = entry.get("number")
        url = entry["url"] if isinstance(entry.get("url"), str) else None
        repo, url_number = pull_url_parts(url)
        if sep and key_repo:
            repo = key_repo
        if isinstance(entry.get("repo"), str) and entry["repo"]:
            repo = entry["repo"]
        if not isinstance(number, int) or isinstance(number, bool):
            number = url_number
        records[record_key(repo, branch)] = Record(
            repo=repo,
            url=url,
            number=number,
            sha=entry["sha"] if isinstance(entry.get("sha"), str) else None,
            outcome=str(entry.get("outcome") or ""),
            reason=str(entry.get("reason") or ""),
            draft=entry.get("draft") is True,
        )
    return records


# A PR's page on github.com or a GitHub Enterprise host: https://HOST/OWNER/REPO/pull/N
_PULL_PAGE = re.compile(
    r"^https://[^\s/]+/(?P<repo>[^\s/]+/[^\s/]+)/pull/(?P<number>[0-9]{1,9})/?$"
)


def pull_url_parts(url: str | None) -> tuple[str, int | None]:
    """The repository and number a PR URL names (a record written by hand may only have it)."""
    match = _PULL_PAGE.match(url or "")
    if match is None:
        return "", None
    try:
        return parse_repo(match["repo"]), int(match["number"])
    except InvalidInput:
        return "", None


def render_records(records: Mapping[RecordKey, Record]) -> str:
    """Keyed by branch name, or by `OWNER/REPO:branch` where a branch name is not unique."""
    names = Counter(branch for _, branch in records)
    data = {
        (branch if names[branch] == 1 else f"{r.repo}:{branch}"): _record_json(r)
        for (_, branch), r in records.items()
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _record_json(r: Record) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "repo": r.repo,
        "url": r.url,
        "number": r.number,
        "sha": r.sha,
        "outcome": r.outcome,
        "reason": r.reason,
    }
    if r.draft:  # only then: entries of earlier versions stay byte-identical
        entry["draft"] = True
    return entry


# ---------------------------------------------------------------- tasks

_STEP = re.compile(r"^(?P<base>.*?)(?:-r(?P<round>[0-9]{1,4}))?$")


def step_round(step: str) -> int:
    """Fix iteration K of a step named `...-rK`; the first round is 0."""
    match = _STEP.match(step)
    return int(match["round"]) if match and match["round"] else 0


def parse_task(obj: Any) -> Task:
    if not isinstance(obj, Mapping):
        raise InvalidInput("task is not a mapping")
    meta = as_mapping(obj.get("metadata"))
    name = _req_str(meta.get("name"), "task metadata.name", 253)
    labels = as_mapping(meta.get("labels"))
    step = _opt_str(labels.get(STEP_LABEL), f"{name}: step label", 253) or name
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"{name}: spec is missing")
    payload = spec.get("payload")
    if not isinstance(payload, Mapping):
        raise InvalidInput(f"{name}: spec.payload is missing")
    status = obj.get("status") if obj.get("status") is not None else {}
    if not isinstance(status, Mapping):
        raise InvalidInput(f"{name}: status is not an object")
    result = status.get("result") if status.get("result") is not None else {}
    if not isinstance(result, Mapping):
        raise InvalidInput(f"{name}: status.result is not an object")
    extra = _merged_extra(result, name)
    # Foreman's executor writes these at the top level of `extra`; `modelExtra` is the
    # agent's own text, and a URL planted there must not count as a PR Foreman opened.
    own = as_mapping(result.get("extra"))
    issue = payload.get("issue")
    return Task(
        name=name,
        step=step,
        role=_role(str(spec.get("kind")), step),
        round=step_round(step),
        repo=parse_repo(payload.get("repo"), f"{name}: payload.repo"),
        branch=parse_branch(payload.get("branch"), f"{name}: payload.branch"),
        issue=None if issue is None else parse_issue(issue, f"{name}: payload.issue"),
        base_branch=_opt_base(payload.get("baseBranch"), name),
        open_pull_request=_opt_bool(payload.get("openPullRequest"), f"{name}: openPullRequest"),
        phase=_opt_str(status.get("phase"), f"{name}: status.phase", 64),
        verdict=_opt_str(status.get("verdict"), f"{name}: status.verdict", 64),
        commit_sha=parse_sha(status.get("commitSHA"), f"{name}: status.commitSHA"),
        finished_at=parse_time(status.get("finishedAt"), f"{name}: status.finishedAt"),
        transcript_ref=_opt_str(
            status.get("transcriptRef") or extra.get("transcriptRef"), f"{name}: transcriptRef"
        ),
        summary=_opt_str(result.get("summary"), f"{name}: result.summary", 1_000_000) or "",
        pr_body=_opt_str(extra.get("prBody"), f"{name}: extra.prBody", 1_000_000),
        outcome=_opt_str(extra.get("outcome"), f"{name}: extra.outcome", 64),
        pull_request_url=_opt_str(own.get("pullRequestURL"), f"{name}: pullRequestURL"),
        pull_request_error=_opt_str(
            own.get("pullRequestError"), f"{name}: pullRequestError", 100_000
        ),
        findings=_findings(extra.get("findings"), name),
        agent=_opt_str(_get(spec, "agentRef", "name"), f"{name}: spec.agentRef.name", 253),
    )


_ADVISORY_STEP = re.compile(r"^escalate-[0-9]+-[0-9]+$")


def _role(kind: str, step: str) -> Role:
    if kind == "review" and _ADVISORY_STEP.match(step):
        return Role.ADVISORY
    return _ROLE_BY_KIND.get(kind, Role.OTHER)


def parse_agent(obj: Any) -> Agent:
    """An Agent object; only the field the sweeper reads is checked."""
    if not isinstance(obj, Mapping):
        raise InvalidInput("agent is not a mapping")
    name = _req_str(_get(obj, "metadata", "name"), "agent metadata.name", 253)
    draft = _opt_bool(
        _get(obj, "spec", "openPullRequestsAsDraft"), f"{name}: spec.openPullRequestsAsDraft"
    )
    return Agent(name, draft)


def controller_uid(obj: Any) -> str | None:
    """The uid of the object's controller ownerReference to a Foreman Workload, if any.

    Foreman sets one on every task it creates (controllerutil.SetControllerReference);
    a label can be put on anything by anyone, an ownerReference names one object.
    """
    refs = _get(obj, "metadata", "ownerReferences")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if not isinstance(ref, Mapping) or ref.get("controller") is not True:
            continue
        api, kind, uid = ref.get("apiVersion"), ref.get("kind"), ref.get("uid")
        if kind == "Workload" and isinstance(api, str) and api.startswith(f"{GROUP}/"):
            return uid if isinstance(uid, str) and uid else None
    return None


def _opt_base(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    return parse_branch(value, f"{name}: payload.baseBranch")


def _merged_extra(result: Mapping[str, Any], name: str) -> dict[str, Any]:
    """`extra`, with fields that some agents nest under `extra.modelExtra` lifted up."""
    extra = result.get("extra") if result.get("extra") is not None else {}
    if not isinstance(extra, Mapping):
        raise InvalidInput(f"{name}: result.extra is not an object")
    nested = extra.get("modelExtra") if extra.get("modelExtra") is not None else {}
    if not isinstance(nested, Mapping):
        raise InvalidInput(f"{name}: result.extra.modelExtra is not an object")
    merged = dict(nested)
    merged.update({k: v for k, v in extra.items() if k != "modelExtra" and v is not None})
    return merged


def _findings(raw: Any, name: str) -> tuple[Finding, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput(f"{name}: findings is not a list")
    found = []
    for i, item in enumerate(raw[:200]):
        what = f"{name}: findings[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{what} is not an object")
        line = item.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise InvalidInput(f"{what}.line is not an integer")
        found.append(
            Finding(
                severity=_opt_str(item.get("severity"), f"{what}.severity", 32) or "minor",
                area=_opt_str(item.get("area"), f"{what}.area", 200) or "",
                message=_opt_str(item.get("message"), f"{what}.message", 20_000) or "",
                file=_opt_str(item.get("file"), f"{what}.file", 500),
                line=line,
                suggestion=_opt_str(item.get("suggestion"), f"{what}.suggestion", 20_000),
            )
        )
    return tuple(found)
