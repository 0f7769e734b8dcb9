"""The promises, checked against the oracle's own view of the world.

- at the moment GitHub stores a PR the sweeper asked for: a branch that deserves one,
  at its reviewed commit, ready only where the review passed, a draft only where the
  request-changes flag (or the reviewer's draft policy) allows it, and no PR merged or
  closed by a person at that commit already there (`check_creation`);
- after every run: the exit code, `result` and counts of `sweep.finished` derived anew
  from the decision lines and the other error lines; a lock-held or dry run writes
  nothing; every decision agrees with Foreman's rules; a settled Workload had a settling
  line for every branch; a PR opened at a commit that moved under it is withdrawn
  (`check_run`);
- after every step: at most one open PR per head, and every record names a PR that
  exists (`check_state`);
- at the end of a history, after quiet sweeps: every candidate has exactly one PR, or a
  decision line with its reason (`check_converged`).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from tests.sim.faults import GITHUB_FAULTS
from tests.sim.foreman import Judgement, Model, judge, looked_at
from tests.sim.runs import GATE_REQUIRED, SETTLING, Run, settled_now
from tests.sim.world import RECORDS, SETTLED, World

# Outcomes a branch that deserves a PR may get: GitHub's view decides among them.
CANDIDATE_OUTCOMES = frozenset(
    {"opened", "adopted", "updated", "would-open", "would-update", "deferred", "failed"}
)
REMOTE_SKIPS = frozenset(
    {
        "already-recorded",
        "closed-by-human",
        "branch-missing",
        "head-moved",
        "no-diff",
        "draft-unsupported",
    }
)
HAS_PR = frozenset({"opened", "adopted", "updated"})
# Reviewed PRs open as drafts only where the reviewer Agent or --open-as-draft says so: the
# simulation seeds no Agents, so --open-as-draft (Config.as_draft) decides.


def view(world: World) -> dict[tuple[str, str], list[tuple[Model, Judgement]]]:
    """Every branch a live Workload that the sweeper reads asks for, judged now."""
    c = world.config
    out: dict[tuple[str, str], list[tuple[Model, Judgement]]] = defaultdict(list)
    for m in world.live():
        if looked_at(m, c.drafts):
            for j in judge(m, c.drafts, c.allow, GATE_REQUIRED):
                out[(j.repo, j.branch)].append((m, j))
    return out


def check_creation(world: World, pr: dict[str, Any], pushed: bool) -> bool:
    """At the moment GitHub stores a PR the sweeper asked for. Returns whether it stands
    at a reviewed commit (else it must be withdrawn within the run)."""
    repo, branch, sha = pr["base"]["repo"], pr["head"]["ref"], pr["head"]["sha"]
    where = f"PR #{pr['number']} on {repo} {branch} at {sha[:12]}"
    candidates = [(m, j) for m, j in view(world).get((repo, branch), []) if j.candidate]
    if not candidates:
        return _violation(world, f"{where}: no Workload's branch deserves a PR there")
    model, j = candidates[0]
    reviewed = sha == j.sha
    if not reviewed and not pushed:
        _violation(world, f"{where}: {model.name}'s reviewed commit is {str(j.sha)[:12]}")
    if not pr["draft"] and j.kind == "draft":
        _violation(world, f"{where}: ready, but the review requested changes")
    if j.kind == "ready" and pr["draft"] != world.config.as_draft:
        policy = "asks for drafts" if world.config.as_draft else "asks for ready PRs"
        _violation(
            world, f"{where}: draft={pr['draft']}, but the review passed and the policy {policy}"
        )
    body = pr.get("body") or ""
    closes = re.search(
        rf"(?mi)\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?):? #{j.issue}(?!\d)", body
    )
    if j.kind == "draft" and closes:
        _violation(world, f"{where}: a request-changes draft that closes #{j.issue}")
    if j.kind == "ready" and not closes:
        _violation(world, f"{where}: a reviewed PR that does not close #{j.issue}")
    for other in world.github.pulls(repo):
        if other["number"] == pr["number"] or other["head"]["label"] != world.head(branch):
            continue
        if other["state"] == "open":
            _violation(world, f"{where}: #{other['number']} is open for the same head")
        elif other["merged"] and other["head"]["sha"] == j.sha:
            _violation(world, f"{where}: #{other['number']} was merged at the reviewed commit")
        elif (repo, other["number"]) in world.human_closed and other["head"]["sha"] == j.sha:
            _violation(world, f"{where}: a person closed #{other['number']} at that commit")
    return reviewed


def check_write(world: World, method: str, path: str, body: Any) -> None:
    """Before the sweeper changes an existing PR: a body refreshed, or a draft made ready,
    only for a branch that deserves it, standing at its reviewed commit (closing one is
    always allowed: that is how it withdraws a PR nobody reviewed)."""
    pull = None
    if method == "PATCH" and isinstance(body, dict) and body.get("state") != "closed":
        match = re.match(r"^/repos/([^/]+/[^/]+)/pulls/([0-9]+)$", path)
        if match and "body" in body:
            pull, what = _pull(world, match.group(1), int(match.group(2))), "refreshed"
    elif method == "POST" and path == "/graphql" and isinstance(body, dict):
        query = str(body.get("query") or "")
        if query.lstrip().startswith("mutation") and "markPullRequestReadyForReview" in query:
            node = (body.get("variables") or {}).get("id")
            found = [(r, p) for r, p in world.pulls() if p["node_id"] == node]
            pull, what = (found[0] if found else None), "marked ready"
    if pull is None:
        return
    repo, pr = pull
    branch, sha = pr["head"]["ref"], pr["head"]["sha"]
    where = f"PR #{pr['number']} on {repo} {branch} at {sha[:12]}"
    judged = [j for _, j in view(world).get((repo, branch), []) if j.candidate]
    if not judged:
        _violation(world, f"{where} {what}: no Workload's branch deserves a PR there")
    elif judged[0].sha != sha:
        _violation(world, f"{where} {what}, but the reviewed commit is {judged[0].sha}")
    elif what == "marked ready" and judged[0].kind != "ready":
        _violation(world, f"{where} marked ready, but the review requested changes")
    elif what == "marked ready" and world.config.as_draft:
        _violation(world, f"{where} marked ready, but the policy asks for drafts")


def _pull(world: World, repo: str, number: int) -> tuple[str, dict[str, Any]] | None:
    prs = world.github.pulls(repo)
    return (repo, prs[number - 1]) if 1 <= number <= len(prs) else None


def _violation(world: World, text: str) -> bool:
    world.violations.append(f"run {len(world.runs)}: {text}")
    return False


# ---------------------------------------------------------------- after a run


def derived(run: Run) -> tuple[int, str]:
    """The exit code and `result` the run's lines call for, computed anew."""
    events = run.events()
    if "sweep.config_error" in events:
        return 2, "config-error"
    terminated = [line for line in run.lines if line.get("event") == "sweep.terminated"]
    if terminated:
        return 128 + {"SIGTERM": 15, "SIGINT": 2}.get(terminated[0].get("signal"), 15), "terminated"
    aborted = "sweep.aborted" in events
    failed = (
        aborted
        or "record.failed" in events
        or any(d.get("outcome") == "failed" for d in run.decisions)
    )
    if aborted:
        return 1, "aborted"
    if "lock.held" in events:
        return (1, "failed") if failed else (0, "lock-held")
    return (1, "failed") if failed else (0, "success")


