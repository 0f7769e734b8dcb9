"""AgenticTasks as plain data (`Task`), and the strict parsing that produces them.

A task's fields are shaped by its agent and by anyone with create rights: parsing
never trusts a field (see `sweeper.fields`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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
    parse_sha,
    parse_time,
    req_str,
    require_mapping,
)
from sweeper.model import GROUP

STEP_LABEL = "foreman.llmkube.dev/step"


class Role(StrEnum):
    CODER = "coder"
    VERIFY = "verify"
    REVIEW = "review"
    # Reviewer escalation (`escalate-N-j`): advisory, it never decides anything.
    ADVISORY = "advisory"
    OTHER = "other"


_ROLE_BY_KIND = {"issue-fix": Role.CODER, "verify": Role.VERIFY, "review": Role.REVIEW}


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


_STEP = re.compile(r"^(?P<base>.*?)(?:-r(?P<round>[0-9]{1,4}))?$")


def step_round(step: str) -> int:
    """Fix iteration K of a step named `...-rK`; the first round is 0."""
    match = _STEP.match(step)
    return int(match["round"]) if match and match["round"] else 0


def parse_task(obj: Any) -> Task:
    obj = require_mapping(obj, "task is not a mapping")
    meta = as_mapping(obj.get("metadata"))
    name = req_str(meta.get("name"), "task metadata.name", 253)
    labels = as_mapping(meta.get("labels"))
    step = opt_str(labels.get(STEP_LABEL), f"{name}: step label", 253) or name
    spec = require_mapping(obj.get("spec"), f"{name}: spec is missing")
    payload = require_mapping(spec.get("payload"), f"{name}: spec.payload is missing")
    status = require_mapping(obj.get("status"), f"{name}: status is not an object", optional=True)
    result = require_mapping(
        status.get("result"), f"{name}: status.result is not an object", optional=True
    )
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
        open_pull_request=opt_bool(payload.get("openPullRequest"), f"{name}: openPullRequest"),
        phase=opt_str(status.get("phase"), f"{name}: status.phase", 64),
        verdict=opt_str(status.get("verdict"), f"{name}: status.verdict", 64),
        commit_sha=parse_sha(status.get("commitSHA"), f"{name}: status.commitSHA"),
        finished_at=parse_time(status.get("finishedAt"), f"{name}: status.finishedAt"),
        transcript_ref=opt_str(
            status.get("transcriptRef") or extra.get("transcriptRef"), f"{name}: transcriptRef"
        ),
        summary=opt_str(result.get("summary"), f"{name}: result.summary", 1_000_000) or "",
        pr_body=opt_str(extra.get("prBody"), f"{name}: extra.prBody", 1_000_000),
        outcome=opt_str(extra.get("outcome"), f"{name}: extra.outcome", 64),
        pull_request_url=opt_str(own.get("pullRequestURL"), f"{name}: pullRequestURL"),
        pull_request_error=opt_str(
            own.get("pullRequestError"), f"{name}: pullRequestError", 100_000
        ),
        findings=_findings(extra.get("findings"), name),
        agent=opt_str(dig(spec, "agentRef", "name"), f"{name}: spec.agentRef.name", 253),
    )


_ADVISORY_STEP = re.compile(r"^escalate-[0-9]+-[0-9]+$")


def _role(kind: str, step: str) -> Role:
    if kind == "review" and _ADVISORY_STEP.match(step):
        return Role.ADVISORY
    return _ROLE_BY_KIND.get(kind, Role.OTHER)


def controller_uid(obj: Any) -> str | None:
    """The uid of the object's controller ownerReference to a Foreman Workload, if any.

    Foreman sets one on every task it creates (controllerutil.SetControllerReference);
    a label can be put on anything by anyone, an ownerReference names one object.
    """
    refs = dig(obj, "metadata", "ownerReferences")
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
    extra = require_mapping(
        result.get("extra"), f"{name}: result.extra is not an object", optional=True
    )
    nested = require_mapping(
        extra.get("modelExtra"), f"{name}: result.extra.modelExtra is not an object", optional=True
    )
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
        item = require_mapping(item, f"{what} is not an object")
        line = item.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise InvalidInput(f"{what}.line is not an integer")
        found.append(
            Finding(
                severity=opt_str(item.get("severity"), f"{what}.severity", 32) or "minor",
                area=opt_str(item.get("area"), f"{what}.area", 200) or "",
                message=opt_str(item.get("message"), f"{what}.message", 20_000) or "",
                file=opt_str(item.get("file"), f"{what}.file", 500),
                line=line,
                suggestion=opt_str(item.get("suggestion"), f"{what}.suggestion", 20_000),
            )
        )
    return tuple(found)
