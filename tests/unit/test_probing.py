"""`check`'s asking: three parties at once, and a deadline no party can hold up."""

from __future__ import annotations

import threading
import time

import pytest

from sweeper import probing
from sweeper.checking import ClusterFacts, GitHubFacts
from sweeper.cli import settings_from

SETTINGS, _ = settings_from(["--pushgateway-url", "http://127.0.0.1:9"], {"GITHUB_TOKEN": "ghp_x"})


def test_an_answer_that_never_comes_does_not_hold_up_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A party still asking at the deadline is reported as not answering, in time."""
    never = threading.Event()
    monkeypatch.setattr(probing, "ANSWER_BY_S", 0.3)
    monkeypatch.setattr(probing, "ask_cluster", lambda *args: never.wait() or ClusterFacts())
    monkeypatch.setattr(probing, "ask_github", lambda *args: never.wait() or GitHubFacts())
    monkeypatch.setattr(probing, "ask_pushgateway", lambda *args: never.wait() and None)
    started = time.monotonic()
    facts = probing.gather(SETTINGS, None, {})
    assert time.monotonic() - started < 2
    assert facts.cluster.error == facts.github.error == "no answer within 0.3 s"
    assert facts.pushgateway == "no answer within 0.3 s"
    never.set()


def test_the_three_are_asked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each party takes its time in parallel: the check takes the longest, not the sum."""

    def slow(answer: object) -> object:
        time.sleep(0.4)
        return answer

    monkeypatch.setattr(probing, "ask_cluster", lambda *args: slow(ClusterFacts(server="s")))
    monkeypatch.setattr(probing, "ask_github", lambda *args: slow(GitHubFacts(error="e")))
    monkeypatch.setattr(probing, "ask_pushgateway", lambda *args: slow(None))
    started = time.monotonic()
    facts = probing.gather(SETTINGS, None, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert time.monotonic() - started < 1.0
    assert (facts.cluster.server, facts.github.error, facts.pushgateway) == ("s", "e", None)
    assert facts.in_pod


def test_a_bug_while_asking_stays_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in a party's thread is raised to the caller, not mistaken for silence."""

    def broken(*args: object) -> ClusterFacts:
        raise RuntimeError("a bug")

    monkeypatch.setattr(probing, "ask_cluster", broken)
    monkeypatch.setattr(probing, "ask_github", lambda *args: GitHubFacts())
    monkeypatch.setattr(probing, "ask_pushgateway", lambda *args: None)
    with pytest.raises(RuntimeError, match="a bug"):
        probing.gather(SETTINGS, None, {})
