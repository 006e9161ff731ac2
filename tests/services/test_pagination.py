"""Page tokens: opaque, signed, tied to the request's parameters."""

from __future__ import annotations

import pytest

from openprofiles.errors import Invalid
from openprofiles.services.pagination import PageTokens

ITEMS = [f"item{i:02d}" for i in range(10)]


def fetch(after: str | None, limit: int) -> list[str]:
    return [i for i in ITEMS if after is None or i > after][:limit]


def test_pages_cover_everything_once() -> None:
    pages = PageTokens(b"k" * 32)
    params: dict[str, object] = {"DomainName": "d", "MaxResults": 4}
    seen: list[str] = []
    while True:
        items, token = pages.page("ListThings", params, fetch, lambda i: i)
        seen += items
        if token is None:
            break
        params = {**params, "NextToken": token}
    assert seen == ITEMS


def test_exact_multiple_has_no_empty_last_page() -> None:
    items, token = PageTokens(b"k" * 32).page("ListThings", {"MaxResults": 10}, fetch, lambda i: i)
    assert len(items) == 10 and token is None


def test_token_rejected_with_other_parameters_or_tampered() -> None:
    pages = PageTokens(b"k" * 32)
    _, token = pages.page("ListThings", {"DomainName": "d", "MaxResults": 2}, fetch, lambda i: i)
    assert token is not None
    with pytest.raises(Invalid, match="different parameters"):
        pages.page("ListThings", {"DomainName": "e", "NextToken": token}, fetch, lambda i: i)
    with pytest.raises(Invalid, match="different parameters"):
        pages.page("ListOther", {"DomainName": "d", "NextToken": token}, fetch, lambda i: i)
    with pytest.raises(Invalid, match="not a token"):
        pages.page("ListThings", {"DomainName": "d", "NextToken": token[:-2] + "AA"}, fetch, lambda i: i)
    with pytest.raises(Invalid, match="not a token"):
        PageTokens(b"j" * 32).page("ListThings", {"DomainName": "d", "NextToken": token}, fetch, lambda i: i)
    # The page size may change between pages.
    items, _ = pages.page("ListThings", {"DomainName": "d", "MaxResults": 5, "NextToken": token}, fetch, lambda i: i)
    assert items == ITEMS[2:7]


def test_app_flow_member_names() -> None:
    pages = PageTokens(b"k" * 32)
    _, token = pages.page("ListFlows", {"maxResults": 3}, fetch, lambda i: i,
                          token_member="nextToken", size_member="maxResults")
    items, _ = pages.page("ListFlows", {"maxResults": 3, "nextToken": token}, fetch, lambda i: i,
                          token_member="nextToken", size_member="maxResults")
    assert items == ITEMS[3:6]
