"""Bounded lists: ?limit= and ?offset=, id order, and a relative Link to the next page."""

from __future__ import annotations

import re

import pytest

LISTS = ["/api/users", "/api/movies", "/api/payments", "/api/subscriptions"]


def _next_link(response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match[1]


def _create_movies(client, count: int) -> None:
    for number in range(count):
        response = client.post("/api/movies", json={"title": f"m{number}", "description": "", "rating": 1})
        assert response.status_code == 201


@pytest.mark.parametrize("path", LISTS)
def test_a_short_list_is_one_page_without_a_link(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert isinstance(response.get_json(), list)
    assert "Link" not in response.headers


def test_following_next_links_reads_every_row_once_in_id_order(client):
    _create_movies(client, 12)
    everything = client.get("/api/movies").get_json()
    seen, target, pages = [], "/api/movies?limit=5", 0
    while target:
        response = client.get(target)
        assert response.status_code == 200
        page = response.get_json()
        assert 1 <= len(page) <= 5
        seen += page
        pages += 1
        target = _next_link(response)
        if target:
            assert target.startswith("/api/movies?limit=5&offset=")
    assert seen == everything
    assert [movie["id"] for movie in seen] == sorted(movie["id"] for movie in seen)
    assert pages == -(-len(everything) // 5)


def test_the_default_page_is_100_rows(client):
    _create_movies(client, 100)
    response = client.get("/api/movies")
    assert len(response.get_json()) == 100
    assert _next_link(response) == "/api/movies?limit=100&offset=100"
    rest = client.get(_next_link(response))
    assert rest.get_json()[0]["id"] > response.get_json()[-1]["id"]
    assert "Link" not in rest.headers


def test_an_offset_past_the_end_is_an_empty_page(client):
    response = client.get("/api/users?offset=1000000")
    assert (response.status_code, response.get_json()) == (200, [])
    assert "Link" not in response.headers


def test_the_link_keeps_the_user_filter(client):
    for amount in (1, 2, 3):
        assert client.post("/api/payments", json={"user_id": 3, "amount": amount}).status_code == 201
    response = client.get("/api/payments?user_id=3&limit=2")
    assert [payment["amount"] for payment in response.get_json()] == [1, 2]
    assert _next_link(response) == "/api/payments?user_id=3&limit=2&offset=2"
    assert [payment["amount"] for payment in client.get(_next_link(response)).get_json()] == [3]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "offset=-1", "limit=%2B1"])
def test_out_of_range_pages_are_400_never_clamped(client, path, query):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("query parameter '")


def test_the_largest_page_is_allowed(client):
    assert client.get("/api/movies?limit=1000&offset=0").status_code == 200
