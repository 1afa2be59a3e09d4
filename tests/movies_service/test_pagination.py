"""The movies service pages its list exactly as the monolith does."""

from __future__ import annotations


def test_movies_are_paged_with_a_relative_next_link(client):
    first = client.get("/api/movies?limit=2")
    assert first.status_code == 200
    assert len(first.get_json()) == 2
    assert first.headers["Link"] == '</api/movies?limit=2&offset=2>; rel="next"'
    second = client.get("/api/movies?limit=2&offset=2").get_json()
    assert second[0]["id"] > first.get_json()[-1]["id"]


def test_a_bad_limit_is_400(client):
    response = client.get("/api/movies?limit=%EF%BC%95")
    assert response.status_code == 400
    assert response.get_json() == {"error": "query parameter 'limit' must be an integer from 1 to 1000"}
