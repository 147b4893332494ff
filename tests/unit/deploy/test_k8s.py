"""deploy/k8s, checked without a cluster: `kubectl apply --dry-run=client` needs an API server to
map kinds, so the manifests are parsed here and checked for what the product needs, and rendered
with `kubectl kustomize` (offline) when kubectl is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from services.registry import DATABASES, SERVICE_CLASSES
from shared import config
from shared.messaging import identity
from tests.unit.deploy.test_compose import known_settings

K8S = config.ROOT / "deploy" / "k8s"


def documents():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d)
    return kustomization, docs


@pytest.fixture(scope="module")
def manifests():
    kustomization, docs = documents()
    index = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(index) == len(docs), "two objects share a kind and a name"
    return kustomization, index


def container_env(container) -> set[str]:
    return {e["name"] for e in container.get("env", [])}


def test_every_file_in_the_directory_is_a_resource():
    kustomization, docs = documents()
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)


def test_the_objects_a_deployment_needs(manifests):
    kustomization, index = manifests
    assert kustomization["namespace"] == "zhitongche"
    for kind, name in [
        ("Namespace", "zhitongche"),
        ("ConfigMap", "ztc-config"),
        ("Secret", "ztc-secrets"),
        ("Job", "ztc-migrate"),
        ("Service", "ztc-gateway"),
        ("Ingress", "ztc-gateway"),
        ("Service", "ztc-postgres"),
        ("Service", "ztc-rabbitmq"),
    ]:
        assert (kind, name) in index, (kind, name)
    assert index[("Service", "ztc-postgres")]["spec"]["type"] == "ExternalName"
    assert index[("Service", "ztc-rabbitmq")]["spec"]["type"] == "ExternalName"
    assert index[("ConfigMap", "ztc-config")]["data"]["ZTC_QUEUE_TYPE"] == "quorum"


def test_a_deployment_per_service_running_the_runner_with_probes(manifests):
    _, index = manifests
    deployments = {name for kind, name in index if kind == "Deployment"}
    assert deployments == {f"ztc-{s}" for s in SERVICE_CLASSES}
    for service in SERVICE_CLASSES:
        spec = index[("Deployment", f"ztc-{service}")]["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        [container] = pod["containers"]
        assert container["command"] == ["python", "-m", "services.runner", service]
        assert container["readinessProbe"]["httpGet"] and container["livenessProbe"]["httpGet"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == 9100
        assert f"ZTC_METRICS_PORT_{service.upper()}" in container_env(container)
        # Its own database only; it waits until the Job migrated that database.
        assert {n for n in container_env(container) if n.startswith("ZTC_DB_")} == {f"ZTC_DB_{service.upper()}"}
        [init] = pod["initContainers"]
        assert init["command"][:4] == ["python", "deploy/docker/prepare.py", "--wait-for", service]
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_gateway_probes_and_its_route_in(manifests):
    _, index = manifests
    [container] = index[("Deployment", "ztc-gateway")]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == 8080
    service = index[("Service", "ztc-gateway")]["spec"]
    assert service["selector"] == {"app.kubernetes.io/name": "ztc-gateway"}
    backend = index[("Ingress", "ztc-gateway")]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "ztc-gateway" and backend["port"]["name"] == service["ports"][0]["name"]
    for kind, name in index:
        if kind == "Deployment" and name != "ztc-gateway":
            [worker] = index[(kind, name)]["spec"]["template"]["spec"]["containers"]
            assert worker["livenessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}


def test_the_migrate_job_gets_every_database_and_the_broker(manifests):
    _, index = manifests
    job = index[("Job", "ztc-migrate")]["spec"]["template"]["spec"]
    [container] = job["containers"]
    assert container["command"][:2] == ["python", "deploy/docker/prepare.py"]
    assert {r.get("secretRef", r.get("configMapRef"))["name"] for r in container["envFrom"]} == {
        "ztc-secrets",
        "ztc-config",
    }
    secret = index[("Secret", "ztc-secrets")]["stringData"]
    bus = {f"ZTC_BUS_PASSWORD_{n.upper()}" for n in (*config.SERVICES, config.OPERATOR)} | {"ZTC_BUS_KEY"}
    assert {f"ZTC_DB_{db.upper()}" for db in DATABASES} | {"ZTC_AMQP_URI", "ZTC_RABBIT_MANAGEMENT_URL"} | bus == set(
        secret
    )
    assert all(
        config.normalize_database_url(secret[f"ZTC_DB_{db.upper()}"]).startswith("postgresql+psycopg2://")
        for db in DATABASES
    )


def test_each_service_connects_as_its_own_broker_user_and_holds_the_deployment_key(manifests):
    _, index = manifests
    for service in SERVICE_CLASSES:
        [container] = index[("Deployment", f"ztc-{service}")]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        passwords = {n for n in env if n.startswith("ZTC_BUS_PASSWORD_")}
        assert passwords == {f"ZTC_BUS_PASSWORD_{service.upper()}"} | (
            {"ZTC_BUS_PASSWORD_OPERATOR"} if service == "gateway" else set()
        ), service
        assert "@" not in env["ZTC_AMQP_URI"]["value"]  # never the administrator's credentials
        assert env["ZTC_BUS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "ZTC_BUS_KEY"
        settings = identity.for_service(
            config.load({"ZTC_AMQP_URI": env["ZTC_AMQP_URI"]["value"], f"ZTC_BUS_PASSWORD_{service.upper()}": "p"}),
            service,
        )
        assert settings.amqp_uri == f"amqp://ztc-{service}:p@ztc-rabbitmq:5672/ztc"


def test_every_setting_named_is_one_the_code_reads_and_every_secret_key_exists(manifests):
    _, index = manifests
    known = known_settings()
    secret = set(index[("Secret", "ztc-secrets")]["stringData"])
    named = set(index[("ConfigMap", "ztc-config")]["data"]) | secret
    for (kind, _), doc in index.items():
        if kind in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"] + pod.get("initContainers", []):
                named |= container_env(container)
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] == "ztc-secrets" and ref["key"] in secret, env
    assert named - known == set(), f"not read by shared/config.py: {sorted(named - known)}"
    config.load({k: str(v) for k, v in index[("ConfigMap", "ztc-config")]["data"].items()})  # values parse


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_renders_offline_into_the_namespace_with_the_image():
    done = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert sorted(d["kind"] for d in rendered) == sorted(
        ["Namespace", "ConfigMap", "Secret", "Service", "Service", "Service", "Ingress", "Job"]
        + ["Deployment"] * len(SERVICE_CLASSES)
    )
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "zhitongche", doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"] + pod.get("initContainers", []):
                assert container["image"].endswith("/zhitongche:latest"), container["image"]
