"""The GitHub stand-in's contract: GitHub's semantics, and every exchange valid per its spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.standins.github import GitHubStandIn

HEADERS = {
    "Authorization": "Bearer test-token",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": "contract-test/1",
}
BRANCH = "foreman/wl/issue-1"


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(validate=True) as standin:
        standin.add_repo("acme/widgets")
        yield standin
        assert standin.violations == [], "\n".join(standin.violations)


def call(gh: GitHubStandIn, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, gh.url + path, headers=HEADERS, timeout=10, **kwargs)


def create(
    gh: GitHubStandIn, head: str = BRANCH, base: str = "main", **extra: Any
) -> requests.Response:
    return call(
        gh,
        "POST",
        "/repos/acme/widgets/pulls",
        json={"title": "t", "head": head, "base": base, **extra},
    )


def test_bad_token_is_401(gh: GitHubStandIn) -> None:
    """A wrong token is 401 Bad credentials."""
    r = requests.get(
        gh.url + "/rate_limit", headers={**HEADERS, "Authorization": "Bearer nope"}, timeout=5
    )
    assert r.status_code == 401


def test_head_filter_needs_the_owner(gh: GitHubStandIn) -> None:
    """head=OWNER:branch filters; a bare branch is ignored, as GitHub does."""
    gh.push("acme/widgets", BRANCH)
    gh.push("acme/widgets", "other")
    create(gh)
    create(gh, head="other")
    qualified = call(
        gh, "GET", "/repos/acme/widgets/pulls", params={"head": f"acme:{BRANCH}"}
    ).json()
    bare = call(gh, "GET", "/repos/acme/widgets/pulls", params={"head": BRANCH}).json()
    assert len(qualified) == 1 and len(bare) == 2


def test_state_filter_and_merged_at(gh: GitHubStandIn) -> None:
    """state=open by default; state=all shows closed ones; merged means merged_at is set."""
    gh.push("acme/widgets", BRANCH)
    gh.add_pull("acme/widgets", f"acme:{BRANCH}", state="closed", merged=True)
    gh.add_pull("acme/widgets", f"acme:{BRANCH}", state="closed")
    assert call(gh, "GET", "/repos/acme/widgets/pulls").json() == []
    found = call(gh, "GET", "/repos/acme/widgets/pulls", params={"state": "all"}).json()
    assert [(p["number"], p["merged_at"] is not None) for p in found] == [(2, False), (1, True)]


def test_link_pagination(gh: GitHubStandIn) -> None:
    """150 PRs at per_page=100 come in two pages joined by rel=next."""
    for i in range(150):
        gh.push("acme/widgets", f"b{i}")
        gh.add_pull("acme/widgets", f"acme:b{i}")
    first = call(gh, "GET", "/repos/acme/widgets/pulls", params={"per_page": 100})
    second = requests.get(first.links["next"]["url"], headers=HEADERS, timeout=5)
    assert len(first.json()) == 100 and len(second.json()) == 50 and "next" not in second.links


def test_create_and_each_422(gh: GitHubStandIn) -> None:
    """201 on create; 422 already-exists, no-commits, invalid head, drafts unsupported."""
    gh.push("acme/widgets", BRANCH)
    r = create(gh)
    assert r.status_code == 201 and r.json()["head"]["label"] == f"acme:{BRANCH}"
    assert "already exists" in create(gh).json()["errors"][0]["message"]
    main_sha = call(gh, "GET", "/repos/acme/widgets/git/ref/heads%2Fmain").json()["object"]["sha"]
    gh.push("acme/widgets", "same")
    gh.set_branch("acme/widgets", "same", main_sha)
    assert create(gh, head="same").json()["errors"][0]["message"].startswith("No commits between")
    assert create(gh, head="missing").json()["errors"][0] == {
        "resource": "PullRequest",
        "field": "head",
        "code": "invalid",
    }
    gh.add_repo("acme/nodrafts", drafts_supported=False)
    gh.push("acme/nodrafts", "x")
    r = call(
        gh,
        "POST",
        "/repos/acme/nodrafts/pulls",
        json={"title": "t", "head": "x", "base": "main", "draft": True},
    )
    assert r.status_code == 422 and "Draft pull requests are not supported" in r.json()["message"]


def test_fork_head(gh: GitHubStandIn) -> None:
    """A head on a fork is named forkowner:branch."""
    gh.add_repo("bot/widgets", fork_of="acme/widgets")
    gh.push("bot/widgets", BRANCH)
    r = create(gh, head=f"bot:{BRANCH}")
    assert r.status_code == 201 and r.json()["head"]["label"] == f"bot:{BRANCH}"


def test_matching_refs_and_git_ref(gh: GitHubStandIn) -> None:
    """matching-refs is a prefix match; git/ref of a missing branch is 404."""
    gh.push("acme/widgets", "foreman/a/issue-1")
    gh.push("acme/widgets", "foreman/b/issue-2")
    gh.push("acme/widgets", "feature")
    refs = call(gh, "GET", "/repos/acme/widgets/git/matching-refs/heads%2Fforeman%2F").json()
    assert [r["ref"] for r in refs] == [
        "refs/heads/foreman/a/issue-1",
        "refs/heads/foreman/b/issue-2",
    ]
    assert call(gh, "GET", "/repos/acme/widgets/git/ref/heads%2Fnope").status_code == 404


def test_commit_message(gh: GitHubStandIn) -> None:
    """commits/{sha} carries the full message."""
    sha = gh.push("acme/widgets", BRANCH, message="Subject\n\nBody")
    assert (
        call(gh, "GET", f"/repos/acme/widgets/commits/{sha}").json()["commit"]["message"]
        == "Subject\n\nBody"
    )


def test_injected_faults(gh: GitHubStandIn) -> None:
    """respond answers the fault; after serves it and drops the answer (the PR exists)."""
    gh.push("acme/widgets", BRANCH)
    gh.inject("POST", r"/pulls$", status=502)
    assert create(gh).status_code == 502 and gh.pulls("acme/widgets") == []
    gh.inject("POST", r"/pulls$", action="after")
    with pytest.raises(requests.ConnectionError):
        create(gh)
    assert len(gh.pulls("acme/widgets")) == 1


def test_rate_limits(gh: GitHubStandIn) -> None:
    """Secondary limit: 403 with retry-after on writes; primary: 403 with remaining 0."""
    gh.push("acme/widgets", BRANCH)
    gh.secondary_limit(1, retry_after=7)
    r = create(gh)
    assert r.status_code == 403 and r.headers["retry-after"] == "7"
    gh.rate_limit_remaining = 0
    r = call(gh, "GET", "/repos/acme/widgets")
    assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"
    assert call(gh, "GET", "/rate_limit").status_code == 200


def test_created_hook_runs_before_the_answer(gh: GitHubStandIn) -> None:
    """on_pull_created sees the stored PR; raising there drops the 201."""
    gh.push("acme/widgets", BRANCH)
    seen: list[int] = []
    gh.on_pull_created(lambda pr: seen.append(pr["number"]))
    assert create(gh).status_code == 201 and seen == [1]


def test_calls_are_recorded_with_decoded_paths(gh: GitHubStandIn) -> None:
    """The call log decodes %2F so tests can read it."""
    call(gh, "GET", "/repos/acme/widgets/git/ref/heads%2Fmain")
    assert gh.calls[-1].path == "/repos/acme/widgets/git/ref/heads/main"
    assert gh.count("GET", r"/git/ref/") == 1


def test_enterprise_prefix() -> None:
    """With prefix /api/v3 the API lives under it, like GitHub Enterprise Server."""
    with GitHubStandIn(validate=True, prefix="/api/v3") as ghe:
        assert ghe.url.endswith("/api/v3")
        assert requests.get(ghe.url + "/rate_limit", headers=HEADERS, timeout=5).status_code == 200
        assert ghe.violations == []


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param("repo, read:org", ("repo", "read:org"), id="classic"),
        pytest.param(None, None, id="fine-grained"),
    ],
)
def test_the_adapters_token_probe_against_the_standin(
    gh: GitHubStandIn, scopes: str | None, expected: tuple[str, ...] | None
) -> None:
    """A classic token's answers name its scopes; a fine-grained token's name none."""
    from sweeper.github import GitHub

    gh.oauth_scopes = scopes
    probe = GitHub(gh.url, "test-token").probe_token()
    assert probe.scopes == expected
    core = probe.rate("core")
    assert core is not None and (core.limit, core.remaining) == (5000, 5000)


def test_the_adapters_installation_probe_against_the_standin(gh: GitHubStandIn) -> None:
    """Per owner, with the App's JWT: installed and granted what; nothing minted."""
    from sweeper.github import GitHub
    from sweeper.settings import AppCredentials
    from tests.fixtures.keys import private_pem, public_pem, rsa_key

    gh.add_repo("other/thing")
    gh.add_repo("bare/repo")
    gh.enable_app(4242, public_pem(rsa_key(0)))
    gh.install("acme")
    gh.install("other", permissions={"contents": "read", "metadata": "read"})
    app = AppCredentials("4242", private_pem(rsa_key(0)).decode(), None)
    github = GitHub(gh.url, "", app=app)
    acme, other, bare = (
        github.probe_installation(repo) for repo in ("acme/widgets", "other/thing", "bare/repo")
    )
    assert acme.installed and acme.ready and acme.installation_id == 1001
    assert other.installed and other.missing == ("pull_requests: write",)
    assert not bare.installed and not bare.ready
    assert github.probe_owner("other").installation_id == other.installation_id
    assert not github.probe_owner("nobody").installed
    assert gh.tokens_minted == 0
    assert gh.count("POST") == 0


