"""The movies service's HTTP API against a real PostgreSQL."""

from __future__ import annotations


def test_health(client):
    assert client.get("/api/movies").status_code == 200
    response = client.get("/api/movies/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": True, "database": True}


def test_ready_when_the_database_answers(client):
    response = client.get("/api/movies/ready")
    assert (response.status_code, response.get_json()) == (200, {"status": True, "database": True})


def test_movie_round_trip_without_genres(client):
    created = client.post("/api/movies", json={"title": "Solaris", "description": "", "rating": 8})
    assert created.status_code == 201
    movie = created.get_json()
    assert movie == {"id": movie["id"], "title": "Solaris", "description": "", "genres": [], "rating": 8.0}
    assert client.get(f"/api/movies?id={movie['id']}").get_json() == movie


def test_only_movies_live_here(client):
    assert client.get("/api/users").status_code == 404
    assert client.get("/health").status_code == 404
