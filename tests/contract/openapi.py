"""Checks GitHub requests and responses against GitHub's official OpenAPI description.

Used in two places: the GitHub stand-in checks every exchange it serves (`validate=True`),
and the `github_mock` fixture checks every call made through `responses` in unit tests.

Besides the schema (method, path, query, request body, status, response body, validated
by openapi-core and its `requests` adapters) it enforces what no schema says: an
allow-list of request body keys per operation (GitHub's schemas never forbid unknown
keys), and the headers GitHub asks integrators to send.

    contract = contract_for("http://127.0.0.1:8080")        # or ".../api/v3" for GHES
    problems = contract.check(prepared_request, response)  # [] when both fit
"""

from __future__ import annotations

import copy
import json
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from jsonschema.exceptions import best_match
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.validation.request.exceptions import ParameterValidationError
from requests.structures import CaseInsensitiveDict

SPEC = Path(__file__).parent / "github" / "api.github.com.subset.json"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"

# No GitHub request schema sets additionalProperties: false, so a typo such as
# {"heads": ...} would pass the schema and be silently ignored by GitHub.
BODY_KEYS: dict[tuple[str, str], frozenset[str]] = {
    ("post", "/repos/{owner}/{repo}/pulls"): frozenset(
        {"title", "head", "head_repo", "base", "body", "maintainer_can_modify", "draft", "issue"}
    ),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"): frozenset(
        {"title", "body", "state", "base", "maintainer_can_modify"}
    ),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): frozenset(
        {"reviewers", "team_reviewers"}
    ),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): frozenset({"labels"}),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): frozenset({"body"}),
    ("post", "/app/installations/{installation_id}/access_tokens"): frozenset(
        {"repositories", "repository_ids", "permissions"}
    ),
}

_validate_lock = threading.Lock()  # one validation at a time: the stand-in is threaded


@cache
def spec() -> dict[str, Any]:
    """GitHub's description, parsed once per process (treat as read-only)."""
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


@cache
def _template_index() -> list[tuple[list[str], str]]:
    return [(t.strip("/").split("/"), t) for t in spec()["paths"]]


def match_template(path: str) -> str | None:
    """The description's path template for a concrete, still percent-encoded path."""
    parts = path.strip("/").split("/")
    for tparts, template in _template_index():
        if len(tparts) == len(parts) and all(
            (t.startswith("{") and p != "") or t == p for t, p in zip(tparts, parts, strict=True)
        ):
            return template
    return None


def check_headers(headers: Any) -> list[str]:
    """The headers GitHub asks every integrator to send."""
    lower = CaseInsensitiveDict(headers)
    problems = []
    auth = lower.get("authorization") or ""
    scheme, _, credential = auth.partition(" ")
    if scheme not in ("Bearer", "token") or not credential.strip():
        problems.append("Authorization is not 'Bearer TOKEN' (or 'token TOKEN')")
    if lower.get("accept") != MEDIA_TYPE:
        problems.append(f"Accept is {lower.get('accept')!r}, not {MEDIA_TYPE!r}")
    if lower.get("x-github-api-version") != API_VERSION:
        problems.append(
            f"X-GitHub-Api-Version is {lower.get('x-github-api-version')!r}, not {API_VERSION!r}"
        )
    agent = lower.get("user-agent") or ""
    if not agent.strip() or agent.lower().startswith(("python-requests", "python-urllib")):
        problems.append(f"User-Agent {agent!r} does not name the tool")
    return problems


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes):
        return body
    return b""  # a stream: not inspected


def _explain(err: BaseException) -> str:
    """openapi-core's exception chain as one line: schema errors with their JSON path."""
    found: list[str] = []
    current: BaseException | None = err
    while current is not None:
        for item in list(getattr(current, "schema_errors", None) or [])[:8]:
            if getattr(item, "context", None):  # oneOf/anyOf: the closest branch's complaint
                item = best_match(item.context) or item
            where = "/".join(str(p) for p in getattr(item, "absolute_path", []) or [])
            found.append(f"at /{where}: {getattr(item, 'message', item)}"[:300])
        current = current.__cause__
    if found:
        head = str(err) if isinstance(err, ParameterValidationError) else type(err).__name__
        return f"{head}: " + "; ".join(found)
    return str(err)[:500]


