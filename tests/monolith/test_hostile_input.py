"""Inputs the schemathesis run found or could find: each is a 4xx, never a 500 or a bad row."""

from __future__ import annotations

import pytest

SUBSCRIPTION = {"user_id": 1, "plan_type": "basic", "start_date": "2026-01-01T00:00:00Z",
                "end_date": "2026-02-01T00:00:00Z"}


def test_deeply_nested_json_is_400_not_500(client):
    response = client.post("/api/movies", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": "request body must be a JSON object"}


@pytest.mark.parametrize(("path", "body"), [
    ("/api/movies", '{"title": "\\ud800", "description": "", "rating": 1}'),
    ("/api/movies", '{"title": "t", "description": "\\udfff", "rating": 1}'),
    ("/api/users", '{"username": "x\\ud83d", "email": "x@example.com"}'),
])
def test_lone_surrogates_are_400_not_500(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"].endswith("must be a string")


def test_lone_surrogate_in_genres_is_400(client):
    body = '{"title": "t", "description": "", "rating": 1, "genres": ["\\ud800"]}'
    response = client.post("/api/movies", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("field 'genres' must be an array")


def test_email_with_a_trailing_newline_is_refused(client):
    response = client.post("/api/users", json={"username": "nl", "email": "nl@example.com\n"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'email' must be an e-mail address"}


@pytest.mark.parametrize("amount", [0.001, 0.0049, 0])
def test_amount_below_one_cent_is_refused_not_stored_as_zero(client, amount):
    response = client.post("/api/payments", json={"user_id": 1, "amount": amount})
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'amount' must be a number of at least 0.01"}


def test_one_cent_is_a_payment(client):
    response = client.post("/api/payments", json={"user_id": 1, "amount": 0.01})
    assert response.status_code == 201
    assert response.get_json()["amount"] == 0.01


@pytest.mark.parametrize("moment", [
    "0001-01-01T00:00:00+05:00",   # before year 1 in UTC
    "9999-12-31T23:59:59-05:00",   # after year 9999 in UTC
    "0001-06-01",
    "9999-01-01T00:00:00Z",
])
def test_timestamps_that_could_not_be_read_back_are_400_not_500(client, moment):
    response = client.post("/api/subscriptions", json={**SUBSCRIPTION, "start_date": moment, "end_date": moment})
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "field 'start_date' must be an ISO-8601 date-time with a year from 2 to 9998")


@pytest.mark.parametrize(("start", "stored"), [
    ("0002-01-01T14:00:00+14:00", "0002-01-01T00:00:00+00:00"),
    ("9998-12-31T09:59:59-14:00", "9998-12-31T23:59:59+00:00"),
])
def test_the_extreme_years_allowed_are_stored_and_read_back(client, start, stored):
    response = client.post("/api/subscriptions", json={**SUBSCRIPTION, "start_date": start, "end_date": start})
    assert response.status_code == 201
    assert response.get_json()["start_date"] == stored


@pytest.mark.parametrize("moment", [
    "0002-01-01T00:00:00+23:59",   # written in year 2, year 1 in UTC
    "0002-01-01T00:00:00+14:00",
    "9998-12-31T23:59:59-14:00",   # written in year 9998, year 9999 in UTC
])
def test_the_year_limits_hold_for_the_instant_in_utc(client, moment):
    response = client.post("/api/subscriptions", json={**SUBSCRIPTION, "start_date": moment, "end_date": moment})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("field 'start_date' must be an ISO-8601 date-time")


@pytest.mark.parametrize("raw", ["%201", "1%20", "+1", "%D9%A3", "1_0", "", "-9223372036854775809",
                                 "9223372036854775808", "1" * 31])
@pytest.mark.parametrize("name", ["id", "user_id"])
def test_query_ids_are_ascii_decimal_64_bit_integers(client, raw, name):
    response = client.get(f"/api/payments?{name}={raw}")
    assert response.status_code == 400
    assert response.get_json() == {"error": f"query parameter '{name}' must be a 64-bit integer"}


def test_a_query_id_with_a_fraction_of_zeros_is_that_integer(client):
    assert client.get("/api/users?id=2.0").get_json()["id"] == 2
    assert client.get("/api/payments?user_id=2.00").status_code == 200
    assert client.get("/api/users?id=2.5").status_code == 400


@pytest.mark.parametrize("raw", ["-1", "0", "-9223372036854775808"])
def test_an_integer_that_names_no_row_is_404_or_an_empty_list(client, raw):
    response = client.get(f"/api/users?id={raw}")
    assert response.status_code == 404
    assert response.get_json() == {"error": f"user {raw} not found"}
    assert client.get(f"/api/subscriptions?user_id={raw}").get_json() == []


@pytest.mark.parametrize("user_id", [2.0, 2])
def test_an_integral_number_is_an_integer_as_in_json_schema(client, user_id):
    response = client.post("/api/payments", json={"user_id": user_id, "amount": 1})
    assert response.status_code == 201
    assert response.get_json()["user_id"] == 2


@pytest.mark.parametrize("user_id", [2.5, 1e19, True, "2"])
def test_other_numbers_are_not_integers(client, user_id):
    response = client.post("/api/payments", json={"user_id": user_id, "amount": 1})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("field 'user_id' must be an integer")


@pytest.mark.parametrize(("field", "value", "stored"), [
    ("username", "a\u3000b", "a b"),   # NFKC: the ideographic space is a space
    ("username", "\uff57\uff53", "ws"),  # fullwidth letters are letters
    ("email", "ws@example.com", "ws@example.com"),
])
def test_names_are_stored_in_nfkc_form(client, field, value, stored):
    body = {"username": "ws", "email": "ws@example.com", field: value}
    response = client.post("/api/users", json=body)
    assert response.status_code == 201
    assert response.get_json()[field] == stored


@pytest.mark.parametrize(("field", "value"), [("username", " \t\r\n\f\v"), ("email", "a b@example.com")])
def test_ascii_white_space_is_still_blank(client, field, value):
    body = {"username": "ws", "email": "ws@example.com", field: value}
    assert client.post("/api/users", json=body).status_code == 400
