"""What one run's section shows (result, counts, PRs, failures and deferrals, skips,
warnings, quota), derived from its parsed lines; both renderers lay out exactly this."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sweeper.outcomes import Reason
from sweeper.report.model import (
    LoggedDecision,
    Msg,
    ParsedLog,
    Readout,
    Run,
    Table,
    Url,
    Val,
    setting_text,
)
from sweeper.report.phrases import (
    PR_OUTCOMES,
    WORKLOAD_ORDER,
    as_seconds,
    branch_cells,
    counts_msg,
    duration,
    iso_short,
    order,
    seconds_between,
)
from sweeper.report.steps import groups, record_group

DEFERRED_SHOWN = 10  # per reason; a backfill defers hundreds
ADOPTED_SHOWN = 20  # a first run on a long-lived cluster adopts its whole history
NOTICES_SHOWN = 20

SKIP_MEANINGS: dict[str, str] = {
    Reason.ALREADY_RECORDED: "the annotation already lists the branch at the reviewed SHA",
    Reason.OPTED_OUT: "the Workload or its review step does not want a PR",
    Reason.ALREADY_RESOLVED: "the coder found the issue already fixed",
    Reason.CODER_NOT_ON_TARGET: "the final coder is not Succeeded + GO",
    Reason.NO_COMMIT_SHA: "the final coder recorded no commitSHA: nothing was vouched for",
    Reason.GATE_NOT_PASSED: "a verify task is not GATE-PASS",
    Reason.NOT_REVIEWED: (
        "the final round lacks a reviewer or gate the spec or earlier rounds ask for, "
        "or ran neither"
    ),
    Reason.NO_TASKS: "the spec asks for it but no task covers it; looked at again next run",
    Reason.REVIEW_NOT_GO: "a reviewer of the final round did not say GO",
    Reason.DRAFT_UNSUPPORTED: "GitHub refuses draft PRs on the repository's plan",
    Reason.CLOSED_BY_HUMAN: "a PR at the reviewed SHA was closed unmerged: respected",
    Reason.BRANCH_MISSING: "the branch is not on the head repository",
    Reason.HEAD_MOVED: "the branch head is not the reviewed SHA",
    Reason.NO_DIFF: "no commits between base and head",
    Reason.REPO_NOT_ALLOWED: "the repository is outside --allow-repo",
    Reason.INVALID_INPUT: "a Workload or task field is missing, mistyped or unsafe (see detail)",
}

SETTINGS_SHOWN_FIRST = ("namespaces", "selector", "allow_repos", "max_create", "rate_reserve")


def _settings(run: Run) -> tuple[Msg, ...]:
    """key=value for each setting that says something (not null, empty or off)."""
    settings = run.settings or {}
    keys = [k for k in SETTINGS_SHOWN_FIRST if k in settings]
    keys += [k for k in settings if k not in keys and k != "dry_run"]
    out = []
    for key in keys:
        value = settings[key]
        if value is None or value is False or value == [] or value == "":
            continue
        out.append((Val(f"{key}={setting_text(value)}"),))
    return tuple(out)


def _cut_short(
    title: str, words: tuple[str, str], why: tuple[str | None, str | None]
) -> tuple[Msg, Msg]:
    """The title and verdict of a run refused or aborted: its reason and detail, quoted."""
    reason, detail = why
    return (
        (title,),
        (words[0], Val(reason or "no reason"), words[1], Val(detail or "(no detail)")),
    )


def _verdict(run: Run) -> tuple[Msg, Msg]:
    """The run's title and what its ending means."""
    code = run.exit_code
    if run.config_error is not None:
        return _cut_short(
            "configuration error, exit 2",
            ("refused before the pass (", "): nothing was done. "),
            run.config_error,
        )
    if run.aborted is not None:
        return _cut_short(
            "aborted, exit 1",
            ("the pass stopped midway (", "); what it did stands and the next run continues. "),
            run.aborted,
        )
    if run.terminated is not None:
        return (
            (f"terminated by {run.terminated}, exit {'?' if code is None else code}",),
            (
                "stopped before its next write; what it did is recorded, the rest waits for "
                "the next run.",
            ),
        )
    if run.lock_held_by is not None and not run.decisions and code in (0, None):
        return (
            (f"lock held, exit {0 if code is None else code}",),
            ("another run held the lock (", Val(run.lock_held_by), "): nothing was done."),
        )
    if code is None:
        return (
            ("DID NOT FINISH",),
            (
                "no sweep.finished line: the run was killed (e.g. by activeDeadlineSeconds), "
                "crashed, or is still running; below is what it logged so far.",
            ),
        )
    if code == 0:
        return (("finished, exit 0",), ("nothing failed.",))
    if code == 1:
        return (
            ("finished, exit 1",),
            ("at least one branch failed or a record could not be written; the next run retries.",),
        )
    return ((f"finished, exit {code}",), ("configuration or cluster error: nothing was done.",))