class GitHubContract:
    """GitHub's contract for requests sent to one API base URL.

    `base_url` is where the requests go: "https://api.github.com", a stand-in such as
    "http://127.0.0.1:1234", or GitHub Enterprise Server's "https://HOST/api/v3". It is
    added to the description's `servers`, which list only api.github.com.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an API base URL: {base_url!r}")
        self._base_path = parts.path
        self._origin = (parts.scheme, parts.netloc.lower())
        data = dict(spec())  # shallow: only `servers` differs; paths/components are shared
        data["servers"] = [*copy.deepcopy(spec().get("servers", [])), {"url": self.base_url}]
        self._openapi = OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))

    # ------------------------------------------------------------ public

    def check(self, request: requests.PreparedRequest, response: requests.Response) -> list[str]:
        """Every contract violation by one request and the response it got ([] if none)."""
        problems, target = self._check_request(request)
        if target is None:
            return problems
        template, oapi_request = target
        where = self._where(request)
        if oapi_request is None:  # GraphQL: not in the REST description
            return problems
        declared = spec()["paths"][template][(request.method or "").lower()]["responses"]
        status = response.status_code
        if str(status) in declared or "default" in declared:
            with _validate_lock:
                errors = list(
                    self._openapi.iter_response_errors(
                        oapi_request, RequestsOpenAPIResponse(response)
                    )
                )
            problems += [f"{where}: response {status}: {_explain(e)}" for e in errors]
        elif status in (301, 302, 307, 308):  # a moved repository, on any operation
            if not response.headers.get("location"):
                problems.append(f"{where}: redirect {status} without a Location header")
        elif status < 400:
            problems.append(
                f"{where}: response status {status} is not one GitHub answers "
                f"(declared: {', '.join(declared)})"
            )
        else:
            problems += [f"{where}: response {status}: {p}" for p in _error_shape(response)]
        return problems

    def check_request(self, request: requests.PreparedRequest) -> list[str]:
        """Every contract violation by one request ([] if none)."""
        return self._check_request(request)[0]

    def check_exchange(
        self,
        method: str,
        path_and_query: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
        response_headers: dict[str, str],
        response_body: bytes,
    ) -> list[str]:
        """The same check for a raw exchange (a server's view); the path includes the base's."""
        origin = "{}://{}".format(*self._origin)
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = origin + path_and_query
        prepared.headers = CaseInsensitiveDict(headers)
        prepared.body = body or None
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(response_headers)
        response._content = response_body
        response.url = prepared.url
        response.request = prepared
        return self.check(prepared, response)

    # ------------------------------------------------------------ internals

    def _where(self, request: requests.PreparedRequest) -> str:
        return f"{request.method} {urlsplit(request.url or '').path}"

    def _relative_path(self, url: str) -> str | None:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            return None
        if not parts.path.startswith(self._base_path + "/"):
            return None
        return parts.path[len(self._base_path) :]

    def _check_request(
        self, request: requests.PreparedRequest
    ) -> tuple[list[str], tuple[str, RequestsOpenAPIRequest | None] | None]:
        where = self._where(request)
        method = (request.method or "").lower()
        url = request.url or ""
        problems = [f"{where}: {p}" for p in check_headers(request.headers)]
        body = _body_bytes(request)
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                problems.append(f"{where}: request body is not JSON")
                return problems, None
        if urlsplit(url).path.endswith("/graphql"):  # GHES: /api/graphql, next to /api/v3
            if method != "post":
                problems.append(f"{where}: GraphQL wants POST {{query, variables?}}")
            from tests.contract.graphql import check_graphql  # graphql-core: tests only

            problems += [f"{where}: {p}" for p in check_graphql(parsed)]
            return problems, ("/graphql", None)
        path = self._relative_path(url)
        if path is None:
            problems.append(f"{where}: {url} is not under the API base {self.base_url}")
            return problems, None
        template = match_template(path)
        if template is None or method not in spec()["paths"][template]:
            hint = (
                " (path parameters containing '/' must be sent %2F-encoded)"
                if template is None
                else ""
            )
            problems.append(f"{where}: no such operation in GitHub's description{hint}")
            return problems, None
        allowed = BODY_KEYS.get((method, template))
        if allowed is not None and isinstance(parsed, dict):
            unknown = sorted(set(parsed) - allowed)
            if unknown:
                problems.append(
                    f"{where}: request body keys {unknown} are not parameters of this "
                    f"operation (allowed: {sorted(allowed)})"
                )
        for value in parse_qs(urlsplit(url).query).get("per_page", []):
            if value.isdigit() and int(value) > 100:
                problems.append(f"{where}: per_page={value}; GitHub caps it at 100")
        oapi_request = RequestsOpenAPIRequest(request)
        with _validate_lock:
            errors = list(self._openapi.iter_request_errors(oapi_request))
        problems += [f"{where}: request: {_explain(e)}" for e in errors]
        return problems, (template, oapi_request)


def _error_shape(response: requests.Response) -> list[str]:
    """An error status the operation does not declare: at least GitHub's error shape."""
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        return ["error body is not JSON"]
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return ["error body has no string 'message' (GitHub's basic-error shape)"]
    return []


@cache
def contract_for(base_url: str) -> GitHubContract:
    """The contract for one API base URL, built once per process."""
    return GitHubContract(base_url)


_GHES = re.compile(r"^(/api/v3)(?:/|$)")


def base_url_of(url: str) -> str:
    """The API base a request URL was sent to: scheme://host, plus /api/v3 for GHES."""
    parts = urlsplit(url)
    match = _GHES.match(parts.path)
    return f"{parts.scheme}://{parts.netloc}{match.group(1) if match else ''}"


def check_requests(request: requests.PreparedRequest, response: requests.Response) -> list[str]:
    """Checks one `requests` exchange, deriving the API base from the request URL."""
    return contract_for(base_url_of(request.url or "")).check(request, response)
