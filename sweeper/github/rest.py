"""The REST endpoints the sweeper's acts use: single reads, and every write.

Reads: a repository's default branch, a branch head (one `matching-refs` listing per
repository and branch prefix), the PRs of a head, a commit's message, and a branch's whole
view when GraphQL is refused. Writes: open, refresh, close, comment, mark ready (a GraphQL
mutation: REST's `draft` is read-only), request reviewers, label. A create is sent once:
a lost answer raises Transient and the caller re-checks by head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sweeper.budget import GRAPHQL
from sweeper.core import Pull
from sweeper.fields import as_mapping
from sweeper.github.calls import Caller
from sweeper.github.transport import (
    GitHubConflict,
    GitHubError,
    GitHubNotFound,
    RepoUnreachable,
    graphql_error,
    json_of,
)
from sweeper.lookups import Lookup, View

PER_PAGE = 100


def parse_pull(item: Any) -> Pull | None:
    """A list or single PR object; merged means `merged_at` is set (lists have no `merged`)."""
    if not isinstance(item, Mapping):
        return None
    number, url = item.get("number"), item.get("html_url")
    if not isinstance(number, int) or not isinstance(url, str):
        return None
    head = as_mapping(item.get("head"))
    sha, body, node = head.get("sha"), item.get("body"), item.get("node_id")
    return Pull(
        number=number,
        url=url,
        state=str(item.get("state")),
        merged=bool(item.get("merged_at")) or item.get("merged") is True,
        head_sha=sha if isinstance(sha, str) else None,
        draft=item.get("draft") is True,
        body=body if isinstance(body, str) else None,
        node_id=node if isinstance(node, str) and node else None,
    )


def _ref_sha(item: Any) -> str | None:
    sha = item.get("object", {}).get("sha") if isinstance(item, Mapping) else None
    return sha if isinstance(sha, str) else None


class Rest:
    def __init__(self, caller: Caller) -> None:
        self._call = caller
        self._default_branches: dict[str, str] = {}
        self._heads: dict[tuple[str, str], dict[str, str]] = {}

    # ------------------------------------------------------------ reads

    def default_branch(self, repo: str) -> str:
        if repo not in self._default_branches:
            body = self._call.send("GET", f"/repos/{repo}")
            branch = body.get("default_branch") if isinstance(body, Mapping) else None
            if not isinstance(branch, str) or not branch:
                raise GitHubError(f"{repo} reports no default branch")
            self._default_branches[repo] = branch
        return self._default_branches[repo]

    def branch_head(self, repo: str, branch: str) -> str | None:
        """The branch's head SHA (None: no such branch), from one listing per repository
        and branch prefix. Raises RepoUnreachable when the repository itself is not there
        for the token: that is no missing branch."""
        prefix = branch.split("/", 1)[0] + "/" if "/" in branch else None
        if prefix is None:
            try:
                body = self._call.send(
                    "GET", f"/repos/{repo}/git/ref/{quote('heads/' + branch, safe='')}"
                )
            except GitHubConflict:
                return None  # an empty repository: no branch at all
            except GitHubNotFound:  # no such ref, or no such repository: GitHub says 404 to both
                self._must_exist(repo)
                return None
            return _ref_sha(body)
        key = (repo, prefix)
        if key not in self._heads:
            self._heads[key] = self._list_heads(repo, prefix)
        return self._heads[key].get(branch)

    def _list_heads(self, repo: str, prefix: str) -> dict[str, str]:
        heads: dict[str, str] = {}
        path = f"/repos/{repo}/git/matching-refs/{quote('heads/' + prefix, safe='')}"
        try:
            for item in self._call.pages(path, {"per_page": PER_PAGE}):
                ref = item.get("ref") if isinstance(item, Mapping) else None
                sha = _ref_sha(item)
                if isinstance(ref, str) and ref.startswith("refs/heads/") and sha:
                    heads[ref.removeprefix("refs/heads/")] = sha
        except GitHubConflict:
            pass  # an empty repository: no branches
        except GitHubNotFound:  # a listing of a repository that is there is never 404
            raise RepoUnreachable(repo) from None
        return heads

    def _must_exist(self, repo: str) -> None:
        try:
            self.default_branch(repo)
        except GitHubNotFound:
            raise RepoUnreachable(repo) from None

    def pulls_for_head(self, repo: str, head: str) -> list[Pull]:
        """Every PR of `repo` whose head is `owner:branch` (the owner prefix is required)."""
        params = {"state": "all", "head": head, "per_page": PER_PAGE}
        try:
            items = list(self._call.pages(f"/repos/{repo}/pulls", params))
        except GitHubNotFound:  # a listing: only the repository can be missing
            raise RepoUnreachable(repo) from None
        return [p for p in map(parse_pull, items) if p is not None]

    def commit_message(self, repo: str, ref: str) -> str | None:
        try:
            body = self._call.send("GET", f"/repos/{repo}/commits/{quote(ref, safe='')}")
        except GitHubNotFound:
            return None
        message = body.get("commit", {}).get("message") if isinstance(body, Mapping) else None
        return message if isinstance(message, str) else None

    def lookup_rest(self, lookup: Lookup) -> View:
        """The same view by REST, for a token GraphQL refuses: two reads per branch at most."""
        head = self.branch_head(lookup.head_repo, lookup.branch)
        return View(head, tuple(self.pulls_for_head(lookup.repo, lookup.head)))

    # ------------------------------------------------------------ writes

    def create_pull(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> Pull:
        """POST once. A lost answer raises Transient: the caller re-checks by head."""
        payload: dict[str, Any] = {"title": title, "head": head, "base": base, "body": body}
        if draft:
            payload["draft"] = True
        created = parse_pull(self._call.send("POST", f"/repos/{repo}/pulls", json=payload))
        if created is None:
            raise GitHubError("GitHub answered the create without a pull request")
        return created

    def update_body(self, repo: str, number: int, body: str) -> Pull:
        """PATCH the body only: title, state and base stay as people left them."""
        answer = self._call.send("PATCH", f"/repos/{repo}/pulls/{number}", json={"body": body})
        updated = parse_pull(answer)
        if updated is None:
            raise GitHubError("GitHub answered the update without a pull request")
        return updated

    def close_pull(self, repo: str, number: int, body: str) -> Pull:
        """Close a PR and say why in its body, in one PATCH."""
        # Safety, not work: the reserve never keeps unreviewed code open.
        url = f"{self._call.api_url}/repos/{repo}/pulls/{number}"
        payload = {"state": "closed", "body": body}
        response = self._call.request(
            "PATCH", url, json=payload, kind="write", reserve=False, repo=repo
        )
        closed = parse_pull(json_of(response))
        if closed is None:
            raise GitHubError("GitHub answered the close without a pull request")
        return closed

    def comment(self, repo: str, number: int, text: str) -> None:
        """A comment on a PR (to GitHub, every PR is an issue)."""
        self._call.send("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": text})

    def mark_ready(self, node_id: str, repo: str) -> None:
        """Draft to ready for review: only GraphQL can (REST's `draft` is read-only)."""
        query = (
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
            " { pullRequest { isDraft } } }"
        )
        answer = self._call.mutate({"query": query, "variables": {"id": node_id}}, repo)
        error = graphql_error(answer, self._call.bucket_for(GRAPHQL, repo))
        if error is not None:
            raise error

    def request_reviewers(
        self, repo: str, number: int, reviewers: Sequence[str], teams: Sequence[str]
    ) -> None:
        payload: dict[str, Any] = {}
        if reviewers:
            payload["reviewers"] = list(reviewers)
        if teams:
            payload["team_reviewers"] = list(teams)
        path = f"/repos/{repo}/pulls/{number}/requested_reviewers"
        self._call.send("POST", path, json=payload)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Labels a PR through the issues API (to it, every PR is an issue)."""
        path = f"/repos/{repo}/issues/{number}/labels"
        self._call.send("POST", path, json={"labels": list(labels)})