def _facts(run: Run) -> tuple[Msg, ...]:
    facts: list[Msg] = []
    if run.started_at:
        facts.append(("started ", Val(iso_short(run.started_at))))
    if run.finished is not None and run.finished.duration_s is not None:
        facts.append(("took ", as_seconds(run.finished.duration_s)))
    elif not run.ended:
        elapsed = seconds_between(run.started_at, run.last_at) if run.started_at else None
        if elapsed is not None and elapsed >= 0:
            facts.append(("ran at least ", as_seconds(elapsed)))
        if run.last_at:
            facts.append(("last line at ", Val(iso_short(run.last_at))))
    dry = run.dry_run
    if dry is not None:
        facts.append(("dry run: nothing written",) if dry else ("real run",))
    if run.version:
        facts.append(("sweeper ", Val(run.version)))
    return tuple(facts)


def _notes(run: Run, later: bool, counts: Counter[str]) -> tuple[Msg, ...]:
    notes: list[Msg] = []
    if not run.started and run.config_error is None:
        notes.append(
            (
                "no sweep.started line for this run: the log begins after it started "
                "(e.g. kubectl logs --tail), so its settings are unknown.",
            )
        )
    if not run.ended and run.progress is not None:
        p = run.progress
        parts: list[str] = ["last progress"]
        if p.phase:
            parts += [" (", Val(p.phase), ")"]
        if p.elapsed_s is not None:
            parts += [" at ", as_seconds(p.elapsed_s)]
        parts.append(": ")
        names = {
            "workloads_listed": "Workloads listed",
            "workloads_pending": "pending",
            "workloads_planned": "planned",
            "workloads_decided": "decided",
            "candidates": "candidate branches",
            "candidates_learned": "learned",
        }
        parts.append(", ".join(f"{p.numbers[k]} {v}" for k, v in names.items() if k in p.numbers))
        parts += ["; counts: ", *counts_msg(p.counts)]
        notes.append(tuple(parts))
    if not run.ended and later:
        notes.append(("a later run starts in this log: this one never logged its end.",))
    reported = run.finished.counts if run.finished is not None else None
    if reported is not None and dict(counts) != reported:
        notes.append(
            (
                "cross-check: sweep.finished counts ",
                *counts_msg(reported),
                " but the log holds pr.decision lines for ",
                *counts_msg(counts),
                " (lines lost, or another version).",
            )
        )
    f = run.finished
    if f is not None and f.record_failures and f.record_failures != len(run.record_failures):
        notes.append(
            (
                f"cross-check: sweep.finished counts {f.record_failures} record failures, "
                f"the log holds {len(run.record_failures)} record.failed lines.",
            )
        )
    return tuple(notes)


def _workloads(run: Run) -> Msg:
    f = run.finished
    if f is not None and f.workloads is not None:
        seen = f.workloads_seen if f.workloads_seen is not None else sum(f.workloads.values())
        return (f"{seen} listed: ", *counts_msg(f.workloads, WORKLOAD_ORDER))
    if run.progress is not None and "workloads_listed" in run.progress.numbers:
        n = run.progress.numbers
        text = f"{n['workloads_listed']} listed" + ("" if run.ended else " so far")
        if "workloads_pending" in n:
            text += f", {n['workloads_pending']} pending"
        return (text, " (by the last progress line)")
    if run.workload_skips:
        return ("not reported; skipped: ", *counts_msg(run.workload_skips, WORKLOAD_ORDER))
    return ("not reported",)


def _backlog(run: Run) -> Msg | None:
    """How long the oldest Completed Workload has waited for its PR, and why they wait."""
    f = run.finished
    if f is None or f.oldest_pending_age_s is None:
        return None
    if not f.waiting:
        return ("nothing waits for its PR",)
    age = f.oldest_pending_age_s
    parts = ", ".join(f"{why} {n}" for why, n in sorted(f.waiting.items()))
    return (f"oldest waiting for {duration(age)}; ", Val(parts))


def _pr_table(decisions: Sequence[LoggedDecision]) -> tuple[Table, int, tuple[Msg, ...]]:
    rows = []
    more: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    for d in sorted(
        (d for d in decisions if d.outcome in PR_OUTCOMES), key=lambda d: order(d.outcome)
    ):
        if d.outcome == "adopted" and shown[d.outcome] >= ADOPTED_SHOWN:
            more[d.outcome] += 1
            continue
        shown[d.outcome] += 1
        outcome: Msg = (Val(d.outcome), " (draft)") if d.draft else (Val(d.outcome),)
        url: Msg = (Url(d.pr_url),) if d.pr_url else ("(no PR yet)",)
        rows.append((outcome, *branch_cells(d.where, d.repo, d.branch), url))
    notes = tuple(
        (
            f"... and {n} more ",
            Val(outcome),
            f": jq -r 'select(.outcome == \"{outcome}\") | .pr_url' lists them all.",
        )
        for outcome, n in sorted(more.items())
    )
    table = Table(("outcome", "Workload", "repository", "branch", "PR"), tuple(rows), wrap=4)
    return table, len(rows) + sum(more.values()), notes


