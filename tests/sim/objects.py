"""The objects Foreman makes for a simulated Workload: the Workload itself and every
AgenticTask of its rounds, shaped like Foreman's (tests/fixtures/foreman.py builds them,
CRD-valid), owner references included (or, for the `foreign` shapes, another's)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.foreman import result, task, workload
from tests.sim.foreman import (
    GATE_FAIL,
    GATE_PASS,
    Batch,
    Issue,
    Model,
    Pipeline,
    Round,
    Tier,
    branch_name,
)

FOREIGN_UID = "00000000-0000-0000-0000-00000000f0e1"


def workload_object(model: Model) -> dict[str, Any]:
    """The Workload as the API server holds it (no uid: the server assigns it)."""
    shape = model.shape
    names = [t["metadata"]["name"] for t in model_tasks(model)]
    if isinstance(shape, Batch):
        obj = workload(
            model.name,
            shape.namespace,
            repo=shape.repo,
            issues=list(range(1, len(shape.issues) + 1)),
            phase=model.phase,
            open_pull_request=shape.open_pr,
            reviewers=shape.reviewers,
            task_names=names,
        )
    else:
        obj = workload(
            model.name,
            shape.namespace,
            repo=None,
            pipeline=pipeline_spec(model.name, shape),
            phase=model.phase,
            task_names=names,
        )
    obj["metadata"].pop("uid", None)
    return obj


def pipeline_spec(name: str, shape: Pipeline) -> list[dict[str, Any]]:
    steps = []
    for k, step in enumerate(shape.steps):
        branch = branch_name(name, step.issue)
        payload = {"repo": step.repo, "issue": step.issue, "branch": branch}
        steps.append(
            {
                "name": f"fix-{k}",
                "kind": "issue-fix",
                "agentRef": {"name": "coder"},
                "payload": dict(payload),
            }
        )
        if step.final.gate != "none":
            steps.append(
                {
                    "name": f"gate-{k}",
                    "kind": "verify",
                    "agentRef": {"name": "verifier"},
                    "payload": dict(payload),
                }
            )
        for i in range(1, len(step.final.reviews) + 1):
            review = dict(payload)
            if step.open_pr is not None:
                review["openPullRequest"] = step.open_pr
            steps.append(
                {
                    "name": f"check-{k}-{i}",
                    "kind": "review",
                    "agentRef": {"name": f"reviewer-{i}"},
                    "payload": review,
                }
            )
    return steps


def model_tasks(model: Model) -> list[dict[str, Any]]:
    """Every AgenticTask of the Workload, owner references to `model.uid`."""
    shape = model.shape
    out: list[dict[str, Any]] = []
    for tier in model.tiers.values():
        if isinstance(shape, Batch):
            issue = shape.issues[tier.issue - 1]
            out += _owned(model, _batch_tier(model, tier, issue), issue.tasks)
        else:
            out += _owned(model, _pipeline_tier(model, tier, shape), "owned")
    return out + model.extra_tasks


def _owned(model: Model, tasks: list[dict[str, Any]], how: str) -> list[dict[str, Any]]:
    for t in tasks:
        t["metadata"]["namespace"] = model.namespace
        for ref in t["metadata"]["ownerReferences"]:
            if ref["uid"] != FOREIGN_UID:
                ref["uid"] = model.uid
    if how == "foreign-all":
        for t in tasks:
            t["metadata"]["ownerReferences"][0]["uid"] = FOREIGN_UID
    return tasks


def _batch_tier(model: Model, tier: Tier, issue: Issue) -> list[dict[str, Any]]:
    shape = model.shape
    assert isinstance(shape, Batch)
    esc = "-esc" if tier.esc else ""
    ask = shape.open_pr is not False
    out: list[dict[str, Any]] = []
    last = len(tier.rounds) - 1
    for k, rnd in enumerate(tier.rounds):
        suffix = esc + (f"-r{k}" if k else "")
        review_step = [
            f"review-{tier.issue}{esc}-{i}" + (f"-r{k}" if k else "")
            for i in range(1, len(rnd.reviews) + 1)
        ]
        tasks = _round(
            model.name,
            tier,
            rnd,
            tier.shas[k],
            code=f"code-{tier.issue}{suffix}",
            verify=f"verify-{tier.issue}{suffix}",
            reviews=review_step,
            ask=ask,
        )
        if k == last:
            _foreman_fields(tasks, tier.foreman)
            tasks += _escalations(model.name, tier, rnd)
            if issue.tasks == "foreign-review" and review_step and len(tasks) > 1:
                for t in tasks:
                    if t["metadata"]["name"] == f"{model.name}-{review_step[0]}":
                        t["metadata"]["ownerReferences"][0]["uid"] = FOREIGN_UID
        out += tasks
    return out


def _pipeline_tier(model: Model, tier: Tier, shape: Pipeline) -> list[dict[str, Any]]:
    k = next(i for i, s in enumerate(shape.steps) if (s.repo, s.issue) == (tier.repo, tier.issue))
    step = shape.steps[k]
    rnd = tier.rounds[-1]
    reviews = [f"check-{k}-{i}" for i in range(1, len(rnd.reviews) + 1)]
    ask = step.open_pr
    return _round(
        model.name,
        tier,
        rnd,
        tier.shas[-1],
        code=f"fix-{k}",
        verify=f"gate-{k}",
        reviews=reviews,
        ask=ask,
    )


def _round(
    wl: str,
    tier: Tier,
    rnd: Round,
    sha: str | None,
    *,
    code: str,
    verify: str,
    reviews: list[str],
    ask: bool | None,
) -> list[dict[str, Any]]:
    common = {"repo": tier.repo, "issue": tier.issue, "branch": tier.branch}
    coder = {
        "go": ("Succeeded", "GO", result("issue-fix", "GO", f"Implemented #{tier.issue}.")),
        "no-sha": ("Succeeded", "GO", result("issue-fix", "GO", "Implemented.")),
        "failed": ("Failed", "INCOMPLETE", result("issue-fix", "INCOMPLETE", "Ran out of turns.")),
        "resolved": (
            "Succeeded",
            "NO-GO",
            result("issue-fix", "NO-GO", "Already fixed.", outcome="ALREADY-RESOLVED"),
        ),
    }[rnd.coder]
    out = [
        task(
            wl,
            code,
            **common,
            phase=coder[0],
            verdict=coder[1],
            result=coder[2],
            commit_sha=sha if rnd.coder == "go" else None,
        )
    ]
    if not rnd.pushes:
        return out
    if rnd.gate != "none":
        verdict = GATE_PASS if rnd.gate == "pass" else GATE_FAIL
        out.append(
            task(
                wl,
                verify,
                kind="verify",
                **common,
                phase="Succeeded" if rnd.gate == "pass" else "Failed",
                verdict=verdict,
                result=result("verify", verdict, "Gate ran."),
            )
        )
    if rnd.gate == "fail":
        return out
    for step, verdict in zip(reviews, rnd.reviews, strict=True):
        if verdict == "-":
            continue
        phase = "Failed" if verdict == "INCOMPLETE" else "Succeeded"
        findings = (
            [{"severity": "major", "area": "correctness", "message": "Off by one."}]
            if verdict == "NO-GO"
            else None
        )
        out.append(
            task(
                wl,
                step,
                kind="review",
                **common,
                open_pull_request=ask,
                phase=phase,
                verdict=verdict,
                result=result("review", verdict, f"{verdict}.", findings=findings),
            )
        )
    return out


def _escalations(wl: str, tier: Tier, rnd: Round) -> list[dict[str, Any]]:
    """Advisory reviewer escalation, only after the final round ended NO-GO."""
    if tier.esc or "NO-GO" not in rnd.reviews or not rnd.pushes or rnd.gate == "fail":
        return []
    common = {"repo": tier.repo, "issue": tier.issue, "branch": tier.branch}
    return [
        task(
            wl,
            f"escalate-{tier.issue}-{j}",
            kind="review",
            **common,
            verdict=verdict,
            result=result("review", verdict, "Escalation reviewer."),
        )
        for j, verdict in enumerate(rnd.escalations, 1)
    ]


def _foreman_fields(tasks: list[dict[str, Any]], fields: dict[str, str]) -> None:
    """Foreman's opener writes its outcome at the top of the reviewer's `extra`."""
    reviews = [t for t in tasks if t["spec"]["kind"] == "review"]
    if fields and reviews:
        reviews[0]["status"]["result"].setdefault("extra", {}).update(fields)


def foreman_pr_fields(issue: Issue, url: str | None) -> dict[str, str]:
    """What Foreman's opener leaves on the first reviewer of the final round."""
    if issue.foreman_pr == "opened" and url:
        return {"pullRequestURL": url}
    if issue.foreman_pr == "error":
        return {"pullRequestError": "POST /repos/acme/widgets/pulls: 502 Bad Gateway"}
    if issue.foreman_pr == "planted":
        return {"pullRequestURL": "https://github.example/acme/widgets/pull/999"}
    return {}