def check_run(world: World, run: Run) -> None:
    problems: list[str] = []
    if not run.killed:
        problems += _closing(run)
        problems += _lock_and_dry(run)
        problems += _complete(world, run)
        problems += _throttled(run)
    problems += _decisions(run)
    problems += _remote(world, run)
    problems += _settles(world, run)
    problems += _recorded(world, run)
    if not run.killed:
        problems += _withdrawn(world, run)
        problems += _reported(world, run)
        problems += _released(world, run)
    world.violations += [f"run {run.index} ({_label(run)}): {p}" for p in problems]


def _label(run: Run) -> str:
    faults = ",".join(f"{f.kind}x{f.times}" for f in run.faults) or "no faults"
    end = run.end if run.end == "done" else f"{run.end}@{run.at}"
    return f"{end}{' dry' if run.dry else ''}; {faults}"


def _closing(run: Run) -> list[str]:
    events = run.events()
    out = []
    if not events or events[0] != "sweep.started":
        out.append(f"the first line is not sweep.started: {events[:1]}")
    if events.count("sweep.finished") != 1 or events[-1] != "sweep.finished":
        return [*out, f"sweep.finished is not the last and only closing line: {events[-3:]}"]
    finished = run.lines[-1]
    code, result = derived(run)
    if (run.code, finished.get("exit_code"), finished.get("result")) != (code, code, result):
        out.append(
            f"exit {run.code}, sweep.finished says {finished.get('exit_code')}/"
            f"{finished.get('result')}, the lines say {code}/{result}"
        )
    counts = Counter(str(d.get("outcome")) for d in run.decisions)
    if dict(counts) != finished.get("counts"):
        out.append(f"sweep.finished counts {finished.get('counts')}, lines {dict(counts)}")
    failures = run.events().count("record.failed")
    if finished.get("record_failures") != failures:
        out.append(f"record_failures {finished.get('record_failures')}, lines {failures}")
    if len(run.facts) != 1:
        return [*out, f"{len(run.facts)} metrics pushes"]
    facts = run.facts[0]
    if (facts.exit_code, facts.result) != (code, result):
        out.append(f"metrics say {facts.exit_code}/{facts.result}, the lines {code}/{result}")
    if facts.succeeded != (result == "success"):
        out.append(f"a {result} run pushed as success={facts.succeeded}")
    return out


