"""Checks GitHub requests and responses against GitHub's official OpenAPI description.

Used in two places: the GitHub stand-in checks every exchange it serves, and the
`github_mock` fixture checks every call made through `responses` in unit tests. Besides
the schema (method, path, query, body, status, response body) it enforces what no schema
says: an allow-list of request body keys, and the headers GitHub asks integrators to send.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC = Path(__file__).parent / "github" / "api.github.com.subset.json"
HOST = "https://api.github.com"

BODY_KEYS: dict[tuple[str, str], set[str]] = {
    ("post", "/repos/{owner}/{repo}/pulls"): {
        "title",
        "head",
        "head_repo",
        "base",
        "body",
        "maintainer_can_modify",
        "draft",
        "issue",
    },
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"): {
        "title",
        "body",
        "state",
        "base",
        "maintainer_can_modify",
    },
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): {
        "reviewers",
        "team_reviewers",
    },
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): {"labels"},
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): {"body"},
}


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


@cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec())


def _template(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The spec's path template matching a concrete (still percent-encoded) path."""
    parts = path.strip("/").split("/")
    for template, item in spec()["paths"].items():
        tparts = template.strip("/").split("/")
        same_shape = len(tparts) == len(parts) and all(
            t.startswith("{") or t == p for t, p in zip(tparts, parts, strict=True)
        )
        if same_shape and method in item:
            return template, item[method]
    return None


def check_headers(headers: dict[str, str]) -> list[str]:
    lower = {k.lower(): v for k, v in headers.items()}
    problems = []
    auth = lower.get("authorization", "")
    if not (auth.startswith("Bearer ") or auth.startswith("token ")):
        problems.append("Authorization is not 'Bearer TOKEN'")
    if lower.get("accept") != "application/vnd.github+json":
        problems.append(f"Accept is {lower.get('accept')!r}, not application/vnd.github+json")
    if lower.get("x-github-api-version") != "2022-11-28":
        problems.append("X-GitHub-Api-Version is not pinned to 2022-11-28")
    agent = lower.get("user-agent", "")
    if not agent or agent.startswith("python-requests"):
        problems.append(f"User-Agent {agent!r} does not name the tool")
    return problems


def check_exchange(
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
    status: int,
    response_headers: dict[str, str],
    response_body: bytes,
) -> list[str]:
    """Every violation of the contract by one request and its response."""
    method = method.lower()
    where = f"{method.upper()} {path}"
    if path == "/graphql":
        return []
    found = _template(method, path)
    if found is None:
        return [f"{where}: no such operation in GitHub's description"]
    template, operation = found
    problems = [f"{where}: {p}" for p in check_headers(headers)]
    allowed = BODY_KEYS.get((method, template))
    if body and allowed is not None:
        extra = set(json.loads(body)) - allowed
        if extra:
            problems.append(f"{where}: unknown body keys {sorted(extra)}")
    request = MockRequest(
        HOST,
        method,
        path,
        args={k: v[-1] for k, v in query.items()},
        headers=headers,
        data=body or None,
        content_type="application/json" if body else "",
    )
    try:
        _openapi().validate_request(request)
    except Exception as err:  # openapi-core raises a family of validation errors
        problems.append(f"{where}: request: {_explain(err)}")
    declared = operation.get("responses", {})
    if str(status) in declared or "default" in declared:
        content_type = response_headers.get("content-type", "application/json").split(";")[0]
        response = MockResponse(response_body, status, response_headers, content_type)
        try:
            _openapi().validate_response(request, response)
        except Exception as err:
            problems.append(f"{where}: response {status}: {_explain(err)}")
    return problems


def check_requests(prepared: Any, response: Any) -> list[str]:
    """The same check for a `requests` PreparedRequest and its (mocked) Response."""
    parts = urlsplit(prepared.url)
    path = parts.path
    if "/api/v3/" in path:
        path = path.split("/api/v3", 1)[1]
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return check_exchange(
        prepared.method,
        path,
        parse_qs(parts.query),
        dict(prepared.headers),
        body,
        response.status_code,
        dict(response.headers),
        response.content or b"",
    )


def _explain(err: Exception) -> str:
    causes = []
    current: BaseException | None = err
    while current is not None and len(causes) < 4:
        detail = getattr(current, "schema_errors", None)
        causes.append(str(current) if not detail else "; ".join(str(e.message) for e in detail))
        current = current.__cause__
    return " <- ".join(c for c in causes if c)[:1000]
