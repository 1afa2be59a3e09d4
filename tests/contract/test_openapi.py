"""openapi.yaml is valid OpenAPI and names exactly the routes each service's Flask app has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask
from openapi_spec_validator import validate

from devstack.net import free_port
from monolith.app import create_app as create_monolith
from monolith.config import Config as MonolithConfig
from movies_service.app import create_app as create_movies
from movies_service.config import Config as MoviesConfig
from tests.dbapps import built

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Flask answers these itself for every rule; the spec lists what the services implement.
IMPLICIT = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def spec() -> dict:
    """The parsed spec."""
    return yaml.safe_load(SPEC_PATH.read_text())


def operations(spec: dict, tag: str) -> set[tuple[str, str]]:
    """Return (METHOD, path) of every operation tagged ``tag``."""
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and tag in operation.get("tags", ())
    }


def routes(app: Flask) -> set[tuple[str, str]]:
    """Return (METHOD, path) of every rule of ``app``, in OpenAPI's ``{name}`` path syntax."""
    return {
        (method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IMPLICIT
    }


def unreachable_database() -> str:
    return f"postgresql://nobody@127.0.0.1:{free_port()}/none"


@pytest.fixture
def monolith() -> Iterator[Flask]:
    yield from built(create_monolith, MonolithConfig(db_connection_string=unreachable_database(),
                                                     db_timeout_seconds=0.5))


@pytest.fixture
def movies_service() -> Iterator[Flask]:
    yield from built(create_movies, MoviesConfig(db_connection_string=unreachable_database(),
                                                 db_timeout_seconds=0.5))


def test_the_spec_is_valid_openapi(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_operation_names_the_services_that_serve_it(spec):
    services = {tag["name"] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            tags = item[method].get("tags", [])
            assert tags and set(tags) <= services, f"{method.upper()} {path} is tagged {tags}"


def test_operation_ids_are_unique(spec):
    ids = [item[method]["operationId"] for item in spec["paths"].values() for method in set(item) & set(METHODS)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("tag", "app_fixture"), [("monolith", "monolith"), ("movies-service", "movies_service")])
def test_the_spec_and_the_app_have_the_same_routes(spec, request, tag, app_fixture):
    app = request.getfixturevalue(app_fixture)
    assert routes(app) == operations(spec, tag)


def test_every_post_documents_its_errors(spec):
    for path, item in spec["paths"].items():
        if "post" in item:
            assert {"201", "400", "413"} <= set(item["post"]["responses"]), path


def test_every_error_response_is_the_error_object(spec):
    def resolve(node):
        while "$ref" in node:
            section, name = node["$ref"].split("/")[-2:]
            node = spec["components"][section][name]
        return node

    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            for status, response in item[method]["responses"].items():
                schema = resolve(resolve(response)["content"]["application/json"]["schema"])
                readiness = path.endswith(("/ready", "/api/movies/ready"))
                if int(status) >= 400 and not readiness:
                    assert schema is spec["components"]["schemas"]["Error"], f"{method} {path} {status}"
