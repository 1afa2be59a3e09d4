"""What every body endpoint and every path of a backend refuses, as the contract says."""

from __future__ import annotations

import pytest

BODIES = {
    "/api/users": '{"username": "ct", "email": "ct@example.com"}',
    "/api/movies": '{"title": "t", "description": "", "rating": 1}',
    "/api/payments": '{"user_id": 1, "amount": 1}',
    "/api/subscriptions": '{"user_id": 1, "plan_type": "basic", "start_date": "2026-01-01",'
                          ' "end_date": "2026-02-01"}',
}


@pytest.mark.parametrize("path", BODIES)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/problem+json",
                                          "application/jsonx", "text/json"])
def test_a_body_that_does_not_say_json_is_415(client, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, data=BODIES[path], headers=headers)
    assert response.status_code == 415
    assert response.get_json() == {"error": "Content-Type must be application/json"}
    assert client.get(path).get_json()[-1] != response.get_json()


@pytest.mark.parametrize("path", BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8"])
def test_json_with_parameters_is_json(client, path, content_type):
    response = client.post(path, data=BODIES[path], headers={"Content-Type": content_type})
    assert response.status_code == 201


def test_a_text_plain_post_writes_nothing(client):
    before = client.get("/api/users").get_json()
    client.post("/api/users", data=BODIES["/api/users"], content_type="text/plain")
    assert client.get("/api/users").get_json() == before


@pytest.mark.parametrize("path", ["/api//users", "/api/users/", "/api/movies//", "/health/", "/api///payments"])
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_doubled_or_trailing_slashes_are_404_json_never_a_redirect(client, path, method):
    response = client.open(path, method=method, json={})
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found"}
    assert "Location" not in response.headers


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/users", "GET, HEAD, OPTIONS, POST"),
    ("/api/movies", "GET, HEAD, OPTIONS, POST"),
    ("/health", "GET, HEAD, OPTIONS"),
])
def test_options_is_204_with_allow(client, path, allow):
    response = client.options(path)
    assert response.status_code == 204
    assert response.headers["Allow"] == allow
    assert response.data == b""
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("raw", ["+5", "%205", "5%20", "%D9%A5", "%EF%BC%95", "5_0", "", "0", "1001", "-1",
                                 "1e2", "0x10"])
def test_limit_is_an_ascii_integer_from_1_to_1000(client, raw):
    response = client.get(f"/api/movies?limit={raw}")
    assert response.status_code == 400
    assert response.get_json() == {"error": "query parameter 'limit' must be an integer from 1 to 1000"}


@pytest.mark.parametrize("raw", ["+1", "%201", "%D9%A1", "-1", "1.5", ""])
def test_offset_is_an_ascii_integer_of_at_least_0(client, raw):
    response = client.get(f"/api/users?offset={raw}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("query parameter 'offset' must be an integer from 0 to ")
