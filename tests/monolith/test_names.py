"""Usernames and e-mail addresses: one identity per NFKC, case-folded spelling, enforced by the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"


@pytest.mark.parametrize("username", ["Alice", "ALICE", "alice", FULLWIDTH_ALICE, "\uff21lice", "aLiCe"])
def test_usernames_that_read_the_same_collide(client, username):
    response = client.post("/api/users", json={"username": username, "email": "fresh@example.com"})
    assert response.status_code == 409
    assert response.get_json() == {"error": "username is already taken"}


@pytest.mark.parametrize("email", ["Alice@CinemaAbyss.Example", "ALICE@cinemaabyss.example",
                                   f"{FULLWIDTH_ALICE}@cinemaabyss.example"])
def test_email_addresses_that_read_the_same_collide(client, email):
    response = client.post("/api/users", json={"username": "fresh", "email": email})
    assert response.status_code == 409
    assert response.get_json() == {"error": "email is already taken"}


def test_case_folding_is_unicode_not_ascii(client):
    assert client.post("/api/users", json={"username": "Stra\u00dfe", "email": "s1@example.com"}).status_code == 201
    response = client.post("/api/users", json={"username": "STRASSE", "email": "s2@example.com"})
    assert response.status_code == 409


def test_the_nfkc_form_as_sent_is_stored_and_returned(client):
    response = client.post("/api/users", json={"username": "\uff24ave", "email": "Dave@Example.com"})
    assert response.status_code == 201
    user = response.get_json()
    assert (user["username"], user["email"]) == ("Dave", "Dave@Example.com")
    assert client.get(f"/api/users?id={user['id']}").get_json() == user


@pytest.mark.parametrize("username", [
    "ali\u200bce",   # zero-width space
    "\u202eecila",   # right-to-left override
    "\ufeffalice2",  # byte order mark
    "ali\u00adce",   # soft hyphen
    "ali\u200dce",   # zero-width joiner
    "bell\x07",      # a control character
    "sep\x1c",
    "line\nbreak",
])
def test_control_and_format_characters_are_400(client, username):
    response = client.post("/api/users", json={"username": username, "email": "cf@example.com"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'username' must be free of control and format characters"}


@pytest.mark.parametrize("username", ["   ", "\u3000", "\u00a0\u2003", " \t"])
def test_blank_names_are_400(client, username):
    response = client.post("/api/users", json={"username": username, "email": "blank@example.com"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'username' must be a non-empty string"}


def test_an_email_with_a_format_character_is_400(client):
    response = client.post("/api/users", json={"username": "zw", "email": "zw\u200b@example.com"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'email' must be free of control and format characters"}


def test_racing_variants_of_one_name_create_exactly_one(app):
    spellings = ["Zed", "zed", "ZED", "\uff5a\uff45\uff44", "zeD", "\uff3aed", "zEd", "ZeD"] * 2

    def create(number):
        with app.test_client() as client:
            return client.post("/api/users", json={"username": spellings[number], "email": f"z{number}@example.com"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(response.status_code for response in pool.map(create, range(len(spellings))))
    assert statuses == [201] + [409] * (len(spellings) - 1)