def test_reset_is_a_new_standin_without_a_restart(gh: GitHubStandIn) -> None:
    """reset(): no repositories, pulls, faults, hooks or calls, and full quotas again."""
    gh.push("acme/widgets", BRANCH)
    assert create(gh).status_code == 201
    gh.inject("POST", r"/pulls$", status=502, times=3)
    gh.secondary_limit(2)
    gh.on_request(lambda *_: None)
    gh.rate_limit_remaining = 10
    gh.reset()
    assert gh.calls == [] and gh.pulls("acme/widgets") == []
    assert call(gh, "GET", "/repos/acme/widgets").status_code == 404
    gh.add_repo("acme/widgets")
    gh.push("acme/widgets", BRANCH)
    answer = create(gh)
    assert answer.status_code == 201 and answer.json()["number"] == 1
    assert int(answer.headers["x-ratelimit-remaining"]) > 4000


def test_a_hidden_repo_is_gone_until_it_is_shown_again(gh: GitHubStandIn) -> None:
    """hide_repo(): REST 404 and GraphQL NOT_FOUND; unhide_repo() brings back its state."""
    gh.push("acme/widgets", BRANCH)
    assert create(gh).status_code == 201
    gh.hide_repo("acme/widgets")
    assert call(gh, "GET", "/repos/acme/widgets").status_code == 404
    assert call(gh, "GET", "/repos/acme/widgets/pulls").status_code == 404
    query = '{ repository(owner: "acme", name: "widgets") { name } }'
    answer = call(gh, "POST", "/graphql", json={"query": query}).json()
    assert answer["data"] == {"repository": None}
    assert answer["errors"][0]["type"] == "NOT_FOUND"
    gh.unhide_repo("acme/widgets")
    [pull] = call(gh, "GET", "/repos/acme/widgets/pulls").json()
    assert pull["head"]["ref"] == BRANCH
