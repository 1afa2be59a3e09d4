"""docker-compose.yml: valid against the compose-spec schema, and wired the way the services expect."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from events_service.events import TOPICS
from tests.deploy import compose_support as compose
from tests.deploy import docker_support as docker

COMPOSE = compose.load()
SERVICES = COMPOSE["services"]
BUILT = compose.built_services(COMPOSE)


def _validate(path) -> subprocess.CompletedProcess:
    # The schema ships inside check-jsonschema (vendor.compose-spec): no download.
    command = [str(docker.TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def _one_shot(name: str) -> bool:
    return any(compose.dependencies(service).get(name) == "service_completed_successfully"
               for service in SERVICES.values())


def test_compose_file_matches_the_compose_spec():
    result = _validate(compose.COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_misspelt_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(compose.COMPOSE_FILE.read_text().replace("    healthcheck:\n", "    helthcheck:\n", 1))
    result = _validate(broken)
    assert result.returncode != 0
    assert "helthcheck" in result.stdout + result.stderr


@pytest.mark.parametrize("name", [name for name, service in SERVICES.items() if "image" in service])
def test_images_are_pinned(name):
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and "/" not in tag and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned"


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_long_running_service_has_a_healthcheck(name):
    service = SERVICES[name]
    if _one_shot(name):
        assert service.get("restart") == "no" and "healthcheck" not in service
        return
    assert service["healthcheck"]["test"][0] == "CMD"
    assert service.get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", list(SERVICES))
def test_dependencies_wait_for_health_or_completion(name):
    for dependency, condition in compose.dependencies(SERVICES[name]).items():
        assert dependency in SERVICES
        expected = "service_completed_successfully" if _one_shot(dependency) else "service_healthy"
        assert condition == expected, f"{name} -> {dependency}"
    compose.start_order(SERVICES)  # no cycle


def test_every_one_shot_service_is_awaited_by_a_long_running_one():
    # `docker compose up --wait` counts an exited container as a failure unless a running
    # service depends on it with service_completed_successfully (docker/compose#10596).
    one_shots = [name for name in SERVICES if _one_shot(name)]
    assert one_shots == ["kafka-init"]
    assert any("kafka-init" in compose.dependencies(service) and not _one_shot(name)
               for name, service in SERVICES.items())


def test_one_named_network_joins_every_service():
    assert len(COMPOSE["networks"]) == 1
    network = next(iter(COMPOSE["networks"]))
    assert COMPOSE["networks"][network]["name"] == network
    assert {name: service["networks"] for name, service in SERVICES.items()} == {name: [network] for name in SERVICES}


def test_postgres_starts_from_the_schema_file_on_a_named_volume():
    postgres = SERVICES["postgres"]
    assert postgres["image"].startswith("postgres:")
    volumes = dict(volume.split(":")[:2] for volume in postgres["volumes"])
    assert volumes["./db/schema.sql"].startswith("/docker-entrypoint-initdb.d/")
    assert (docker.ROOT / "db" / "schema.sql").is_file()
    named = {source: target for source, target in volumes.items() if source in COMPOSE["volumes"]}
    # PostgreSQL 18 images keep PGDATA below /var/lib/postgresql/18/, so the volume goes one level up.
    assert list(named.values()) == ["/var/lib/postgresql"]


@pytest.mark.parametrize("name", [name for name, service in BUILT.items()
                                  if "DB_CONNECTION_STRING" in compose.environment(service)])
def test_database_url_names_the_compose_database(name):
    postgres_env = compose.environment(SERVICES["postgres"])
    url = urlsplit(compose.environment(BUILT[name])["DB_CONNECTION_STRING"])
    assert (url.scheme, url.username, url.password, url.hostname, url.port, url.path) == (
        "postgresql", postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"], "postgres", 5432,
        "/" + postgres_env["POSTGRES_DB"])
    assert compose.dependencies(BUILT[name])["postgres"] == "service_healthy"


def _listeners(setting: str) -> dict[str, str]:
    return dict(listener.split("://") for listener in setting.split(","))


def test_kafka_runs_in_kraft_mode_with_a_listener_for_containers_and_one_for_the_host():
    kafka = compose.environment(SERVICES["kafka"])
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not [key for key in kafka if "ZOOKEEPER" in key]
    assert not [name for name in SERVICES if "zookeeper" in name]
    listeners, advertised = _listeners(kafka["KAFKA_LISTENERS"]), _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    assert set(advertised) == set(listeners) - {kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]}
    hosts = {name: address.rsplit(":", 1) for name, address in advertised.items()}
    assert sorted(host for host, _ in hosts.values()) == ["kafka", "localhost"]
    for name, (host, port) in hosts.items():
        assert listeners[name] == f":{port}"
        published = f"127.0.0.1:{port}:{port}" in SERVICES["kafka"]["ports"]
        assert published == (host == "localhost"), f"listener {name} ({host}:{port})"


def test_services_reach_kafka_through_the_listener_advertised_for_containers():
    advertised = _listeners(compose.environment(SERVICES["kafka"])["KAFKA_ADVERTISED_LISTENERS"])
    internal = {address for address in advertised.values() if address.startswith("kafka:")}
    users = {name: compose.environment(service)["KAFKA_BROKERS"] for name, service in BUILT.items()
             if "KAFKA_BROKERS" in compose.environment(service)}
    assert users
    for name, brokers in users.items():
        assert set(brokers.split(",")) == internal, name
        assert compose.dependencies(BUILT[name])["kafka"] == "service_healthy"
        assert compose.dependencies(BUILT[name])["kafka-init"] == "service_completed_successfully"


def test_kafka_init_creates_the_topics_the_events_service_uses():
    script = SERVICES["kafka-init"]["command"][0]
    topics = re.search(r"for topic in ([^;]+);", script).group(1).split()
    assert sorted(topics) == sorted(TOPICS)
    config, _ = compose.read_settings("events_service", compose.environment(SERVICES["events-service"]))
    assert int(re.search(r"--partitions (\d+)", script).group(1)) == config.topic_partitions
    assert int(re.search(r"--replication-factor (\d+)", script).group(1)) == config.replication_factor
    assert compose.environment(SERVICES["kafka"])["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_kafka_ui_is_on_8090():
    assert SERVICES["kafka-ui"]["ports"] == ["127.0.0.1:8090:8080"]
    ui = compose.environment(SERVICES["kafka-ui"])
    assert ui["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"


@pytest.mark.parametrize("name", list(BUILT))
def test_service_is_published_on_the_port_its_image_exposes(name):
    env = docker.environment(docker.parse(compose.dockerfile_of(BUILT[name]))[-1])
    ports = [env[variable] for variable in ("PORT", "ADMIN_PORT") if variable in env]
    assert BUILT[name]["ports"] == [f"127.0.0.1:{port}:{port}" for port in ports]
    assert BUILT[name]["build"]["context"] == "."


@pytest.mark.parametrize("name", list(BUILT))
def test_environment_names_are_the_ones_the_service_reads(name):
    environment = compose.environment(BUILT[name])
    _, names_read = compose.read_settings(compose.package_of(BUILT[name]), environment)
    assert environment
    assert set(environment) <= names_read, f"{name} does not read {set(environment) - names_read}"


@pytest.mark.parametrize("name", list(BUILT))
def test_no_setting_points_a_container_at_itself(name):
    config, _ = compose.read_settings(compose.package_of(BUILT[name]), compose.environment(BUILT[name]))
    values = [str(value) for value in dataclasses.asdict(config).values()]
    assert not [value for value in values if "localhost" in value or "127.0.0.1" in value]


def test_the_file_is_plain_yaml_with_one_document():
    assert len(list(yaml.safe_load_all(compose.COMPOSE_FILE.read_text()))) == 1


def test_the_postman_docker_environment_uses_the_published_ports():
    environment = json.loads((docker.ROOT / "tests/postman/environments/docker.postman_environment.json").read_text())
    urls = [entry["value"] for entry in environment["values"] if entry["key"].endswith("_url")]
    published = {port.rsplit(":", 1)[1] for service in BUILT.values() for port in service["ports"]}
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname == "localhost" and str(parts.port) in published, url
