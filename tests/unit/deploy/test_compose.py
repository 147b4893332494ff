"""deploy/compose and deploy/docker, checked without a Docker engine (none runs where the tests
run): the file parses, every service of services/registry.py has a container running the same
runner as `make run`, every ZTC_* name it sets is one shared/config.py reads, and the image holds
what the containers start."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from services.registry import DATABASES, SERVICE_CLASSES
from shared import config
from shared.messaging import identity

COMPOSE = config.ROOT / "deploy" / "compose" / "docker-compose.yml"
DOCKERFILE = config.ROOT / "deploy" / "docker" / "Dockerfile"
CONFIG_SOURCE = (config.ROOT / "shared" / "config.py").read_text(encoding="utf-8")


def known_settings() -> set[str]:
    """Every variable shared/config.py reads, the per-service ones spelled out."""
    names = set(re.findall(r'"(ZTC_[A-Z0-9_]+)"', CONFIG_SOURCE))
    for service in config.SERVICES:
        if 'f"ZTC_DB_{service.upper()}"' in CONFIG_SOURCE:
            names.add(f"ZTC_DB_{service.upper()}")
        if 'f"ZTC_METRICS_PORT_{s.upper()}"' in CONFIG_SOURCE:
            names.add(f"ZTC_METRICS_PORT_{service.upper()}")
    if 'f"ZTC_BUS_PASSWORD_{name.upper()}"' in CONFIG_SOURCE:
        names |= {f"ZTC_BUS_PASSWORD_{name.upper()}" for name in (*config.SERVICES, config.OPERATOR)}
    return names


def ztc_names(environment: dict) -> set[str]:
    return {name for name in environment if name.startswith("ZTC_")}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_known_settings_are_read_from_shared_config():
    names = known_settings()
    assert {"ZTC_AMQP_URI", "ZTC_QUEUE_TYPE", "ZTC_DB_ENGINE", "ZTC_METRICS_PORT_GATEWAY"} <= names
    assert config.load({"ZTC_DB_ENGINE": "postgresql://x/e"}).database_url("engine").endswith("x/e")


def test_every_service_has_a_container_running_the_runner(compose):
    services = compose["services"]
    for name in SERVICE_CLASSES:
        assert name in services, f"no container for {name}"
        assert services[name]["command"] == ["python", "-m", "services.runner", name]
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["healthcheck"]["test"], name
    assert {"postgres", "rabbitmq", "migrate"} <= set(services)


def test_every_setting_named_is_one_the_code_reads(compose):
    known = known_settings()
    for name, service in compose["services"].items():
        unknown = ztc_names(service.get("environment") or {}) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which shared/config.py does not read"


def test_each_service_gets_its_own_database_and_its_metrics_port(compose):
    services = compose["services"]
    for name in SERVICE_CLASSES:
        env = services[name]["environment"]
        dbs = {key for key in env if key.startswith("ZTC_DB_")}
        assert dbs == {f"ZTC_DB_{name.upper()}"}, name
        assert f"/ztc_{name}" in env[f"ZTC_DB_{name.upper()}"]
        assert env[f"ZTC_METRICS_PORT_{name.upper()}"] == "9100"
        settings = config.load({k: str(v) for k, v in env.items()})
        assert settings.queue_type == "quorum"
        assert settings.metrics_port(name) == 9100
        assert settings.database_url(name).startswith("postgresql+psycopg2://")
    migrate_env = services["migrate"]["environment"]
    assert {f"ZTC_DB_{db.upper()}" for db in DATABASES} <= set(migrate_env)
    assert services["gateway"]["environment"]["ZTC_GATEWAY_HOST"] == "0.0.0.0"


def test_each_service_connects_as_its_own_broker_user_with_only_its_own_password(compose):
    services = compose["services"]
    for name in SERVICE_CLASSES:
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        passwords = {k for k in env if k.startswith("ZTC_BUS_PASSWORD_")}
        expected = {f"ZTC_BUS_PASSWORD_{name.upper()}"} | (
            {"ZTC_BUS_PASSWORD_OPERATOR"} if name == "gateway" else set()
        )
        assert passwords == expected, name
        assert "@" not in env["ZTC_AMQP_URI"] and "@" not in env["ZTC_RABBIT_MANAGEMENT_URL"], name  # no admin
        settings = identity.for_service(config.load(env), name)
        assert settings.amqp_uri.startswith(f"amqp://ztc-{name}:") and settings.bus_key
    migrate = {k: str(v) for k, v in services["migrate"]["environment"].items()}
    assert {f"ZTC_BUS_PASSWORD_{n.upper()}" for n in (*config.SERVICES, config.OPERATOR)} <= set(migrate)
    assert "ztc:" in migrate["ZTC_AMQP_URI"] and "ztc:" in migrate["ZTC_RABBIT_MANAGEMENT_URL"]


def test_the_database_init_script_creates_a_database_per_service():
    script = (config.ROOT / "deploy" / "compose" / "postgres-init.sh").read_text(encoding="utf-8")
    listed = re.search(r"for service in ([a-z ]+); do", script).group(1).split()
    assert sorted(listed) == sorted(DATABASES)
    assert subprocess.run(["bash", "-n", str(config.ROOT / "deploy" / "compose" / "postgres-init.sh")]).returncode == 0


def test_the_broker_is_the_3_10_line_with_the_definitions_loaded_by_migrate(compose):
    services = compose["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.10")
    assert services["migrate"]["command"] == ["python", "deploy/docker/prepare.py"]
    assert services["migrate"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_holds_what_the_containers_start():
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, re.M))
    for needed in ("shared", "services", "bpmn", "deploy/seed", "deploy/rabbitmq", "deploy/docker/prepare.py"):
        assert needed in copied, needed
        assert (config.ROOT / needed).exists(), needed
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for needed in ("shared", "services", "bpmn", "deploy/seed", "deploy/rabbitmq"):
        assert f"!{needed}/**" in ignore
    assert "python:3.11" in dockerfile


def test_prepare_script_explains_itself():
    done = subprocess.run(
        [sys.executable, "-W", "ignore", str(config.ROOT / "deploy" / "docker" / "prepare.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "broker definitions" in done.stdout and "--wait" in done.stdout


def test_compose_refuses_to_start_without_its_secrets_and_keeps_metrics_private():
    text = COMPOSE.read_text(encoding="utf-8")
    secrets = re.findall(r"\$\{(\w*PASSWORD\w*)([^}]*)\}", text)
    bus = {f"ZTC_BUS_PASSWORD_{n.upper()}" for n in (*config.SERVICES, config.OPERATOR)}
    assert {name for name, _ in secrets} == {"DB_PASSWORD", "SERVICE_DB_PASSWORD", "RABBITMQ_PASSWORD"} | bus
    assert all(rest.startswith(":?") for _, rest in secrets), "a secret must not fall back to a default"
    assert re.findall(r"\$\{ZTC_BUS_KEY([^}]*)\}", text) and all(
        rest.startswith(":?") for rest in re.findall(r"\$\{ZTC_BUS_KEY([^}]*)\}", text)
    )
    document = yaml.safe_load(text)
    for name, service in document["services"].items():
        env = service.get("environment") or {}
        assert env.get("ZTC_METRICS_HOST", "127.0.0.1") == "127.0.0.1", name
        published = [str(p) for p in service.get("ports") or []]
        assert not any("9100" in p for p in published), name
        assert all(p.startswith("127.0.0.1:") for p in published if "15672" in p), name
