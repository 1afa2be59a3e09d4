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
from events_service.app import create_app as create_events
from events_service.app import shutdown as shut_down_events
from events_service.config import Config as EventsConfig
from monolith.app import create_app as create_monolith
from monolith.config import Config as MonolithConfig
from movies_service.app import create_app as create_movies
from movies_service.config import Config as MoviesConfig
from proxy_service.app import create_app as create_gateway
from proxy_service.app import gateway_of
from proxy_service.config import Config as GatewayConfig
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


def paths_of(rule: str) -> list[str]:
    """Return the OpenAPI paths of a Flask rule: ``<any(a, b):x>`` is one path per choice, ``<x>`` is ``{x}``."""
    choice = re.search(r"<any\(([^)]*)\):[^<>]+>", rule)
    if choice:
        return [path for option in choice[1].split(",")
                for path in paths_of(rule[:choice.start()] + option.strip() + rule[choice.end():])]
    return [re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)]


def routes(app: Flask) -> set[tuple[str, str]]:
    """Return (METHOD, path) of every rule of ``app``, in OpenAPI's path syntax."""
    return {
        (method, path)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IMPLICIT
        for path in paths_of(rule.rule)
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


@pytest.fixture
def events_service() -> Iterator[Flask]:
    # Nothing listens on the broker port: the routes are all this test reads.
    app = create_events(EventsConfig(kafka_brokers=(f"127.0.0.1:{free_port()}",), consume_events=False))
    try:
        yield app
    finally:
        shut_down_events(app)


@pytest.fixture
def gateway() -> Iterator[Flask]:
    # Its own routes only: /api never reaches the Flask app, the gateway forwards it first.
    app = create_gateway(GatewayConfig())
    try:
        yield app
    finally:
        gateway_of(app).close()


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


@pytest.mark.parametrize(("tag", "app_fixture"), [
    ("monolith", "monolith"),
    ("movies-service", "movies_service"),
    ("events-service", "events_service"),
])
def test_the_spec_and_the_app_have_the_same_routes(spec, request, tag, app_fixture):
    app = request.getfixturevalue(app_fixture)
    assert routes(app) == operations(spec, tag)


def test_the_gateways_own_routes_are_its_operations_outside_api(spec, gateway):
    own = {(method, path) for method, path in operations(spec, "gateway") if not path.startswith("/api/")}
    assert routes(gateway) == own


def test_the_gateway_serves_every_api_operation_of_every_backend(spec):
    backends = operations(spec, "monolith") | operations(spec, "movies-service") | operations(spec, "events-service")
    api = {(method, path) for method, path in backends if path.startswith("/api/")}
    assert api == {(method, path) for method, path in operations(spec, "gateway") if path.startswith("/api/")}


def test_every_post_documents_its_errors(spec):
    for path, item in spec["paths"].items():
        if "post" in item:
            assert {"201", "400", "413", "415"} <= set(item["post"]["responses"]), path


GUNICORN_STATUSES = {"400", "414", "417", "431", "501"}


def test_every_operation_documents_what_gunicorn_answers_itself(spec):
    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            responses = item[method]["responses"]
            assert set(responses) >= GUNICORN_STATUSES, f"{method} {path}"
            for status in GUNICORN_STATUSES - {"400"}:
                assert responses[status]["$ref"].startswith("#/components/responses/Gunicorn"), f"{method} {path}"


def test_every_error_response_is_the_error_object(spec):
    def resolve(node):
        while "$ref" in node:
            section, name = node["$ref"].split("/")[-2:]
            node = spec["components"][section][name]
        return node

    def requires_error(schema):
        schema = resolve(schema)
        if "oneOf" in schema:
            return all(requires_error(branch) for branch in schema["oneOf"])
        return "error" in schema.get("required", ()) or any(requires_error(part) for part in schema.get("allOf", ()))

    # Health and readiness probes answer 503 with their usual state beside "error".
    probes = ("/ready", "/health")
    for path, item in spec["paths"].items():
        for method in set(item) & set(METHODS):
            for status, response in item[method]["responses"].items():
                if int(status) < 400:
                    continue
                content = resolve(response)["content"]
                if response.get("$ref", "").startswith("#/components/responses/Gunicorn"):
                    # gunicorn's own page, sent before any route: HTML, as openapi.yaml says.
                    assert set(content) == {"text/html"}, f"{method} {path} {status}"
                    continue
                schema = resolve(content["application/json"]["schema"])
                if path.endswith(probes):
                    assert requires_error(schema), f"{method} {path} {status}"
                else:
                    assert schema is spec["components"]["schemas"]["Error"], f"{method} {path} {status}"


def test_paths_of_a_rule():
    assert paths_of("/api/events/<any(movie, user):kind>") == ["/api/events/movie", "/api/events/user"]
    assert paths_of("/api/movies/<int:movie_id>") == ["/api/movies/{movie_id}"]
