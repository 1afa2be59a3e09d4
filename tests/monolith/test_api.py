"""The monolith's HTTP API against a real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


def test_health_reports_the_database_as_last_seen(client):
    assert client.get("/api/users").status_code == 200
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": True, "database": True}


@pytest.mark.parametrize("path", ["/api/users", "/api/movies", "/api/payments", "/api/subscriptions"])
def test_seeded_lists_have_integer_ids(client, path):
    rows = client.get(path).get_json()
    assert len(rows) >= 2
    assert all(isinstance(row["id"], int) for row in rows)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)


def test_seeded_movies_have_genres_and_numeric_ratings(client):
    movies = client.get("/api/movies").get_json()
    assert set(movies[0]) == {"id", "title", "description", "genres", "rating"}
    assert all(movie["genres"] for movie in movies)
    assert all(isinstance(movie["rating"], float) for movie in movies)


def test_user_round_trip(client):
    created = client.post("/api/users", json={"username": "dave", "email": "dave@example.com"})
    assert created.status_code == 201
    user = created.get_json()
    assert user == {"id": user["id"], "username": "dave", "email": "dave@example.com"}
    assert client.get(f"/api/users?id={user['id']}").get_json() == user


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "alice", "email": "new@example.com"}, "username"),
    ({"username": "newcomer", "email": "alice@cinemaabyss.example"}, "email"),
])
def test_taken_username_or_email_is_a_conflict(client, body, field):
    response = client.post("/api/users", json=body)
    assert response.status_code == 409
    assert response.get_json() == {"error": f"{field} is already taken"}


def test_payment_is_stamped_by_the_server_and_filtered_by_user(client):
    created = client.post("/api/payments", json={"user_id": 2, "amount": 5})
    assert created.status_code == 201
    payment = created.get_json()
    assert payment["amount"] == 5 and payment["user_id"] == 2 and payment["timestamp"].startswith("20")
    mine = client.get("/api/payments?user_id=2").get_json()
    assert payment in mine and {row["user_id"] for row in mine} == {2}
    assert client.get(f"/api/payments?id={payment['id']}").get_json() == payment


def test_subscription_round_trip(client):
    body = {"user_id": 3, "plan_type": "family", "start_date": "2026-03-01T00:00:00Z",
            "end_date": "2026-09-01T00:00:00+02:00"}
    created = client.post("/api/subscriptions", json=body)
    assert created.status_code == 201
    subscription = created.get_json()
    assert subscription["start_date"] == "2026-03-01T00:00:00+00:00"
    assert subscription["end_date"] == "2026-08-31T22:00:00+00:00"
    assert client.get("/api/subscriptions?user_id=3").get_json() == [subscription]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("POST", "/api/users", "not json", 400, "request body must be a JSON object"),
    ("POST", "/api/users", [1, 2], 400, "request body must be a JSON object"),
    ("POST", "/api/users", {"email": "a@b.c"}, 400, "field 'username' is required"),
    ("POST", "/api/users", {"username": 7, "email": "a@b.c"}, 400, "field 'username' must be a string"),
    ("POST", "/api/users", {"username": "x", "email": "nope"}, 400, "field 'email' must be an e-mail address"),
    ("POST", "/api/users", {"username": "a\u0000b", "email": "a@b.c"}, 400, "field 'username' must be a string"),
    ("POST", "/api/payments", {"user_id": "1", "amount": 3}, 400, "field 'user_id' must be an integer"),
    ("POST", "/api/payments", {"user_id": True, "amount": 3}, 400, "field 'user_id' must be an integer"),
    ("POST", "/api/payments", {"user_id": 1, "amount": "3"}, 400, "field 'amount' must be a number"),
    ("POST", "/api/payments", {"user_id": 1, "amount": -3}, 400, "field 'amount' must be a number of at least 0.01"),
    ("POST", "/api/payments", {"user_id": 999, "amount": 3}, 404, "user 999 not found"),
    ("POST", "/api/subscriptions", {"user_id": 1, "plan_type": "x", "start_date": "yesterday",
                                    "end_date": "2026-01-01"}, 400, "field 'start_date' must be an ISO-8601"),
    ("POST", "/api/subscriptions", {"user_id": 1, "plan_type": "x", "start_date": "2026-02-01",
                                    "end_date": "2026-01-01"}, 400, "field 'end_date' must not be before"),
    ("POST", "/api/subscriptions", {"user_id": 404, "plan_type": "x", "start_date": "2026-01-01",
                                    "end_date": "2026-02-01"}, 404, "user 404 not found"),
    ("POST", "/api/movies", {"title": "t", "description": "d", "rating": 11}, 400,
     "field 'rating' must be a number of at most 10"),
    ("POST", "/api/movies", {"title": "t", "description": "d", "rating": 5, "genres": "drama"}, 400,
     "field 'genres' must be an array"),
    ("GET", "/api/users?id=abc", None, 400, "query parameter 'id' must be a 64-bit integer"),
    ("GET", "/api/payments?user_id=1.5", None, 400, "query parameter 'user_id' must be a 64-bit integer"),
    ("GET", "/api/users?id=424242", None, 404, "user 424242 not found"),
    ("GET", "/api/movies?id=0", None, 404, "movie 0 not found"),
    ("GET", "/api/subscriptions?id=9223372036854775807", None, 404, "subscription 9223372036854775807 not found"),
    ("GET", "/api/subscriptions?id=9223372036854775808", None, 400, "query parameter 'id' must be a 64-bit"),
    ("GET", "/api/nothing-here", None, 404, "not found"),
    ("DELETE", "/api/users", None, 405, "method not allowed"),
    ("PUT", "/api/movies", {}, 405, "method not allowed"),
])
def test_bad_requests_get_json_errors(client, method, path, body, status, message):
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.get_json()["error"].startswith(message)


def test_wrong_method_lists_the_allowed_ones(client):
    assert client.delete("/api/movies").headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_oversized_body_is_413(client):
    response = client.post("/api/movies", data=b"x" * (1024 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "request body too large"}


def test_concurrent_creates_get_distinct_ids(app):
    def create(number):
        with app.test_client() as client:
            return client.post("/api/users", json={"username": f"u{number}", "email": f"u{number}@example.com"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(40)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.get_json()["id"] for response in responses}) == 40


def test_concurrent_duplicate_username_creates_exactly_one(app):
    def create(number):
        with app.test_client() as client:
            return client.post("/api/users", json={"username": "same", "email": f"s{number}@example.com"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(response.status_code for response in pool.map(create, range(16)))
    assert statuses == [201] + [409] * 15
