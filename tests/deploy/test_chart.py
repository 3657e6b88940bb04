"""The Helm chart renders offline (helm-python-sdk: Helm's own Go engine, no binary, no
cluster), lints clean, validates against Kubernetes' schemas, refuses unsafe values, and
carries the settings SREs rely on."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, VARIANTS, by_kind, documents, helm, render, values_of

kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")

COMPONENTS = ["ingest", "scorer", "review-api", "trainer"]
# Custom resources have no schema in Kubernetes itself; their shape is checked below.
CRDS = {"ServiceMonitor", "PrometheusRule"}


def _container(deploy: dict[str, Any]) -> dict[str, Any]:
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_lint_is_clean(variant: str) -> None:
    report = helm.lint(str(CHART), values_of(variant), strict=True, kube_version="v1.33.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("variant", VARIANTS)
def test_manifests_validate_against_kubernetes(variant: str, rendered: dict) -> None:
    version = kv.latest_version()
    kinds = set()
    for doc in rendered[variant]:
        kinds.add(doc["kind"])
        if doc["kind"] in CRDS:
            continue
        # strict: unknown fields are errors, not silently dropped by the API server.
        kv.validate(doc, version, strict=True)
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} <= kinds


def test_the_validator_does_catch_a_broken_manifest(rendered: dict) -> None:
    deploy = by_kind(rendered["default"], "Deployment")["rel-alstream-scorer"]
    broken = {**deploy, "spec": {**deploy["spec"], "replicas": "two", "replica": 2}}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


def test_every_service_has_deployment_service_and_pdb(rendered: dict) -> None:
    docs = rendered["default"]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        names = sorted(n for n in by_kind(docs, kind) if not n.endswith("-test-readyz"))
        assert names == [f"rel-alstream-{c}" for c in sorted(COMPONENTS)]
    services = by_kind(docs, "Service")
    assert {c: services[f"rel-alstream-{c}"]["spec"]["ports"][0]["port"] for c in COMPONENTS} == {
        "ingest": 8001, "scorer": 8002, "review-api": 8003, "trainer": 8004}


def test_pods_probe_the_real_endpoints_and_are_locked_down(rendered: dict) -> None:
    for name, deploy in by_kind(rendered["default"], "Deployment").items():
        pod = deploy["spec"]["template"]["spec"]
        c = _container(deploy)
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert c["resources"]["requests"] and c["resources"]["limits"], name
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"], name
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["allowPrivilegeEscalation"]
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["automountServiceAccountToken"] is False
        # The read-only root needs one writable place for library caches.
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert [s["topologyKey"] for s in pod["topologySpreadConstraints"]] == [
            "kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        assert c["command"][:2] == ["python", "-m"] and c["command"][2].startswith("services.")


def test_services_listen_on_all_interfaces_with_production_backends(rendered: dict) -> None:
    (config,) = by_kind(rendered["default"], "ConfigMap").values()
    data = config["data"]
    assert data["ALSTREAM_HTTP_HOST"] == "0.0.0.0"
    assert (data["ALSTREAM_BUS"], data["ALSTREAM_STORE"]) == ("kafka", "redis")
    assert (data["ALSTREAM_REPLICATION_FACTOR"], data["ALSTREAM_MIN_INSYNC_REPLICAS"]) == ("3", "2")
    assert data["ALSTREAM_LOG_FORMAT"] == "json"
    for deploy in by_kind(rendered["default"], "Deployment").values():
        assert _container(deploy)["ports"][0]["containerPort"] == int(data["ALSTREAM_HTTP_PORT"])


def test_trainer_is_a_single_writer(rendered: dict) -> None:
    for variant in VARIANTS:
        trainer = by_kind(rendered[variant], "Deployment")["rel-alstream-trainer"]
        assert trainer["spec"]["replicas"] == 1
        assert trainer["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(helm.HelmValuesError, match="replicaCount"):
        render({"trainer": {"replicaCount": 2}})


def test_scorer_autoscales_on_cpu_and_optionally_on_lag(rendered: dict) -> None:
    (hpa,) = by_kind(rendered["default"], "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rel-alstream-scorer"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    scorer = by_kind(rendered["default"], "Deployment")["rel-alstream-scorer"]
    assert "replicas" not in scorer["spec"]  # the HPA owns it
    lag = documents(render({"scorer": {"autoscaling": {"lag": {"enabled": True}}}}))
    (hpa,) = by_kind(lag, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["metrics"][1]["external"]["metric"]["name"] == "kafka_consumergroup_lag"
    # HPA off: fixed replicas, no HPA object.
    off = rendered["values-hpa-off"]
    assert not by_kind(off, "HorizontalPodAutoscaler")
    assert by_kind(off, "Deployment")["rel-alstream-scorer"]["spec"]["replicas"] == 6


def test_gpu_scorer(rendered: dict) -> None:
    deploys = by_kind(rendered["values-gpu-scorer"], "Deployment")
    scorer = deploys["rel-alstream-scorer"]
    pod, c = scorer["spec"]["template"]["spec"], _container(scorer)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"]
    assert c["image"].endswith("@sha256:" + "0" * 63 + "2")  # the GPU variant, by digest
    assert _env(c)["ALSTREAM_ENCODER_BACKEND"] == "auto"
    # Only the scorer moves to GPU nodes.
    ingest = deploys["rel-alstream-ingest"]
    assert "nodeSelector" not in ingest["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in _container(ingest)["resources"]["limits"]


def test_secrets_come_from_the_chart_or_an_existing_secret(rendered: dict) -> None:
    (secret,) = by_kind(rendered["default"], "Secret").values()
    assert set(secret["data"]) == {"signing-key", "admin-api-key"}
    scorer_env = _env(_container(by_kind(rendered["default"], "Deployment")["rel-alstream-scorer"]))
    assert scorer_env["ALSTREAM_SIGNING_KEY"]["secretKeyRef"] == {
        "name": "rel-alstream-secrets", "key": "signing-key"}
    # Every service gets both: a process on Kafka/Redis refuses to start without a real key.
    for deploy in by_kind(rendered["default"], "Deployment").values():
        env = _env(_container(deploy))
        assert {"ALSTREAM_SIGNING_KEY", "ALSTREAM_BOOTSTRAP_ADMIN_KEY"} <= set(env)

    docs = rendered["values-existing-secrets"]
    assert not by_kind(docs, "Secret")
    env = _env(_container(by_kind(docs, "Deployment")["rel-alstream-trainer"]))
    assert env["ALSTREAM_SIGNING_KEY"]["secretKeyRef"]["name"] == "alstream-prod"
    assert env["ALSTREAM_KAFKA_SASL_PASSWORD"]["secretKeyRef"] == {
        "name": "alstream-prod", "key": "kafka-sasl-password"}
    assert env["ALSTREAM_REDIS_URL"]["secretKeyRef"] == {"name": "alstream-redis", "key": "url"}
    (config,) = by_kind(docs, "ConfigMap").values()
    assert "ALSTREAM_REDIS_URL" not in config["data"]  # credentials never in a ConfigMap
    assert config["data"]["ALSTREAM_MODEL_PATH"] == "/models/all-MiniLM-L6-v2"
    assert config["data"]["ALSTREAM_KAFKA_SSL_CERTFILE"] == "/etc/alstream/kafka-client/tls.crt"
    pod = by_kind(docs, "Deployment")["rel-alstream-scorer"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["kafka-client"]["secret"]["secretName"] == "alstream-kafka-client"
    assert volumes["model"]["persistentVolumeClaim"]["claimName"] == "alstream-models"
    mounts = {m["name"]: m for m in _container(
        by_kind(docs, "Deployment")["rel-alstream-scorer"])["volumeMounts"]}
    assert mounts["model"] == {"name": "model", "mountPath": "/models", "readOnly": True}


@pytest.mark.parametrize(("values", "message"), [
    ({"secrets": {"signingKey": "change-me-change-me-change-me-change-me"}},
     "secrets.signingKey is a placeholder"),
    ({"secrets": {"signingKey": "alstream-dev-signing-key-change-me"}},
     "secrets.signingKey is a placeholder"),
    ({"secrets": {"signingKey": "0123456789abcdef"}}, "shorter than 32 characters"),
    ({"secrets": {"adminApiKey": "changeme"}}, "secrets.adminApiKey is a placeholder"),
    ({"secrets": {"adminApiKey": "a1b2c3d4e5f6"}}, "secrets.adminApiKey is shorter than 32"),
    ({"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN"}}},
     "set kafka.sasl.password"),
    ({"kafka": {"securityProtocol": "SASL_SSL",
                "sasl": {"mechanism": "PLAIN", "password": "REPLACE_ME"}}},
     "kafka.sasl.password is a placeholder"),
    ({"model": {"source": "volume"}}, "model.source=volume needs model.volume"),
])
def test_unsafe_values_fail_at_render_time_with_the_charts_message(values, message) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(values)


def test_schema_rejects_typos_and_bad_types() -> None:
    with pytest.raises(helm.HelmValuesError, match="scorrer"):
        render({"scorrer": {}})
    with pytest.raises(helm.HelmValuesError, match="logFormat"):
        render({"config": {"logFormat": "xml"}})


def test_a_real_key_renders_into_the_secret() -> None:
    key = "9f2c1e7a4b8d6f0a3c5e7b9d1f2a4c6e8b0d2f4a"
    (secret,) = by_kind(documents(render({"secrets": {"signingKey": key}})), "Secret").values()
    assert base64.b64decode(secret["data"]["signing-key"]).decode() == key


def test_monitoring_objects_only_behind_their_flags(rendered: dict) -> None:
    kinds = {d["kind"] for d in rendered["default"]}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert "rel-alstream-dashboard" not in by_kind(rendered["default"], "ConfigMap")
    docs = rendered["values-monitoring"]
    (monitor,) = by_kind(docs, "ServiceMonitor").values()
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["authorization"]["credentials"] == {
        "name": "alstream-metrics-key", "key": "api-key"}
    (rule,) = by_kind(docs, "PrometheusRule").values()
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.startswith("https://runbooks.example.org/alstream/OPERATIONS.md#")
                        for u in urls)
    dashboard = by_kind(docs, "ConfigMap")["rel-alstream-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["alstream.json"] == (CHART / "files" / "dashboard.json").read_text(
    ).rstrip("\n")


def test_helm_test_pod_calls_readyz_on_every_service(rendered: dict) -> None:
    pods = [d for d in rendered["default"] if d["kind"] == "Pod"]
    (pod,) = pods
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["command"][3:]
    assert args == [f"http://rel-alstream-{c}:{p}/readyz" for c, p in
                    zip(sorted(COMPONENTS), (8001, 8003, 8002, 8004), strict=True)]


def test_notes_say_how_to_reach_each_service() -> None:
    notes = render()["alstream/templates/NOTES.txt"]
    for component, port in [("ingest", 8001), ("scorer", 8002), ("review-api", 8003),
                            ("trainer", 8004)]:
        assert f"http://rel-alstream-{component}.ml.svc:{port}" in notes
        assert f"port-forward svc/rel-alstream-{component} {port}:{port}" in notes
    assert "helm test rel" in notes


def test_values_are_documented_with_params() -> None:
    """Every leaf of values.yaml has a `## @param` line (Bitnami's readme-generator style)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = set(re.findall(r"^\s*## @param (\S+)", (CHART / "values.yaml").read_text(), re.M))

    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node:
            return [leaf for k, v in node.items() for leaf in leaves(v, f"{prefix}{k}.")]
        return [prefix.rstrip(".")]

    def covered(key: str) -> bool:  # a documented parent (e.g. resources) covers its leaves
        parts = key.split(".")
        return any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1))

    assert [k for k in leaves(values) if not covered(k)] == []


def test_a_disabled_service_renders_nothing_and_is_not_tested() -> None:
    docs = documents(render({"ingest": {"enabled": False}}))
    names = {d["metadata"]["name"] for d in docs}
    assert not {n for n in names if n.startswith("rel-alstream-ingest")}
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    assert not [a for a in pod["spec"]["containers"][0]["command"] if "ingest" in a]


def test_generated_keys_are_random_and_long() -> None:
    first, second = (by_kind(documents(render()), "Secret")["rel-alstream-secrets"]["data"]
                     for _ in range(2))
    for key in ("signing-key", "admin-api-key"):
        assert len(base64.b64decode(first[key])) >= 32
        assert first[key] != second[key]  # offline there is no live Secret to keep
