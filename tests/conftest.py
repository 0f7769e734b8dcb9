from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.contract.openapi import check_requests


@pytest.fixture
def github_mock() -> Iterator[responses.RequestsMock]:
    """`responses` for GitHub calls; every request and canned response must fit GitHub's spec."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        problems = []
        for call in mock.calls:
            if call.response is not None and not isinstance(call.response, Exception):
                problems += check_requests(call.request, call.response)
        assert not problems, "\n".join(problems)
