"""Foreman Workloads and Agents as plain data, and the strict parsing that produces them.

Everything here is pure. Workloads and AgenticTasks can be shaped by anyone with create
rights on them, so parsing never trusts a field: a value that is missing, of the wrong
type or unsafe to put in a URL raises `InvalidInput` with a precise detail.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sweeper.fields import (
    InvalidInput,
    as_mapping,
    dig,
    opt_bool,
    opt_str,
    parse_branch,
    parse_issue,
    parse_repo,
    parse_time,
    req_str,
    require_mapping,
)
from sweeper.records import RECORD_ANNOTATION, Record, RecordKey, parse_records, record_key

GROUP = "foreman.llmkube.dev"
WORKLOAD_LABEL = "foreman.llmkube.dev/workload"
SETTLED_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/settled"
# An operator's opt-out for one Workload: "true" makes the sweeper leave it alone.
SKIP_ANNOTATION = "pr-sweeper.foreman.llmkube.dev/skip"

# Caps on what one Workload may ask for (the CRD sets no maxItems): a Workload over them is
# invalid-input before its list is built, so no tenant decides how much memory a run takes.
MAX_ISSUES = 1000
MAX_PIPELINE_STEPS = 1000
# Foreman labels each task with its Workload's name, so that name must be a label value.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


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


# ---------------------------------------------------------------- workloads


def fingerprint(obj: Mapping[str, Any]) -> str:
    """Changes whenever Foreman changes what the sweeper decides from: spec or status."""
    basis = {"generation": dig(obj, "metadata", "generation"), "status": obj.get("status")}
    blob = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_workload(obj: Any) -> Workload:
    obj = require_mapping(obj, "object is not a mapping")
    meta = require_mapping(obj.get("metadata"), "metadata is missing")
    spec = as_mapping(obj.get("spec"))
    status = as_mapping(obj.get("status"))
    annotations = as_mapping(meta.get("annotations"))
    name = req_str(meta.get("name"), "metadata.name", 253)
    if not _LABEL_VALUE.match(name):
        raise InvalidInput(
            f"metadata.name {name[:80]!r} is not a label value (at most 63 characters), "
            "so no task can carry it"
        )
    return Workload(
        namespace=req_str(meta.get("namespace"), "metadata.namespace", 253),
        name=name,
        uid=opt_str(meta.get("uid"), "metadata.uid") or "",
        resource_version=opt_str(meta.get("resourceVersion"), "metadata.resourceVersion") or "",
        phase=opt_str(status.get("phase"), "status.phase", 64),
        completed_at=_completed_at(status),
        open_pull_request=opt_bool(spec.get("openPullRequest"), "spec.openPullRequest"),
        records=parse_records(annotations.get(RECORD_ANNOTATION)),
        settled=_settled_mark(annotations.get(SETTLED_ANNOTATION)),
        fingerprint=fingerprint(obj),
        repo=None if spec.get("repo") is None else parse_repo(spec.get("repo"), "spec.repo"),
        issues=_issues(spec.get("issues")),
        pipeline=parse_pipeline(spec.get("pipeline")),
        reviewers_asked=_count(spec.get("reviewerAgentRefs"), "spec.reviewerAgentRefs"),
        verifier_asked=bool(
            opt_str(dig(spec, "verifierAgentRef", "name"), "spec.verifierAgentRef.name", 253)
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
        fields = dig(entry, "fieldsV1", "f:metadata", "f:annotations")
        if isinstance(fields, Mapping) and f"f:{SKIP_ANNOTATION}" in fields:
            manager = opt_str(entry.get("manager"), "managedFields manager", 128) or "unknown"
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
        payload = dig(step, "payload")
        if not isinstance(payload, Mapping) or payload.get("branch") is None:
            continue  # a step that names no branch is no branch's step
        where = f"spec.pipeline[{i}]"
        steps.append(
            PipelineStep(
                name=opt_str(dig(step, "name"), f"{where}.name", 253) or "",
                kind=opt_str(dig(step, "kind"), f"{where}.kind", 64) or "",
                repo=parse_repo(payload.get("repo"), f"{where}.payload.repo"),
                branch=parse_branch(payload.get("branch"), f"{where}.payload.branch"),
                open_pull_request=opt_bool(
                    payload.get("openPullRequest"), f"{where}.openPullRequest"
                ),
            )
        )
    return tuple(steps)


def parse_agent(obj: Any) -> Agent:
    """An Agent object; only the field the sweeper reads is checked."""
    obj = require_mapping(obj, "agent is not a mapping")
    name = req_str(dig(obj, "metadata", "name"), "agent metadata.name", 253)
    draft = opt_bool(
        dig(obj, "spec", "openPullRequestsAsDraft"), f"{name}: spec.openPullRequestsAsDraft"
    )
    return Agent(name, draft)