def _quota(run: Run) -> tuple[Table, tuple[tuple[str, Msg], ...]]:
    f = run.finished
    rows = []
    for b in (f.github_rate or ()) if f is not None else ():
        left = f"{100 * b.remaining // b.limit}%" if b.remaining is not None and b.limit else "-"
        rows.append(
            (
                (Val(b.name),),
                (str(b.used) if b.used is not None else "-",),
                (str(b.remaining) if b.remaining is not None else "-",),
                (str(b.limit) if b.limit is not None else "-",),
                (left,),
                (Val(iso_short(b.resets_at)),) if b.resets_at else ("-",),
            )
        )
    table = Table(
        ("bucket", "used", "remaining", "limit", "left", "resets at"),
        tuple(rows),
        right=frozenset({1, 2, 3, 4}),
    )
    calls: list[tuple[str, Msg]] = []
    if f is not None and f.github_calls:
        calls.append(("GitHub calls", _pairs(f.github_calls)))
    if f is not None and f.kube_calls:
        calls.append(("Kubernetes calls", _pairs(f.kube_calls)))
    return table, tuple(calls)


def _pairs(counts: Mapping[str, int]) -> Msg:
    parts: list[str] = []
    for k in sorted(counts):
        parts += [", " if parts else "", Val(k), f" {counts[k]}"]
    return tuple(parts)


def readout(run: Run, later: bool = False) -> Readout:
    """What one run's section shows. `later`: another run follows it in the log."""
    counts = Counter(d.outcome for d in run.decisions)
    title, verdict = _verdict(run)
    by_reason = Counter((d.outcome, d.reason) for d in run.decisions)
    reasons = Table(
        ("outcome", "reason", "branches"),
        tuple(
            ((Val(o),), (Val(r),), (str(n),))
            for (o, r), n in sorted(by_reason.items(), key=lambda i: (order(i[0][0]), i[0][1]))
        ),
        right=frozenset({2}),
    )
    prs, prs_total, prs_more = _pr_table(run.decisions)
    skips = Counter(d.reason for d in run.decisions if d.outcome == "skipped")
    skipped = Table(
        ("reason", "branches", "meaning"),
        tuple(
            ((Val(r),), (str(n),), (SKIP_MEANINGS.get(r, "-"),))
            for r, n in sorted(skips.items(), key=lambda i: (-i[1], i[0]))
        ),
        right=frozenset({1}),
    )
    notices = _notices(run)
    quota, calls = _quota(run)
    total = sum(counts.values())
    return Readout(
        title=title,
        verdict=verdict,
        passed=run.config_error is None and not (run.lock_held_by and not run.decisions),
        facts=_facts(run),
        settings=_settings(run),
        notes=_notes(run, later, counts),
        branches=(f"{total} decided: ", *counts_msg(counts)) if total else ("none decided",),
        by_reason=reasons,
        workloads=_workloads(run),
        backlog=_backlog(run),
        prs=prs,
        prs_total=prs_total,
        prs_more=prs_more,
        failures=tuple(groups("failed", run, 10**9) + record_group(run)),
        deferred=tuple(groups("deferred", run, DEFERRED_SHOWN)),
        skipped=skipped,
        skipped_total=sum(skips.values()),
        notices=notices,
        notices_more=max(0, len(run.notices) - NOTICES_SHOWN),
        quota=quota,
        calls=calls,
    )


def _skipped_lines(log: ParsedLog) -> Msg:
    kinds = [
        (len(log.not_json), "not JSON"),
        (len(log.not_object), "JSON but not an object"),
        (len(log.foreign), "objects that are no sweeper event"),
    ]
    said = ", ".join(f"{n} {what}" for n, what in kinds if n)
    numbers = sorted(log.not_json + log.not_object + log.foreign)
    at = ", ".join(str(n) for n in numbers[:8]) + (", ..." if len(numbers) > 8 else "")
    plural = "s" if log.skipped != 1 else ""
    return (
        f"skipped {log.skipped} line{plural} that are not sweeper log lines "
        f"({said}; line{plural} {at})",
    )


def preamble(log: ParsedLog) -> tuple[Msg, ...]:
    runs = len(log.runs)
    lines = f"{log.lines} line{'s' if log.lines != 1 else ''}"
    out: list[Msg] = [(f"{runs} run{'s' if runs != 1 else ''} in {lines}",)]
    if log.skipped:
        out.append(_skipped_lines(log))
    if log.cut_last_line:
        out.append(
            ("the last line is cut off (no newline, not JSON): the log was still being written",)
        )
    return tuple(out)


def _notices(run: Run) -> Table:
    """The warnings and errors a run logged, the first NOTICES_SHOWN of them."""
    return Table(
        ("level", "event", "where", "message"),
        tuple(
            (
                (Val(n.level),),
                (Val(n.event),),
                (Val(n.where),) if n.where else ("-",),
                (Val(n.text),) if n.text else ("-",),
            )
            for n in run.notices[:NOTICES_SHOWN]
        ),
        wrap=3,
    )
