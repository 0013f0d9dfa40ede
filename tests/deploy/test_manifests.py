"""The deployment files, checked offline: Kubernetes manifests against the Kubernetes JSON schemas (bundled by the
`kubernetes-validate` package), the compose file against the compose-spec schema (vendored in schemas/, from the
check-jsonschema package), and the Dockerfile, the dashboards and their provisioning for what they must hold."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from tests.deploy.support import DEPLOY, REPO

K8S = DEPLOY / "k8s"
GRAFANA = DEPLOY / "grafana"
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def k8s_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") != "Kustomization":
                documents.append((path.name, document))
    return documents


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def pod_spec(name: str, kind: str = "Deployment") -> dict:
    return by_kind(kind)[name]["spec"]["template"]["spec"]


# --- Kubernetes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_match_the_schemas(version):
    documents = k8s_documents()
    assert len(documents) >= 14
    for name, document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} {document['kind']} {list(exc.path)}: {exc.message}")


def test_the_schema_check_catches_a_misspelt_field():
    deployment = copy.deepcopy(by_kind("Deployment")["web"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.example.yaml"}
    assert kustomization["namespace"] == by_kind("Namespace").popitem()[0]
    images = {image["name"] for image in kustomization["images"]}
    for _, document in k8s_documents():
        spec = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            assert container["image"] in images


def test_web_probes_liveness_on_healthz_and_readiness_on_readyz():
    web = pod_spec("web")["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = {item["name"]: item.get("value") for item in web["env"]}
    # Probes and Prometheus reach the pod by its IP: it must be an allowed host.
    assert "$(POD_IP)" in env["ALLOWED_HOSTS"]
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp")  # noqa: S108 - an emptyDir


def test_worker_is_probed_through_the_broker_and_autoscaled():
    worker = pod_spec("worker")["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert worker[probe]["exec"]["command"][:3] == ["python", "deploy/probe.py", "worker"]
    assert '-n "celery@$HOSTNAME"' in worker["command"][-1]  # the name the probe pings
    hpa = by_kind("HorizontalPodAutoscaler")["worker"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert worker["resources"]["requests"]["cpu"]  # the HPA's utilisation is relative to it


def test_beat_is_a_single_replica_replaced_not_rolled():
    beat = by_kind("Deployment")["beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert "beat" in beat["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]


def test_migration_job_and_external_services():
    job = pod_spec("migrate", "Job")["containers"][0]
    assert "manage.py migrate" in " ".join(job["command"])
    services = by_kind("Service")
    assert services["postgres"]["spec"]["type"] == "ExternalName"
    assert services["redis"]["spec"]["type"] == "ExternalName"
    configmap = by_kind("ConfigMap")["eduplatform-config"]["data"]
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"]
    assert "@postgres:" in secret["DATABASE_URL"] and configmap["REDIS_URL"].startswith("redis://redis:")
    assert all(value in ("", "change-me") or "change-me" in value for value in secret.values()), "no real secrets"


def test_every_pod_runs_unprivileged_and_mounts_what_it_declares():
    configmaps, secrets = set(by_kind("ConfigMap")), {"eduplatform-secrets"}
    for kind in ("Deployment", "Job"):
        for name, document in by_kind(kind).items():
            spec = document["spec"]["template"]["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
            volumes = {volume["name"] for volume in spec.get("volumes", [])}
            for container in spec["containers"] + spec.get("initContainers", []):
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, name
                assert security["readOnlyRootFilesystem"] is True, name
                assert security["capabilities"]["drop"] == ["ALL"], name
                assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, name
                assert "/tmp" in {m["mountPath"] for m in container.get("volumeMounts", [])}, name  # noqa: S108
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        assert source["configMapRef"]["name"] in configmaps
                    else:
                        assert source["secretRef"]["name"] in secrets


def test_services_and_ingress_point_at_existing_pods_and_ports():
    deployments = by_kind("Deployment")
    for name, service in by_kind("Service").items():
        if service["spec"].get("type") == "ExternalName":
            continue
        selector = service["spec"]["selector"]
        matches = [
            d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matches, f"Service {name} selects no pods"
        ports = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name
    for rule in by_kind("Ingress")["web"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] in by_kind("Service")
    # Prometheus inside the cluster finds the web pods through the headless Service.
    assert by_kind("Service")["web-pods"]["spec"]["clusterIP"] == "None"
    assert "web-pods.eduplatform.svc" in (DEPLOY / "prometheus" / "prometheus-k8s.yml").read_text()


# --- docker compose ---------------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_file_matches_the_compose_specification():
    schema = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []
    broken = compose()
    broken["services"]["web"]["healthcheck"]["intervall"] = "5s"
    assert list(validator.iter_errors(broken)), "the schema check must catch a misspelt key"


def test_compose_services_have_healthchecks_and_start_in_order():
    services = compose()["services"]
    assert {"web", "worker", "beat", "celery-metrics", "postgres", "redis", "prometheus", "grafana", "migrate"} <= set(
        services
    )
    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True} and service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"], f"{name} has no healthcheck"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on a missing {dependency}"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["env_file"] == ["compose.env"]
    assert services["web"]["healthcheck"]["test"][-1].endswith("/healthz")
    assert "worker" in services["worker"]["healthcheck"]["test"]
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--maxmemory-policy noeviction" in redis


def test_compose_mounts_exist_and_the_env_example_has_what_the_services_need():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts a missing {source}"
    example = (DEPLOY / "compose.env.example").read_text()
    keys = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"} <= keys
    assert "web" in re.search(r"^ALLOWED_HOSTS=(.*)$", example, re.M).group(1).split(",")  # Prometheus's target
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    web_job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "eduplatform-web")
    assert web_job["static_configs"][0]["targets"] == ["web:8000"]


# --- Dockerfile -------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    instructions = dockerfile_instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    assert len(stages) >= 2
    final = instructions[stages[-1] :]
    assert any(op == "COPY" and "--from=build" in args for op, args in final)
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert [i for i, (op, _) in enumerate(final) if op == "USER"][-1] > max(
        i for i, (op, _) in enumerate(final) if op == "RUN"
    ), "nothing may run as root after USER"
    healthcheck = next(args for op, args in final if op == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert any(op == "RUN" and "collectstatic" in args for op, args in final)
    cmd = json.loads(next(args for op, args in final if op == "CMD"))
    assert cmd[0] == "gunicorn" and "deploy/gunicorn.conf.py" in cmd
    assert any(
        op == "RUN" and "--extra-index-url https://download.pytorch.org/whl/cpu" in args for op, args in instructions
    )


def test_dockerignore_keeps_local_state_out_and_what_the_image_needs_in():
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for private in (".git", ".venv", "var", ".env", "deploy/compose.env"):
        assert private in patterns
    needed = ["requirements.txt", "manage.py", "deploy/gunicorn.conf.py", "deploy/probe.py", "data/peru", "eduplatform"]
    for path in needed:
        assert (REPO / path).exists()
        assert not any(path == p or path.startswith(p.rstrip("/") + "/") for p in patterns), path


# --- Grafana ----------------------------------------------------------------------------------------------


def test_committed_dashboards_are_what_the_generator_writes(tmp_path):
    import runpy

    generator = runpy.run_path(str(GRAFANA / "dashboards.py"))
    written = generator["main"](tmp_path)
    assert {p.name for p in written} == {p.name for p in (GRAFANA / "dashboards").glob("*.json")}
    for path in written:
        committed = (GRAFANA / "dashboards" / path.name).read_text()
        assert path.read_text() == committed, f"run `python deploy/grafana/dashboards.py`: {path.name} is stale"


def test_dashboards_use_the_provisioned_datasource_and_a_valid_layout():
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    titles = set()
    for path in (GRAFANA / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        titles.add(dashboard["title"])
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"] and all(
                t["expr"].strip() and t["datasource"]["uid"] == uid for t in panel["targets"]
            )
    assert titles == {"Platform health", "Educational disparities and models"}
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "eduplatform.yml").read_text())
    mounted = [v for v in compose()["services"]["grafana"]["volumes"] if v.startswith("./grafana/dashboards:")]
    assert mounted and mounted[0].split(":")[1] == provider["providers"][0]["options"]["path"]