def _lock_and_dry(run: Run) -> list[str]:
    events = run.events()
    held = "lock.held" in events
    out = []
    if run.dry:
        if run.github_writes or run.kube_writes:
            out.append(f"a dry run wrote: {run.github_writes} GitHub, {run.kube_writes} cluster")
        return out
    if run.lease_held and "sweep.config_error" not in events and not held:
        out.append("the Lease was held by another run, yet this run went ahead")
    if not run.lease_held and held:
        out.append("lock.held, but no live run held the Lease")
    if held and (run.decisions or run.github_writes or run.kube_writes):
        out.append("a lock-held run decided or wrote something")
    return out


THROTTLE_BUDGET = 2  # 429s in a row that any call must ride out


def _throttled(run: Run) -> list[str]:
    """API Priority and Fairness said "wait" a couple of times, and nothing else went
    wrong: the run waits as told and nothing fails for it."""
    kinds = {f.kind for f in run.faults}
    if not kinds or any(not k.startswith("k-429-") for k in kinds) or run.end != "done":
        return []
    if max(f.times for f in run.faults) > THROTTLE_BUDGET:
        return []
    bad = {
        "record.failed",
        "event.failed",
        "lock.renew_failed",
        "lock.release_failed",
        "sweep.config_error",
        "sweep.aborted",
    }
    out = [f"throttled, then {e}" for e in run.events() if e in bad]
    out += [
        f"throttled, then {d['workload']}: workload-error"
        for d in run.decisions
        if d.get("reason") == "workload-error"
    ]
    return out


def _complete(world: World, run: Run) -> list[str]:
    """A pass that ran to its end decided every pending Workload, one line per branch."""
    if derived(run)[1] not in ("success", "failed"):
        return []
    out = []
    lines = _by_workload(run)
    for name in sorted(run.pending - run.deleted):
        got = lines.get(name, [])
        if any(line.get("reason") == "workload-error" for line in got):
            continue
        want = Counter(
            (j.repo or None, j.branch or None) for j in run.judgements[name] if j.kind != "absent"
        )
        have = Counter((line.get("repo"), line.get("branch")) for line in got)
        if want != have:
            out.append(f"{name}: decided {dict(have)}, asked for {dict(want)}")
    return out


def _by_workload(run: Run) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in run.decisions:
        out[str(line.get("workload"))].append(line)
    return out


def _decisions(run: Run) -> list[str]:
    """Every decision line agrees with Foreman's rules."""
    out = []
    for name, lines in _by_workload(run).items():
        judged = {(j.repo or None, j.branch or None): j for j in run.judgements.get(name, [])}
        seen: Counter[tuple[Any, Any]] = Counter()
        for line in lines:
            key = (line.get("repo"), line.get("branch"))
            seen[key] += 1
            problem = _compatible(judged.get(key), line)
            if problem:
                out.append(f"{name} {key[1]}: {line['outcome']}/{line['reason']}: {problem}")
        out += [f"{name} {k[1]}: {n} lines in one run" for k, n in seen.items() if n > 1]
    return out


def _compatible(j: Judgement | None, line: dict[str, Any]) -> str | None:
    outcome, reason = line.get("outcome"), line.get("reason")
    if reason == "workload-error":
        return None
    if j is None or j.kind == "absent":
        return "a decision for a branch the Workload does not ask about"
    if j.kind == "skip":
        if outcome == "skipped" and reason in j.reasons:
            return None
        return f"Foreman's rules say skipped ({'/'.join(sorted(j.reasons))})"
    if outcome == "skipped" and reason not in REMOTE_SKIPS:
        return f"Foreman's rules say it deserves a {j.kind} PR"
    if outcome != "skipped" and outcome not in CANDIDATE_OUTCOMES:
        return f"an outcome for no candidate ({j.kind})"
    if line.get("sha") != j.sha:
        return f"at {line.get('sha')}, the reviewed commit is {j.sha}"
    if outcome in ("opened", "would-open") and line.get("changes_requested") != (j.kind == "draft"):
        return f"changes_requested={line.get('changes_requested')} for a {j.kind} PR"
    return None


