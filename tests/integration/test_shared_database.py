"""The monolith and the movies service share one database, so migration is seamless."""

from __future__ import annotations

import pytest

from monolith.app import create_app as create_monolith
from monolith.config import Config as MonolithConfig
from movies_service.app import create_app as create_movies
from movies_service.config import Config as MoviesConfig
from tests.dbapps import built


@pytest.fixture
def both(database_url):
    for monolith in built(create_monolith, MonolithConfig(db_connection_string=database_url)):
        for movies in built(create_movies, MoviesConfig(db_connection_string=database_url)):
            yield monolith.test_client(), movies.test_client()


@pytest.mark.parametrize("writer", [0, 1])
def test_a_movie_written_through_one_is_read_through_the_other(both, writer):
    body = {"title": "Stalker", "description": "The Zone.", "genres": ["sci-fi", "drama"], "rating": 8.1}
    created = both[writer].post("/api/movies", json=body).get_json()
    reader = both[1 - writer]
    assert reader.get(f"/api/movies?id={created['id']}").get_json() == created
    assert created in reader.get("/api/movies").get_json()


def test_both_answer_the_same_errors(both):
    for client in both:
        response = client.post("/api/movies", json={"title": "t", "description": "d", "rating": "high"})
        assert (response.status_code, response.get_json()) == (400, {"error": "field 'rating' must be a number"})


@pytest.mark.parametrize("path", ["/api/movies/health", "/api/movies/ready"])
def test_both_answer_the_movies_health_routes(both, path):
    for client in both:
        assert client.get("/api/movies/ready").status_code == 200
        assert client.get(path).get_json() == {"status": True, "database": True}
