"""Each event type's contract, checked before anything reaches Kafka: a 400 names the offending field."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from events_service.events import EVENT_ID_NAMESPACE, EVENT_TYPES, event_id, message_key

MOVIE = {"movie_id": 1, "title": "Solaris", "action": "viewed"}
USER = {"user_id": 7, "action": "logged_in", "timestamp": "2024-05-01T10:00:00Z"}
PAYMENT = {"payment_id": 3, "user_id": 7, "amount": 9.99, "status": "completed", "timestamp": "2024-05-01T10:00:00Z"}
BODIES = {"movie": MOVIE, "user": USER, "payment": PAYMENT}


def _without(body: dict, field: str) -> dict:
    return {key: value for key, value in body.items() if key != field}


INVALID = [
    ("movie", _without(MOVIE, "movie_id"), "movie_id", "is required"),
    ("movie", {**MOVIE, "movie_id": True}, "movie_id", "must be an integer"),
    ("movie", {**MOVIE, "movie_id": "1"}, "movie_id", "must be an integer"),
    ("movie", {**MOVIE, "movie_id": 1.5}, "movie_id", "must be an integer"),
    ("movie", {**MOVIE, "movie_id": 0}, "movie_id", "must be an integer"),
    ("movie", _without(MOVIE, "title"), "title", "is required"),
    ("movie", {**MOVIE, "title": 5}, "title", "must be a string"),
    ("movie", _without(MOVIE, "action"), "action", "is required"),
    ("movie", {**MOVIE, "action": "  "}, "action", "must be a non-empty string"),
    ("movie", {**MOVIE, "user_id": False}, "user_id", "must be an integer"),
    ("movie", {**MOVIE, "rating": "high"}, "rating", "must be a number"),
    ("movie", {**MOVIE, "rating": True}, "rating", "must be a number"),
    ("movie", {**MOVIE, "rating": 11}, "rating", "at most 10"),
    ("movie", {**MOVIE, "genres": "drama"}, "genres", "must be an array"),
    ("movie", {**MOVIE, "genres": ["drama", 1]}, "genres", "must be an array"),
    ("movie", {**MOVIE, "description": 5}, "description", "must be a string"),
    ("user", _without(USER, "user_id"), "user_id", "is required"),
    ("user", {**USER, "user_id": True}, "user_id", "must be an integer"),
    ("user", _without(USER, "action"), "action", "is required"),
    ("user", _without(USER, "timestamp"), "timestamp", "is required"),
    ("user", {**USER, "timestamp": "yesterday"}, "timestamp", "ISO-8601"),
    ("user", {**USER, "timestamp": 1714557600}, "timestamp", "ISO-8601"),
    ("user", {**USER, "timestamp": "2024-13-01T00:00:00"}, "timestamp", "ISO-8601"),
    ("user", {**USER, "username": 5}, "username", "must be a string"),
    ("user", {**USER, "email": ["a@b.c"]}, "email", "must be a string"),
    ("payment", _without(PAYMENT, "payment_id"), "payment_id", "is required"),
    ("payment", {**PAYMENT, "payment_id": True}, "payment_id", "must be an integer"),
    ("payment", _without(PAYMENT, "user_id"), "user_id", "is required"),
    ("payment", {**PAYMENT, "user_id": "7"}, "user_id", "must be an integer"),
    ("payment", _without(PAYMENT, "amount"), "amount", "is required"),
    ("payment", {**PAYMENT, "amount": "9.99"}, "amount", "must be a number"),
    ("payment", {**PAYMENT, "amount": True}, "amount", "must be a number"),
    ("payment", {**PAYMENT, "amount": 0}, "amount", "above 0"),
    ("payment", _without(PAYMENT, "status"), "status", "is required"),
    ("payment", {**PAYMENT, "status": 1}, "status", "must be a string"),
    ("payment", {**PAYMENT, "timestamp": "2024-05-01 25:00"}, "timestamp", "ISO-8601"),
    ("payment", {**PAYMENT, "method_type": 1}, "method_type", "must be a string"),
]


@pytest.mark.parametrize(("kind", "body", "field", "problem"), INVALID)
def test_an_invalid_field_is_a_400_naming_it(offline_app, kind, body, field, problem):
    response = offline_app.test_client().post(f"/api/events/{kind}", json=body)
    assert response.status_code == 400
    assert response.is_json
    message = response.get_json()["error"]
    assert f"'{field}'" in message
    assert problem in message


VALID = [
    ("movie", MOVIE),
    ("movie", {**MOVIE, "user_id": 2, "rating": 8.5, "genres": ["drama", "sci-fi"], "description": ""}),
    ("movie", {**MOVIE, "rating": None, "unknown": "ignored"}),
    ("user", {**USER, "username": "kelvin", "email": "kelvin@solaris.example"}),
    ("user", {**USER, "timestamp": "2024-05-01T13:00:00+03:00"}),
    ("user", {**USER, "timestamp": "2024-05-01"}),
    ("payment", {**PAYMENT, "method_type": "card", "amount": 10}),
]


@pytest.mark.parametrize(("kind", "body"), VALID)
def test_a_valid_body_gets_past_validation_to_the_broker(offline_app, kind, body):
    # The broker is unreachable here, so a body that passed validation is a 503, never a 400.
    response = offline_app.test_client().post(f"/api/events/{kind}", json=body)
    assert response.status_code == 503
    assert "error" in response.get_json()


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"', ""])
def test_a_body_that_is_not_a_json_object_is_a_400(offline_app, data):
    response = offline_app.test_client().post("/api/events/movie", data=data, content_type="application/json")
    assert (response.status_code, response.get_json()) == (400, {"error": "request body must be a JSON object"})


def test_unknown_event_type_and_wrong_method(offline_app):
    client = offline_app.test_client()
    assert (client.post("/api/events/ticket", json=MOVIE).status_code, client.post("/api/events").status_code) == (
        404, 404)
    wrong_method = client.get("/api/events/movie")
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["Allow"]
    assert wrong_method.get_json() == {"error": "method not allowed"}


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "1.5", "5001", "", "+5", " 5", "\u0665"])
def test_recent_limit_must_be_a_count_within_the_buffer(offline_app, limit):
    response = offline_app.test_client().get(f"/api/events/recent?limit={limit}")
    assert response.status_code == 400
    assert response.get_json() == {"error": "query parameter 'limit' must be an integer from 1 to 1000"}


def test_recent_starts_empty(offline_app):
    response = offline_app.test_client().get("/api/events/recent?limit=5")
    assert response.get_json() == {"events": [], "count": 0, "capacity": 1000}


def test_without_a_broker_a_post_is_a_503_within_the_bound(offline_app):
    client = offline_app.test_client()
    for kind, body in BODIES.items():
        started = time.monotonic()
        response = client.post(f"/api/events/{kind}", json=body)
        assert time.monotonic() - started < 1.0 + 0.5
        assert response.status_code == 503
        assert response.get_json()["error"] == ("Kafka is unreachable: the event was not acknowledged by Kafka and "
                                                "may still be published; a retry with the same Idempotency-Key is safe")


def test_without_a_broker_health_is_up_and_readiness_is_not(offline_app):
    client = offline_app.test_client()
    health = client.get("/api/events/health")
    assert health.status_code == 200
    assert health.get_json()["status"] is True
    assert health.get_json()["broker"]["reachable"] is False
    ready = client.get("/api/events/ready")
    assert ready.status_code == 503
    assert ready.get_json()["error"] == "Kafka broker unreachable"


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "bell\x07", "del\x7f"])
def test_a_bad_idempotency_key_is_a_400(offline_app, key):
    response = offline_app.test_client().post("/api/events/movie", json=MOVIE, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "'Idempotency-Key'" in response.get_json()["error"]


@pytest.mark.parametrize("key", ["a", "x" * 255, "order 42/retry=1 \"quoted\" ~!", "7"])
def test_a_good_idempotency_key_gets_past_validation(offline_app, key):
    response = offline_app.test_client().post("/api/events/movie", json=MOVIE, headers={"Idempotency-Key": key})
    assert response.status_code == 503


def test_the_event_id_is_a_uuid5_of_the_type_and_the_key():
    movie, user = EVENT_TYPES["movie"], EVENT_TYPES["user"]
    assert event_id(movie, "k-1") == event_id(movie, "k-1") == str(uuid.uuid5(EVENT_ID_NAMESPACE, "movie\nk-1"))
    assert uuid.UUID(event_id(movie, "k-1")).version == 5
    assert event_id(movie, "k-1") != event_id(user, "k-1")
    assert event_id(movie, "k-1") != event_id(movie, "k-2")
    assert uuid.UUID(event_id(movie, None)).version == 4
    assert event_id(movie, None) != event_id(movie, None)


@pytest.mark.parametrize("kind", ["movie", "user", "payment"])
@pytest.mark.parametrize("spelling", ["7", "7.0", "7e0", "7.000", "0.7e1", "70e-1"])
def test_an_integral_number_is_the_integer_in_the_payload_and_the_key(kind, spelling):
    event_type = EVENT_TYPES[kind]
    body = {**BODIES[kind], event_type.key_field: json.loads(spelling)}
    payload = event_type.validate(body)
    assert payload[event_type.key_field] == 7
    assert type(payload[event_type.key_field]) is int
    assert message_key(event_type, payload) == b"7"


@pytest.mark.parametrize("spelling", ["7", "7.0", "7e0", "7E+0"])
def test_the_json_spellings_of_seven_are_one_integer(spelling):
    data = f'{{"movie_id": {spelling}, "title": "Solaris", "action": "viewed", "user_id": {spelling}}}'
    assert EVENT_TYPES["movie"].validate(json.loads(data)) == {
        "movie_id": 7, "title": "Solaris", "action": "viewed", "user_id": 7}


@pytest.mark.parametrize("value", [7.5, 1e300, -7.0, 0.0])
def test_a_non_integral_or_out_of_range_number_for_an_id_is_a_400(offline_app, value):
    response = offline_app.test_client().post("/api/events/user", json={**USER, "user_id": value})
    assert response.status_code == 400
    assert "'user_id'" in response.get_json()["error"]


HOSTILE = [
    ('{"movie_id": NaN, "title": "a", "action": "b"}', "movie_id"),
    ('{"movie_id": 1, "title": "a", "action": "b", "rating": Infinity}', "rating"),
    ('{"movie_id": 1, "title": "a", "action": "b", "rating": -Infinity}', "rating"),
    ('{"movie_id": 1e400, "title": "a", "action": "b"}', "movie_id"),
    ('{"movie_id": ' + "9" * 5000 + ', "title": "a", "action": "b"}', None),
    ('{"movie_id": 1, "title": "\\ud800", "action": "b"}', "title"),
    ('{"movie_id": 1, "title": "a\\u0000", "action": "b"}', "title"),
    ('{"movie_id": 1, "title": "a", "action": "b", "genres": [' + "[" * 10_000 + "]" * 10_000 + "]}", None),
    ("[" * 20000 + "]" * 20000, None),
]


@pytest.mark.parametrize(("data", "field"), HOSTILE, ids=[f"hostile-{number}" for number in range(len(HOSTILE))])
def test_a_hostile_body_is_a_400_and_never_reaches_the_broker(offline_app, data, field):
    response = offline_app.test_client().post("/api/events/movie", data=data, content_type="application/json")
    assert response.status_code in (400, 413), response.get_data()
    assert response.is_json
    if field is not None:
        assert f"'{field}'" in response.get_json()["error"]


def test_invalid_utf8_and_an_oversized_body_are_json_errors(offline_app):
    client = offline_app.test_client()
    broken = client.post("/api/events/movie", data=b'{"movie_id": 1, "title": "\xff\xfe", "action": "b"}',
                         content_type="application/json")
    assert (broken.status_code, broken.get_json()) == (400, {"error": "request body must be a JSON object"})
    big = client.post("/api/events/movie", data=b'{"title": "' + b"x" * (64 * 1024) + b'"}',
                      content_type="application/json")
    assert big.status_code == 413
    assert big.is_json


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_does_not_say_it_is_json_is_a_415(offline_app, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = offline_app.test_client().post("/api/events/movie", data='{"movie_id": 1, "title": "a", "action": "b"}',
                                              headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]