def _remote(world: World, run: Run) -> list[str]:
    """Where GitHub stood still during the run, its skips for GitHub's reasons are true:
    head-moved means the head is not the reviewed commit, branch-missing that there is no
    branch, closed-by-human that a person closed a PR for the head at that commit."""
    if any(f.kind in GITHUB_FAULTS or f.kind == "k-409-rerun" for f in run.faults):
        return []
    out = []
    for line in run.decisions:
        key, reason = (line.get("repo"), line.get("branch")), line.get("reason")
        head, sha = run.heads.get(key), line.get("sha")
        where = f"{line['workload']} {key[1]}: {reason}"
        if reason == "head-moved" and not line.get("pr_url") and head in (None, sha):
            out.append(f"{where}, but the head is {head}")
        elif reason == "branch-missing" and head is not None:
            out.append(f"{where}, but the branch is at {head}")
        elif reason == "closed-by-human" and not any(
            pr["head"]["ref"] == key[1]
            and pr["head"]["sha"] == sha
            and (repo, pr["number"]) in world.human_closed
            for repo, pr in world.pulls()
            if repo == key[0]
        ):
            out.append(f"{where}, but no person closed a PR for it at {sha}")
    return out


def _settles(world: World, run: Run) -> list[str]:
    """A Workload this run settled had a settling line for each of its branches."""
    out = []
    lines = _by_workload(run)
    for m in world.live():
        before = run.before.get(m.name, {}).get(SETTLED)
        after = world.annotations(m).get(SETTLED)
        if after == before:
            continue
        # The mark is for the Workload as the run listed it (Foreman may have moved on).
        m.settled_version = run.versions.get(m.name, -1) if after else None
        if not after or m.name not in run.judgements:
            continue
        got = {(line.get("repo"), line.get("branch")): line for line in lines.get(m.name, [])}
        for j in run.judgements[m.name]:
            if j.kind == "absent":
                continue
            line = got.get((j.repo or None, j.branch or None))
            if line is None:
                out.append(f"{m.name} settled without a line for {j.branch or 'the Workload'}")
            elif not (line["outcome"] in HAS_PR or line["reason"] in SETTLING):
                out.append(f"{m.name} settled on {line['outcome']}/{line['reason']} ({j.branch})")
    return out


def records(world: World, model: Model) -> dict[tuple[str, str], dict[str, Any]]:
    """The sweeper's record annotation, read without the sweeper's parser."""
    raw = world.annotations(model).get(RECORDS)
    if not raw:
        return {}
    out = {}
    for key, entry in json.loads(raw).items():
        repo, _sep, branch = key.rpartition(":")
        out[(entry.get("repo") or repo, branch)] = entry
    return out


def _recorded(world: World, run: Run) -> list[str]:
    out = []
    for line in run.decisions:
        if not line.get("recorded"):
            continue
        model = world.models.get(str(line.get("workload")))
        if model is None or model.deleted:
            continue
        entry = records(world, model).get((line["repo"], line["branch"]))
        if entry is None or entry.get("url") != line.get("pr_url"):
            out.append(f"{model.name} {line['branch']}: recorded=true, annotation has {entry}")
    return out


def _withdrawn(world: World, run: Run) -> list[str]:
    """A PR this run made at a commit that moved under it no longer stands, or the run
    failed saying so (the next run withdraws it)."""
    out = []
    for c in world.created:
        if c.run != run.index or c.reviewed:
            continue
        pr = world.github.pulls(c.repo)[c.number - 1]
        failed = [
            d
            for d in run.decisions
            if d["outcome"] == "failed" and d.get("pr_url") == pr["html_url"]
        ]
        if pr["state"] == "open" and not failed:
            out.append(f"#{c.number} on {c.repo} opened at unreviewed {c.sha[:12]} is left open")
    return out


