"""The Postman collection calls every operation of openapi.yaml on every service that serves it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
POSTMAN = ROOT / "tests" / "postman"
COLLECTION = POSTMAN / "cinemaabyss.postman_collection.json"
# The environment variable that holds each service's base URL.
BASE_URLS = {"monolith_url": "monolith", "movies_url": "movies-service", "events_url": "events-service",
             "gateway_url": "gateway", "admin_url": "gateway"}
METHODS = ("get", "put", "post", "delete", "patch")


def requests(items: list[dict]) -> list[dict]:
    """Flatten the collection's folders into its requests."""
    flat = []
    for item in items:
        flat.extend(requests(item["item"]) if "item" in item else [item["request"]])
    return flat


def called() -> set[tuple[str, str, str]]:
    """Return (service, METHOD, path) of every request in the collection."""
    collection = json.loads(COLLECTION.read_text())
    calls = set()
    for request in requests(collection["item"]):
        url = request["url"] if isinstance(request["url"], str) else request["url"]["raw"]
        match = re.fullmatch(r"\{\{(\w+)\}\}(/[^?]*)(?:\?.*)?", url)
        assert match, f"{url} does not start with a base URL variable"
        calls.add((BASE_URLS[match[1]], request["method"], match[2]))
    return calls


def test_every_operation_of_every_service_is_called():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {
        (tag, method.upper(), path)
        for path, item in spec["paths"].items()
        for method in set(item) & set(METHODS)
        for tag in item[method]["tags"]
    }
    calls = called()

    def is_called(tag: str, method: str, path: str) -> bool:
        template = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))
        return any(call[:2] == (tag, method) and template.fullmatch(call[2]) for call in calls)

    assert {operation for operation in documented if not is_called(*operation)} == set()


@pytest.mark.parametrize("name", ["local", "docker", "kubernetes"])
def test_every_environment_names_every_base_url(name):
    environment = json.loads((POSTMAN / "environments" / f"{name}.postman_environment.json").read_text())
    keys = {value["key"] for value in environment["values"]}
    assert set(BASE_URLS) <= keys
    assert any(value["key"] == "gateway_url" and value["value"].startswith("http") for value in environment["values"])


def test_the_npm_scripts_run_the_collection_with_each_environment():
    scripts = json.loads((POSTMAN / "package.json").read_text())["scripts"]
    for name in ("local", "docker", "kubernetes"):
        assert f"environments/{name}.postman_environment.json" in scripts[f"test:{name}"]
        assert COLLECTION.name in scripts[f"test:{name}"]
