"""strongswan_vpn in a real cluster: edge placement, honest re-runs, update in place, secrets kept secret."""

from __future__ import annotations

import secrets
import uuid

import pytest

from conftest import run_module, wait_until

EDGE = ["10.176.48.10", "10.176.49.11"]


@pytest.fixture
def vpn(iks_cluster):
    """Module arguments for a VPN in a fresh namespace, with two edge nodes; everything removed afterwards."""
    namespace = f"vpn-{uuid.uuid4().hex[:6]}"
    assert not run_module(iks_cluster, "edge_nodes", {"nodes": EDGE}).get("failed")
    args = {"namespace": namespace, "preshared_secret": secrets.token_urlsafe(32),
            "remote": {"subnet": ["192.168.100.0/24"], "id": "on-prem"},
            "ipsec": {"ike": "aes256-sha256-modp2048!", "esp": "aes256-sha256!"}, "private": True}
    yield args
    run_module(iks_cluster, "strongswan_vpn", {"state": "absent", "namespace": namespace})
    run_module(iks_cluster, "edge_nodes", {"state": "absent"})


def test_check_mode_predicts_the_install_and_writes_nothing(iks_cluster, vpn):
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "strongswan_vpn", vpn, check_mode=True, diff=True)
    assert result["changed"] is True
    assert [o["kind"] for o in result["objects"]] == ["Namespace", "ServiceAccount", "ConfigMap", "Secret",
                                                      "Deployment", "Service", "Service", "DaemonSet"]
    assert iks_cluster.writes_since(mark) == []


def test_vpn_pod_runs_on_an_edge_node_and_a_second_run_writes_nothing(iks_cluster, vpn):
    from kubernetes import client
    first = run_module(iks_cluster, "strongswan_vpn", vpn)
    assert first["changed"], first
    core = client.CoreV1Api(iks_cluster.client())

    def running_on_edge():
        pods = core.list_namespaced_pod(vpn["namespace"], label_selector="app=strongswan").items
        return len(pods) == 1 and pods[0].status.phase == "Running" and pods[0].spec.node_name in EDGE
    assert wait_until(running_on_edge)
    service = core.read_namespaced_service("vpn-strongswan", vpn["namespace"])
    assert service.metadata.annotations[
        "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type"] == "private"

    mark = iks_cluster.audit_mark()
    second = run_module(iks_cluster, "strongswan_vpn", vpn)
    assert second["changed"] is False
    assert iks_cluster.writes_since(mark) == []


def test_the_psk_never_appears_in_results_or_diffs(iks_cluster, vpn):
    for check_mode in (True, False):
        result = run_module(iks_cluster, "strongswan_vpn", vpn, check_mode=check_mode, diff=True)
        assert vpn["preshared_secret"] not in str(result)
        assert "********" in str(result["diff"]["after"]["Secret/vpn-strongswan-secrets"])
    bad = run_module(iks_cluster, "strongswan_vpn", {**vpn, "ipsec": {"ike": "nonsense"}})
    assert bad["failed"] and vpn["preshared_secret"] not in str(bad)


def test_a_config_change_updates_in_place_and_rolls_the_pod(iks_cluster, vpn):
    from kubernetes import client
    run_module(iks_cluster, "strongswan_vpn", vpn)
    apps = client.AppsV1Api(iks_cluster.client())
    before = apps.read_namespaced_deployment("vpn-strongswan", vpn["namespace"])
    changed = run_module(iks_cluster, "strongswan_vpn", {**vpn, "remote": {"subnet": ["192.168.200.0/24"]}},
                         diff=True)
    assert changed["changed"]
    # The routes DaemonSet routes the new remote subnet.
    assert {o["kind"] for o in changed["objects"] if o["changed"]} == {"ConfigMap", "Deployment", "DaemonSet"}
    after = apps.read_namespaced_deployment("vpn-strongswan", vpn["namespace"])
    assert after.metadata.uid == before.metadata.uid
    key = "secure-cluster.containers-workload/config-checksum"
    assert after.spec.template.metadata.annotations[key] != before.spec.template.metadata.annotations[key]
    conf = client.CoreV1Api(iks_cluster.client()).read_namespaced_config_map(
        "vpn-strongswan-config", vpn["namespace"]).data["swanctl.conf"]
    assert "        remote_ts = 192.168.200.0/24\n" in conf


def test_bad_settings_fail_before_any_write(iks_cluster, vpn):
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "strongswan_vpn", {**vpn, "local": {"subnet": ["10.85.247.249/29"]},
                                                        "preshared_secret": "strongswan-preshared-secret"})
    assert result["failed"]
    assert "use '10.85.247.248/29'" in result["msg"]
    assert "placeholder" in result["msg"]
    assert iks_cluster.writes_since(mark) == []


def test_removal_waits_until_the_objects_are_gone(iks_cluster, vpn):
    from kubernetes import client
    run_module(iks_cluster, "strongswan_vpn", vpn)
    removed = run_module(iks_cluster, "strongswan_vpn", {"state": "absent", "namespace": vpn["namespace"]})
    assert removed["changed"] and len(removed["objects"]) == 8
    assert "DaemonSet" in {o["kind"] for o in removed["objects"]}
    core = client.CoreV1Api(iks_cluster.client())
    assert vpn["namespace"] not in {n.metadata.name for n in core.list_namespace().items}
    again = run_module(iks_cluster, "strongswan_vpn", {"state": "absent", "namespace": vpn["namespace"]})
    assert again["changed"] is False
