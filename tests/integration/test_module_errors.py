"""Every module fails with a clear message, never a traceback, whatever error family member it meets: bad
input (before any call), an unreachable API server, and the errors of its own concern."""

from __future__ import annotations

import json

import pytest
from conftest import run_module

UNREACHABLE = {"host": "https://127.0.0.1:1", "api_key": "not-a-token", "validate_certs": False}
POLICY = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "t"},
          "spec": {"selector": "all()", "ingress": [{"action": "Deny"}]}}
VPN = {"remote": {"subnet": ["192.168.100.0/24"], "gateway": "198.51.100.1"},
       "preshared_secret": "a-long-enough-preshared-secret-for-tests"}

CASES = [
    # (module, arguments, use the test cluster's kubeconfig, expected part of the message)
    ("edge_nodes", {"nodes": ["Bad_Name"]}, True, "node name 'Bad_Name'"),
    ("edge_nodes", {"nodes": ["10.0.0.1"], **UNREACHABLE}, False, "cannot reach the Kubernetes API server"),
    ("edge_nodes", {"nodes": ["no-such-node"]}, True, "unknown node(s): no-such-node"),
    ("edge_workloads", {"workloads": [{"namespace": "kube-system"}]}, True, "give a 'selector'"),
    ("edge_workloads", {"workloads": [{"namespace": "kube-system", "selector": "app=x"}],
                        "edge_labels": {"example.com/none": "x"}}, True, "no node carries the edge labels"),
    ("exposure_info", UNREACHABLE, False, "cannot reach the Kubernetes API server"),
    ("provider_info", UNREACHABLE, False, "cannot reach the Kubernetes API server"),
    ("k8s_apply", {"definitions": [{"kind": "ConfigMap", "metadata": {"name": "x"}}]}, True, "apiVersion is required"),
    ("k8s_apply", {"definitions": [{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}]},
     True, "Widget (example.com/v1) is not served by this cluster"),
    ("k8s_apply", {"definitions": [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                    "metadata": {"name": "p"}, "spec": {"maxUnavailable": 1}}]},
     True, "metadata.namespace is required for a namespaced kind"),
    ("calico_policy", {"definition": {**POLICY, "spec": {"selector": "a ==", "ingress": [{"action": "Deny"}]}}},
     True, "is not a valid selector"),
    ("calico_policy", {"definition": {**POLICY, "metadata": {"name": "allow-icmp"}}}, True,
     "refusing to change the provider's default policies allow-icmp"),
    ("calico_policy", {"definition": POLICY, **UNREACHABLE}, False, "cannot reach the Kubernetes API server"),
    ("strongswan_vpn", {**VPN, "local": {"subnet": ["10.85.247.249/29"]}}, True, "is not a network address"),
    ("strongswan_vpn", {**VPN, **UNREACHABLE}, False, "cannot reach the Kubernetes API server"),
    ("alb", {"state": "enabled", "alb_ids": ["not-an-alb"]}, True, "does not look like an IKS ALB ID"),
    ("alb", {"state": "enabled", "type": "private", "cluster": ""}, True, "backend iks needs 'cluster'"),
    ("alb_info", {"backend": "kubernetes", "alb_selector": "a in (", **UNREACHABLE}, False, "label selector"),
    ("alb_info", {"backend": "kubernetes", **UNREACHABLE}, False, "cannot reach the Kubernetes API server"),
]


@pytest.mark.parametrize("module, args, with_kubeconfig, expected", CASES,
                         ids=[f"{c[0]}-{c[3][:30]}" for c in CASES])
def test_each_error_is_a_clear_failure_with_nothing_written(iks_cluster, module, args, with_kubeconfig, expected):
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster if with_kubeconfig else None, module, args)
    assert result.get("failed") is True, result
    assert expected in result["msg"], result["msg"]
    assert "Traceback" not in json.dumps(result) and "exception" not in result
    assert iks_cluster.writes_since(mark) == []


def test_an_invalid_live_policy_is_reported_not_trusted(iks_cluster):
    """Felix ignores a policy Calico's validation refuses; the audit says so instead of counting on it."""
    from kubernetes import client
    custom = client.CustomObjectsApi(iks_cluster.client())
    bad = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
           "metadata": {"name": "default.test-invalid-selector"},
           "spec": {"preDNAT": True, "applyOnForward": True, "selector": "ibm.role ==", "types": ["Ingress"],
                    "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": ["30000:32767"]}}]}}
    custom.create_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies", bad)
    try:
        result = run_module(iks_cluster, "exposure_info", {})
        found = [f for f in result["findings"] if f["object"] == "test-invalid-selector"]
        assert found and found[0]["severity"] == "high" and "not enforced" in found[0]["exposure"]
        assert "is not a valid selector" in found[0]["exposure"]
        assert not any("test-invalid-selector" in f["exposure"] for f in result["findings"] if f["kind"] == "NodePort")
    finally:
        custom.delete_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies",
                                            "default.test-invalid-selector")
