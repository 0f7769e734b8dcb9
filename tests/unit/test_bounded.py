"""Bounded decoding of cluster content, and the caps on what one Workload may ask for."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import pytest

from sweeper import bounded
from sweeper.bounded import NotJson, Undecodable, Unreadable, decode_items, depth_of, split_list
from sweeper.fields import InvalidInput
from sweeper.model import MAX_ISSUES, MAX_PIPELINE_STEPS, parse_workload
from sweeper.records import RECORD_ANNOTATION, parse_records
from tests.fixtures.foreman import pipeline_step, workload


def page(*items: Any, **meta: Any) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "List", "metadata": meta, "items": list(items)}
    ).encode()


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"x": value}
    return value


def test_split_list_ignores_brackets_and_quotes_inside_strings() -> None:
    """Brackets, escaped quotes and a fake "items" key inside strings do not fool the split."""
    tricky = {"metadata": {"name": 'a]}"items":[{', "namespace": "n"}, "spec": {"s": '\\"[{'}}
    data = page(tricky, {"metadata": {"name": "b"}}, **{"continue": "tok"})
    split = split_list(data)
    assert split.envelope["metadata"] == {"continue": "tok"} and split.envelope["items"] == []
    assert [json.loads(data[s.start : s.end]) for s in split.spans] == [
        tricky,
        {"metadata": {"name": "b"}},
    ]
    assert [s.depth for s in split.spans] == [2, 2]


def test_decode_items_refuses_by_name_what_is_over_the_caps() -> None:
    """Too big or too deep: Unreadable with its name and why; the rest decoded."""
    big = {"metadata": {"name": "big", "namespace": "t", "uid": "u1"}, "spec": {"n": "x" * 5000}}
    deep = {"metadata": {"name": "deep", "namespace": "t"}, "status": nested(150)}
    fine = {"metadata": {"name": "fine"}}
    data = page(fine, big, deep)
    items = list(decode_items(data, split_list(data), max_bytes=4000))
    assert items[0] == fine
    size = len(json.dumps(big))
    assert items[1] == Unreadable("t", "big", "u1", f"{size:,} bytes, more than the 4,000-byte cap")
    assert items[2] == Unreadable("t", "deep", None, "nested 151 levels deep, more than 100")
    assert items[2].describe("agentictasks") == (
        "agentictasks t/deep: nested 151 levels deep, more than 100"
    )


def test_loads_refuses_too_big_too_deep_and_not_json() -> None:
    """loads() never hands a RecursionError or a huge structure to its caller."""
    deep = "[" * 3000 + "]" * 3000
    assert depth_of(deep.encode()) == 3000
    with pytest.raises(Undecodable, match="nested 3000 levels deep"):
        bounded.loads(deep, 1_000_000)
    with pytest.raises(Undecodable, match="more than the 10-byte cap"):
        bounded.loads("[1, 2, 3, 4, 5]", 10)
    with pytest.raises(NotJson):
        bounded.loads("{not json", 100)


def test_an_unterminated_string_is_scanned_in_linear_time() -> None:
    """Adversarial text (escaped quotes, no closing quote) cannot make the scan quadratic."""
    hostile = b'["' + b'\\"' * 500_000  # 1 MB; quadratic would take hours
    started = time.monotonic()
    assert depth_of(hostile) == 1
    assert time.monotonic() - started < 2


def test_a_record_annotation_nested_3000_deep_is_invalid_input() -> None:
    """The attack of issue 20: parse_records used to raise RecursionError through listing."""
    obj = workload("wl", annotations={RECORD_ANNOTATION: "[" * 3000 + "]" * 3000})
    with pytest.raises(InvalidInput, match=f"annotation {RECORD_ANNOTATION} is nested 3000"):
        parse_workload(obj)
    assert parse_records("{not json") == {}  # text no sweeper wrote still counts as absent


def test_more_issues_than_the_cap_is_invalid_input_before_the_set_is_built() -> None:
    """A Workload valid for the CRD (no maxItems) but over MAX_ISSUES is refused."""
    assert len(parse_workload(workload("wl", issues=list(range(1, 1001)))).issues) == MAX_ISSUES
    with pytest.raises(InvalidInput, match=r"spec\.issues lists 150,000 issues, more than 1,000"):
        parse_workload(workload("wl", issues=list(range(1, 150_001))))


def test_more_pipeline_steps_than_the_cap_is_invalid_input() -> None:
    """An explicit pipeline longer than MAX_PIPELINE_STEPS is refused the same way."""
    steps = [pipeline_step(f"s{i}", "code", branch=f"b{i}") for i in range(MAX_PIPELINE_STEPS + 1)]
    with pytest.raises(InvalidInput, match=r"spec\.pipeline has 1,001 steps, more than 1,000"):
        parse_workload(workload("wl", repo=None, pipeline=steps))


def test_a_large_page_is_decoded_an_item_at_a_time() -> None:
    """Over WHOLE_PAGE_BYTES, items are decoded as they are read: the page never exists
    decoded at once (six 100,000-number items: about 22 MB together, 3.6 MB each)."""
    items = [
        {"metadata": {"name": f"w{i}"}, "spec": {"issues": list(range(100_000))}} for i in range(6)
    ]
    data = page(*items)
    assert len(data) > bounded.WHOLE_PAGE_BYTES
    split = split_list(data)
    tracemalloc.start()
    names = []
    for item in decode_items(data, split, max_bytes=1 << 20):
        assert isinstance(item, dict)
        names.append(item["metadata"]["name"])
        del item
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert names == [f"w{i}" for i in range(6)]
    assert peak < 9_000_000, peak
