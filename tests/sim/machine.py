"""The simulation as a Hypothesis state machine: every rule is a step of a history, the
promises are checked after each one, and a history ends with quiet sweeps after which
every candidate must have its PR or a reason.

A failing history prints as a list of calls (`state.sweep(...)`), which replays as an
ordinary test with `replay()` (see tests/sim/test_regressions.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.sim.faults import ACTIVE_FAULTS, Fault
from tests.sim.foreman import REPOS, Batch, Issue, Pipeline, Round, Shape, Step
from tests.sim.oracle import check_converged, check_run, check_state
from tests.sim.runs import ENDS, Run, Runner
from tests.sim.world import Config, Stands, World

# The most telling moments for a signal: a create, a record, an Event, a batched read.
MOMENTS = (
    r"^POST /repos/[^/]+/[^/]+/pulls$",
    r"^PATCH /apis/.*/workloads/",
    r"^POST /api/v1/.*/events$",
    r"^POST /graphql$",
    r"^PATCH /repos/.*/pulls/[0-9]+$",
)
HUMAN_ACTIONS = ("merge", "close", "reopen", "push", "open", "delete-branch")
QUIET_SWEEPS = 8


# ---------------------------------------------------------------- what can happen


def rounds(reviewers: int | None = None) -> st.SearchStrategy[Round]:
    verdicts = st.sampled_from(["GO"] * 12 + ["NO-GO"] * 3 + ["INCOMPLETE", "-"])
    width = st.integers(0, 2) if reviewers is None else st.just(reviewers)
    return st.builds(
        Round,
        coder=st.sampled_from(["go"] * 9 + ["no-sha", "failed", "resolved"]),
        gate=st.sampled_from(["pass"] * 7 + ["fail", "none"]),
        reviews=width.flatmap(lambda n: st.lists(verdicts, min_size=n, max_size=n).map(tuple)),
        escalations=st.lists(st.sampled_from(["GO", "NO-GO"]), max_size=2).map(tuple),
    )


@st.composite
def batches(draw: Any) -> Batch:
    reviewers = draw(st.sampled_from([2, 2, 1, 0, None]))
    issue = st.builds(
        Issue,
        final=rounds(reviewers or 0),
        earlier=st.integers(0, 2),
        escalated=st.sampled_from([False] * 5 + [True]),
        foreman_pr=st.sampled_from(["none"] * 4 + ["opened", "opened", "error", "planted"]),
        tasks=st.sampled_from(["owned"] * 10 + ["none", "foreign-review", "foreign-all"]),
    )
    return Batch(
        issues=tuple(draw(st.lists(issue, min_size=1, max_size=3))),
        reviewers=reviewers,
        open_pr=draw(st.sampled_from([None, None, None, True, False])),
        repo=draw(st.sampled_from(REPOS)),
        namespace=draw(st.sampled_from(["default", "default", "team-b"])),
        phase=draw(st.sampled_from(["auto"] * 6 + ["Completed"])),
    )


@st.composite
def pipelines(draw: Any) -> Pipeline:
    step = st.builds(
        Step,
        repo=st.sampled_from(REPOS),
        issue=st.integers(1, 2),
        final=rounds(),
        open_pr=st.sampled_from([True, True, True, None, False]),
        tasks=st.sampled_from(["owned"] * 6 + ["none"]),
    )
    steps = draw(st.lists(step, min_size=1, max_size=3, unique_by=lambda s: (s.repo, s.issue)))
    return Pipeline(
        steps=tuple(steps),
        namespace=draw(st.sampled_from(["default", "team-b"])),
        phase=draw(st.sampled_from(["auto"] * 6 + ["Completed"])),
    )


def shapes() -> st.SearchStrategy[Shape]:
    return st.one_of(batches(), batches(), batches(), pipelines())


configs = st.builds(
    Config,
    drafts=st.booleans(),
    max_create=st.integers(1, 4),
    allow=st.sampled_from([(), (), (REPOS[0],), REPOS]),
    page_size=st.integers(1, 3),
    task_page=st.integers(1, 4),
    plan_window=st.integers(1, 3),
    task_batch=st.integers(1, 2),
    lookup_batch=st.integers(1, 3),
    notify=st.booleans(),
    as_draft=st.sampled_from([False, False, False, True]),
    fork=st.sampled_from([False, False, True]),
)
faults = st.one_of(
    st.just(()),
    st.lists(
        st.builds(
            Fault,
            kind=st.sampled_from(ACTIVE_FAULTS),
            times=st.integers(1, 3),
            target=st.integers(0, 3),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
picks = st.integers(0, 9)


# ---------------------------------------------------------------- the machine


class Simulation(RuleBasedStateMachine):
    """Foreman, people, operators and faults at random; whole sweeps in between."""

    stands: Stands  # set once per test module (tests/sim/conftest.py)

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None
        self.runner: Runner | None = None

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    @initialize(config=configs, shapes=st.lists(shapes(), min_size=1, max_size=3))
    def begin(self, config: Config, shapes: list[Shape]) -> None:
        self.world = World(self.stands, config)
        self.runner = Runner(self.world)
        for shape in shapes:
            self.world.complete(shape)

    @precondition(lambda self: len(self.w.models) < 6)
    @rule(shape=shapes())
    def foreman_completes(self, shape: Shape) -> None:
        self.w.complete(shape)

    @rule(pick=picks, final=rounds())
    def foreman_reruns(self, pick: int, final: Round) -> None:
        names = sorted(self.w.models)
        self.w.rerun(names[pick % len(names)], pick // len(names), final)

    @rule(pick=picks)
    def foreman_deletes(self, pick: int) -> None:
        names = sorted(self.w.models)
        if pick < 3:  # rarely
            self.w.delete(names[pick % len(names)])

    @rule(action=st.sampled_from(HUMAN_ACTIONS), pick=picks)
    def human(self, action: str, pick: int) -> None:
        self.w.human(action, pick)

    @rule(pick=picks, on=st.booleans())
    def operator_opts_out(self, pick: int, on: bool) -> None:
        names = sorted(self.w.models)
        self.w.opt_out(names[pick % len(names)], on)

    @rule(
        faults=faults,
        end=st.sampled_from(["done"] * 3 + list(ENDS[1:])),
        at=st.one_of(st.integers(1, 24), st.sampled_from(MOMENTS)),
        dry=st.sampled_from([False] * 5 + [True]),
    )
    def sweep(self, faults: tuple[Fault, ...], end: str, at: int | str, dry: bool = False) -> None:
        self._sweep(faults, end, at, dry)

    @rule(faults=faults, later=st.booleans())
    def sweep_to_the_end(self, faults: tuple[Fault, ...], later: bool = False) -> None:
        """A sweep that runs to its end; `later`: long enough after the last for any
        Lease a killed run left to have lapsed."""
        if later:
            self.w.time_passes()
        self._sweep(faults, "done", 0, False)

    @rule()
    def time_passes(self) -> None:
        self.w.time_passes()

    def _sweep(self, faults: tuple[Fault, ...], end: str, at: int | str, dry: bool) -> Run:
        assert self.runner is not None
        run = self.runner.sweep(faults, end, at, dry)
        check_run(self.w, run)
        return run

    @invariant()
    def promises_hold(self) -> None:
        if self.world is None:
            return
        problems = check_state(self.world)
        assert not problems, "\n".join(problems)

    def teardown(self) -> None:
        """Quiet sweeps, with time enough for any Lease to lapse: then every candidate has
        its PR or a reason, and nothing is left failing."""
        if self.world is None or self.world.violations:
            return
        self.w.time_passes()
        last = self._sweep((), "done", 0, False)
        for _ in range(QUIET_SWEEPS):
            if not any(d["outcome"] in ("deferred", "opened", "updated") for d in last.decisions):
                break
            last = self._sweep((), "done", 0, False)
        problems = check_state(self.w) + check_converged(self.w, last)
        assert not problems, "\n".join(problems)


class Replay:
    """Runs a history written as calls, checking the promises after each, as Hypothesis
    does: `replay(stands).sweep(...)`."""

    def __init__(self, stands: Stands) -> None:
        machine = type("Replayed", (Simulation,), {"stands": stands})
        self.state = machine()

    def __getattr__(self, name: str) -> Any:
        step = getattr(self.state, name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            out = step(*args, **kwargs)
            self.state.promises_hold()
            return out

        return checked

    def end(self) -> None:
        self.state.teardown()
