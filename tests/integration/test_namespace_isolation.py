"""Isolation keeps the ingress path open and everything else closed: the ALB pods and the nodes (where a
LoadBalancer Service's traffic arrives from) reach an isolated app, pods of another namespace do not; without the
ingress path, the exposure report says the app is cut off."""

from __future__ import annotations

import pytest
from conftest import run_module, run_playbook, unique
from test_calico_policy import role_play

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import ingress_path


@pytest.fixture
def exposed_app(iks_cluster):
    """A namespace with a Deployment behind a LoadBalancer Service and an Ingress (kwok runs the pods)."""
    from kubernetes import client
    api = iks_cluster.client()
    core, apps, net = client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api)
    ns = unique("iso")
    core.create_namespace({"metadata": {"name": ns}})
    labels = {"app": "web"}
    apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "type": "LoadBalancer", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
    net.create_namespaced_ingress(ns, {"metadata": {"name": "web"}, "spec": {"rules": [{"host": "web.example.com", "http": {
        "paths": [{"path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    yield iks_cluster, ns
    core.delete_namespace(ns)


def policies(cluster, ns):
    from kubernetes import client
    items = client.NetworkingV1Api(cluster.client()).list_namespaced_network_policy(ns).items
    return [cluster.client().sanitize_for_serialization(p) for p in items]


def cut_off(cluster, ns):
    report = run_module(cluster, "exposure_info", {})
    return sorted(f["kind"] for f in report["findings"] if f["object"].startswith(f"{ns}/") and "cut off" in f["exposure"])


def test_the_ingress_path_stays_open_and_other_namespaces_stay_out(exposed_app, tmp_path):
    cluster, ns = exposed_app
    found = run_module(cluster, "provider_info", {"ingress": True})["ingress_sources"]
    assert {"name": "IKS ALB", "namespace": "kube-system", "key": "ingress.cloud.ibm.com/alb-id", "values": None} \
        in found["controllers"]
    assert ns in found["exposed_namespaces"] and found["nodes"]

    run_playbook(cluster, role_play(tmp_path, "namespace_isolation", {"namespace_isolation_namespaces": [ns]}),
                 "-i", "localhost,", "-c", "local")
    live = policies(cluster, ns)
    web = {"app": "web"}
    alb_pod = {"namespace": "kube-system", "namespace_labels": {"kubernetes.io/metadata.name": "kube-system"},
               "pod_labels": {"ingress.cloud.ibm.com/alb-id": "private-cr1-alb1", "app": "private-cr1-alb1"}}
    other_pod = {"namespace": "other", "namespace_labels": {"kubernetes.io/metadata.name": "other"},
                 "pod_labels": {"app": "web"}}
    node = {"ip": found["nodes"][0].split("/")[0]}
    assert ingress_path.admits(live, ns, web, alb_pod)
    assert ingress_path.admits(live, ns, web, node)
    assert not ingress_path.admits(live, ns, web, other_pod)
    assert not ingress_path.admits(live, ns, web, {"ip": "203.0.113.10"})
    assert cut_off(cluster, ns) == []
    report = run_module(cluster, "exposure_info", {})
    assert any(f["object"] == f"{ns}/web" and f["kind"] == "Service" and "still reachable" in f["exposure"]
               for f in report["findings"])

    # The same isolation without the ingress path: the report says the app is cut off, both ways in.
    run_playbook(cluster, role_play(tmp_path, "namespace_isolation", {"namespace_isolation_namespaces": [ns],
                                                                      "namespace_isolation_ingress_path": False}),
                 "-i", "localhost,", "-c", "local")
    assert not ingress_path.admits(policies(cluster, ns), ns, web, alb_pod)
    assert cut_off(cluster, ns) == ["Ingress", "Service"]