def _reported(world: World, run: Run) -> list[str]:
    """Every PR the run made is on one of its lines (or a failed line says the branch's
    create went astray), and an opened one is recorded unless a line says why not."""
    out = []
    by_branch = defaultdict(list)
    for line in run.decisions:
        by_branch[(line.get("repo"), line.get("branch"))].append(line)
    trouble = {
        str(line.get("workload"))
        for line in run.lines
        if line.get("event") in ("record.failed", "record.gone")
    }
    for c in world.created:
        if c.run != run.index:
            continue
        url = world.github.pulls(c.repo)[c.number - 1]["html_url"]
        lines = by_branch.get((c.repo, c.branch), [])
        named = [line for line in lines if line.get("pr_url") == url]
        if not named and not any(line["outcome"] == "failed" for line in lines):
            out.append(f"#{c.number} on {c.repo} {c.branch} was made, no line names it")
        for line in named:
            if (
                line["outcome"] == "opened"
                and not line.get("recorded")
                and (line["workload"] not in trouble)
            ):
                out.append(f"#{c.number} on {c.repo} opened, not recorded, no line says why")
    return out


def _released(world: World, run: Run) -> list[str]:
    """A run that ended, however, handed its Lease back (unless writing it failed)."""
    lease_faults = {"k-5xx-lease", "k-429-lease"} & {f.kind for f in run.faults}
    if run.dry or "lock.held" in run.events() or lease_faults or not world.lease_held():
        return []
    return ["the run ended and its Lease is still held"]


# ---------------------------------------------------------------- after every step


def check_state(world: World) -> list[str]:
    """At most one open PR per head; every record names a PR for its head that exists."""
    out = list(world.violations)
    open_heads: Counter[tuple[str, str]] = Counter()
    pulls = {repo: world.github.pulls(repo) for repo in {r for r, _ in world.pulls()}}
    for repo, prs in pulls.items():
        for pr in prs:
            if pr["state"] == "open":
                open_heads[(repo, pr["head"]["label"])] += 1
    out += [f"{n} open PRs for {head} on {repo}" for (repo, head), n in open_heads.items() if n > 1]
    for m in world.live():
        for (repo, branch), entry in records(world, m).items():
            url, number = entry.get("url"), entry.get("number")
            if not url:
                continue
            prs = world.github.pulls(repo)
            if not isinstance(number, int) or not 1 <= number <= len(prs):
                out.append(f"{m.name} records {url} for {branch}: no such PR")
            elif prs[number - 1]["head"]["ref"] != branch or prs[number - 1]["html_url"] != url:
                out.append(f"{m.name} records {url} for {branch}: that PR is for another head")
    return out


# ---------------------------------------------------------------- at the end


def check_converged(world: World, last: Run) -> list[str]:
    """After quiet sweeps: every candidate has its PR or a reason, nothing is left failing."""
    out = []
    if last.code != 0 or any(d["outcome"] in ("failed", "deferred") for d in last.decisions):
        out.append(f"a quiet sweep still ends {last.code}: {_outcomes(last)}")
    c = world.config
    for m in world.live():
        if not looked_at(m, c.drafts):
            continue
        recs = records(world, m)
        settled = settled_now(world, m)
        for j in judge(m, c.drafts, c.allow, GATE_REQUIRED):
            if not j.settles and settled:
                out.append(f"{m.name} is settled though {j.branch} has no tasks")
            if not j.candidate:
                continue
            entry = recs.get((j.repo, j.branch))
            if (
                entry
                and entry.get("sha") == j.sha
                and (entry.get("outcome") in HAS_PR or entry.get("reason") == "closed-by-human")
            ):
                continue  # its PR, or a person's no to it, recorded
            line = _latest(world, m, j)
            if line is None:
                out.append(f"{m.name} {j.branch}: no PR recorded and no decision line")
            elif line["outcome"] != "skipped" or line["reason"] not in REMOTE_SKIPS - {
                "already-recorded"
            }:
                out.append(
                    f"{m.name} {j.branch}: no PR recorded; last said {line['outcome']}/"
                    f"{line['reason']}"
                )
    for created in world.created:
        pr = world.github.pulls(created.repo)[created.number - 1]
        if (
            not created.reviewed
            and pr["state"] == "open"
            and (created.repo, created.number) not in world.human_reopened
        ):
            out.append(
                f"#{created.number} on {created.repo}, opened at an unreviewed commit, still stands"
            )
    return out


def _latest(world: World, m: Model, j: Judgement) -> dict[str, Any] | None:
    for run in reversed(world.runs):
        if run.dry or run.versions.get(m.name) != m.version:
            continue
        for line in run.decisions:
            if (line.get("workload"), line.get("repo"), line.get("branch")) == (
                m.name,
                j.repo,
                j.branch,
            ):
                return line
    return None


def _outcomes(run: Run) -> dict[str, int]:
    return dict(Counter(f"{d['outcome']}/{d['reason']}" for d in run.decisions))
