"""exposure_info reports what is reachable, read-only, and the report role writes before/after pages."""

from __future__ import annotations

import random
import uuid

import pytest

from conftest import report_play, run_module, user_kubeconfig

SEED_POLICY = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
               "metadata": {"name": "deny-kube-node-port-services"},
               "spec": {"applyOnForward": True, "preDNAT": True, "types": ["Ingress"],
                        "selector": "ibm.role in { 'worker_public', 'master_public' }",
                        "ingress": [{"action": "Deny", "protocol": p, "source": {},
                                     "destination": {"ports": ["20000:32767"]}} for p in ("TCP", "UDP")]}}


@pytest.fixture
def app(iks_cluster):
    """A namespace with a NodePort Service, a public and a private LoadBalancer, Ingresses and a hostNetwork pod."""
    from kubernetes import client
    api = iks_cluster.client()
    core, net = client.CoreV1Api(api), client.NetworkingV1Api(api)
    ns = f"exp-{uuid.uuid4().hex[:6]}"
    node_port = random.randint(30000, 32000)  # the previous test's namespace may still hold its port
    core.create_namespace({"metadata": {"name": ns}})
    port = {"port": 80, "targetPort": 8080}
    core.create_namespaced_service(ns, {"metadata": {"name": "np"}, "spec": {
        "type": "NodePort", "selector": {"app": "x"}, "ports": [{**port, "nodePort": node_port}]}})
    core.create_namespaced_service(ns, {"metadata": {"name": "lb-public"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "x"}, "ports": [port]}})
    core.create_namespaced_service(ns, {"metadata": {"name": "lb-private", "annotations": {
        "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": "private"}}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "x"}, "ports": [port]}})
    for name, klass in (("ing-public", "public-iks-k8s-nginx"), ("ing-private", "private-iks-k8s-nginx")):
        net.create_namespaced_ingress(ns, {"metadata": {"name": name}, "spec": {"ingressClassName": klass, "rules": [
            {"host": f"{name}.corp.example", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": "np", "port": {"number": 80}}}}]}}]}})
    core.create_namespaced_pod(ns, {"metadata": {"name": "hostnet"}, "spec": {
        "hostNetwork": True, "containers": [{"name": "c", "image": "busybox", "ports": [
            {"containerPort": 9100, "hostPort": 9100}]}]}})
    yield iks_cluster, ns, node_port
    core.delete_namespace(ns)
    run_module(iks_cluster, "calico_policy", {"definition": SEED_POLICY, "state": "absent"})


def by_object(findings, ns):
    return {(f["kind"], f["object"].removeprefix(f"{ns}/")): f for f in findings if f["object"].startswith(ns)}


def test_findings_say_what_is_exposed_and_how_to_fix_it(app):
    cluster, ns, node_port = app
    mark = cluster.audit_mark()
    result = run_module(cluster, "exposure_info", {})
    assert cluster.writes_since(mark) == []
    found = by_object(result["findings"], ns)
    assert found[("NodePort", "np")]["severity"] == "high" and f"{node_port}/TCP open" in found[("NodePort", "np")]["exposure"]
    assert found[("LoadBalancer", "lb-public")]["severity"] == "medium"
    assert found[("LoadBalancer", "lb-private")]["severity"] == "info"
    assert found[("Ingress", "ing-public")]["severity"] == "medium"
    assert found[("Ingress", "ing-private")]["severity"] == "info"
    assert found[("hostNetwork", "hostnet")]["severity"] == "medium"
    assert "9100" in found[("hostPort", "hostnet")]["exposure"]
    assert found[("Namespace", ns)]["fix"] == "role namespace_isolation"
    assert result["summary"]["nodeports_blocked"] is False

    run_module(cluster, "calico_policy", {"definition": SEED_POLICY})
    after = by_object(run_module(cluster, "exposure_info", {})["findings"], ns)
    assert after[("NodePort", "np")]["severity"] == "info"
    assert "blocked by preDNAT policy deny-kube-node-port-services" in after[("NodePort", "np")]["exposure"]


def test_a_view_only_identity_is_enough(app, tmp_path):
    from kubernetes import client
    cluster, ns, unused = app
    rbac = client.RbacAuthorizationV1Api(cluster.client())
    name = f"auditor-{uuid.uuid4().hex[:6]}"
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": name}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}]})
    try:
        kubeconfig = user_kubeconfig(cluster, name, tmp_path)
        result = run_module(cluster, "exposure_info", {"kubeconfig": kubeconfig})
        assert not result.get("failed"), result
        assert ("NodePort", "np") in by_object(result["findings"], ns)
        assert result["summary"]["access_unknown"] == []
        # The auditor itself may read every Secret, and get on every resource includes nodes/proxy (the kubelet
        # API, which runs commands in pods): the audit says so.
        mine = [f for f in result["findings"] if f["kind"] == "ClusterRoleBinding" and f["object"] == name]
        assert mine and mine[0]["severity"] == "high", mine
        assert "read Secrets, the kubelet API (nodes/proxy) cluster-wide" in mine[0]["exposure"]
        denied = run_module(cluster, "edge_nodes", {"kubeconfig": kubeconfig, "nodes": ["10.176.48.10", "10.176.49.11"]})
        assert denied["failed"] and "HTTP 403" in denied["msg"]
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def test_report_role_writes_before_and_after_pages_listing_what_was_closed(app, tmp_path):
    cluster, ns, node_port = app
    report_play(cluster, tmp_path,
                {"containers_workload.secure_cluster.calico_policy": {"definition": SEED_POLICY}})
    before = (tmp_path / "reports" / "localhost-before.md").read_text()
    after = (tmp_path / "reports" / "localhost-after.md").read_text()
    assert f"| high | NodePort | `{ns}/np` | NodePort {node_port}/TCP open" in before
    assert f"`{ns}/np`" in after.split("## Closed since the report before this run")[1]
    html = (tmp_path / "reports" / "localhost-after.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and f"{ns}/np" in html
