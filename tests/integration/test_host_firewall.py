"""The lock-out guard of calico_policy and the host_firewall role, against the real API server."""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_module, run_playbook
from test_calico_policy import role_play, stored

CRD = ("crd.projectcalico.org", "v1")
DENY_ALL = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "host-deny"},
            "spec": {"order": 3000, "selector": "has(ibm.role)", "ingress": [{"action": "Deny"}]}}
KUBELET = {"port": 10250, "source": "10.176.48.0/24", "description": "kubelet from the API server"}
FIREWALL = ("default.host-firewall-allow", "default.host-firewall-deny")


def custom(cluster):
    from kubernetes import client
    return client.CustomObjectsApi(cluster.client())


@pytest.fixture
def firewall_cleanup(iks_cluster):
    yield iks_cluster
    for name in (*FIREWALL, "default.host-deny"):
        if stored(iks_cluster, name):
            custom(iks_cluster).delete_cluster_custom_object(*CRD, "globalnetworkpolicies", name)


def play(cluster, tmp_path, check=True, **variables):
    variables.setdefault("host_firewall_api_server_nets", ["10.176.0.0/24"])
    return run_playbook(cluster, role_play(tmp_path, "host_firewall", variables), "-i", "localhost,", "-c", "local",
                        check=check)


def test_the_guard_refuses_to_cut_the_kubelet_and_writes_nothing(firewall_cleanup):
    cluster = firewall_cleanup
    mark = cluster.audit_mark()
    refused = run_module(cluster, "calico_policy", {"definition": DENY_ALL, "keep_open": [KUBELET]})
    assert refused["failed"]
    # The private interfaces were open through IKS's allow-all-private-default (order 100000); the deny at 3000 cuts them.
    assert "refusing a change that would lock you out: kubelet from the API server (TCP/10250 from 10.176.48.0/24)" \
        in refused["msg"]
    assert "worker-private would be denied by host-deny ingress[0]" in refused["msg"]
    assert "allow_lockout=true" in refused["msg"]
    assert cluster.writes_since(mark) == [] and stored(cluster, "default.host-deny") is None
    # The public interfaces were already closed to it (IKS's policies apply, none allows 10250): not this run's doing.
    after = {r["host_endpoint"]: r for r in refused["reachability"]}
    public = [r for name, r in after.items() if name.endswith("worker-public")]
    assert public and not any(r["allowed"] for r in public)
    # SSH is a failsafe port: the guard knows Felix keeps it open whatever the policies say.
    ssh = run_module(cluster, "calico_policy", {"definition": DENY_ALL, "keep_open": [{"port": 22}]}, check_mode=True)
    assert ssh["changed"] and all(r["allowed"] and "failsafe" in r["by"] for r in ssh["reachability"])

    forced = run_module(cluster, "calico_policy", {"definition": DENY_ALL, "keep_open": [KUBELET],
                                                   "allow_lockout": True})
    assert forced["changed"] and stored(cluster, "default.host-deny") is not None


def test_host_firewall_allows_the_cluster_and_failsafe_ports_then_reruns_without_writes(firewall_cleanup, tmp_path):
    cluster = firewall_cleanup
    first = play(cluster, tmp_path)
    assert "changed=1" in first.stdout
    allow, deny = (stored(cluster, name) for name in FIREWALL)
    nets = allow["spec"]["ingress"][0]["source"]["nets"]
    # Node InternalIPs, the Calico IP pool, the ServiceCIDR and the API server's range, all read from the cluster.
    assert {"10.176.48.10/32", "172.30.0.0/16", "172.21.0.0/16", "10.176.0.0/24"} <= set(nets)
    assert not any(net.startswith("169.47.") for net in nets), "public addresses are not the cluster's own"
    failsafe = [22, 179, 2379, 2380, 5473, 6443, 6666, 6667]
    assert allow["spec"]["ingress"][1] == {"action": "Allow", "protocol": "TCP", "source": {},
                                           "destination": {"ports": failsafe}}
    assert allow["spec"]["order"] == 100 and deny["spec"]["order"] == 3000
    assert deny["spec"]["ingress"] == [{"action": "Deny", "source": {}, "destination": {}}]  # as calicoctl
    assert deny["spec"]["selector"] == "ibm.role == 'worker_public'"
    mark = cluster.audit_mark()
    again = play(cluster, tmp_path)
    assert "changed=0" in again.stdout and cluster.writes_since(mark) == []
    play(cluster, tmp_path, host_firewall_state="absent")
    assert all(stored(cluster, name) is None for name in FIREWALL)


def test_with_failsafe_ports_off_the_role_refuses_to_cut_ssh_unless_forced(firewall_cleanup, tmp_path):
    cluster = firewall_cleanup
    api = custom(cluster)
    api.patch_cluster_custom_object(*CRD, "felixconfigurations", "default", {"spec": {"failsafeInboundHostPorts": []}})
    try:
        # Both interfaces: SSH reached the private ones through IKS's allow-all-private-default (order 100000).
        everywhere = {"host_firewall_selector": "has(ibm.role)", "host_firewall_failsafe_tcp_ports": [179, 6443]}
        refused = play(cluster, tmp_path, check=False, **everywhere)
        assert refused.returncode != 0
        assert "SSH from 0.0.0.0/0 (TCP/22 from 0.0.0.0/0)" in refused.stdout
        assert "worker-private would be denied by host-firewall-deny ingress[0]" in refused.stdout
        assert all(stored(cluster, name) is None for name in FIREWALL)
        play(cluster, tmp_path, host_firewall_force=True, **everywhere)
        assert all(stored(cluster, name) is not None for name in FIREWALL)
    finally:
        api.patch_cluster_custom_object(*CRD, "felixconfigurations", "default",
                                        {"spec": {"failsafeInboundHostPorts": None}})


def test_a_write_refused_half_way_is_undone(firewall_cleanup, tmp_path):
    """The API server (a ValidatingAdmissionPolicy) refuses the deny policy after the allow policy was written:
    the role removes the allow policy again and fails with the API server's reason."""
    from kubernetes import client
    cluster = firewall_cleanup
    admission = client.AdmissionregistrationV1Api(cluster.client())
    name = "test-refuse-host-firewall-deny"
    admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{"apiGroups": ["crd.projectcalico.org"], "apiVersions": ["v1"],
                                                         "operations": ["CREATE", "UPDATE"],
                                                         "resources": ["globalnetworkpolicies"]}]},
                 "validations": [{"expression": "object.metadata.name != 'default.host-firewall-deny'",
                                  "message": "refused by the test's admission policy"}]}})
    admission.create_validating_admission_policy_binding({
        "metadata": {"name": name}, "spec": {"policyName": name, "validationActions": ["Deny"]}})
    try:
        probe = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
                 "metadata": {"name": "default.host-firewall-deny"}, "spec": {}}
        deadline = time.monotonic() + 60
        while True:  # the policy takes effect once the API server has loaded it
            try:
                custom(cluster).create_cluster_custom_object(*CRD, "globalnetworkpolicies", probe, dry_run="All")
            except client.ApiException as exc:
                if "refused by the test's admission policy" in exc.body:
                    break
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(1)
        failed = play(cluster, tmp_path, check=False)
        assert failed.returncode != 0
        assert "refused by the test's admission policy" in failed.stdout
        assert "already written by this run: GlobalNetworkPolicy host-firewall-allow" in failed.stdout
        assert "undone: host-firewall-allow" in failed.stdout
        assert all(stored(cluster, n) is None for n in FIREWALL), "the allow policy written first was not undone"
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def test_automatic_host_endpoints_are_turned_on_only_where_kube_controllers_runs(firewall_cleanup, tmp_path):
    from kubernetes import client
    cluster = firewall_cleanup
    missing = play(cluster, tmp_path, check=False, host_firewall_auto_host_endpoints="true")
    assert missing.returncode != 0 and "no calico-kube-controllers Deployment runs" in missing.stdout
    assert all(stored(cluster, n) is None for n in FIREWALL)
    apps = client.AppsV1Api(cluster.client())
    labels = {"k8s-app": "calico-kube-controllers"}
    apps.create_namespaced_deployment("kube-system", {
        "metadata": {"name": "calico-kube-controllers", "labels": labels},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "calico-kube-controllers",
                                                       "image": "quay.io/calico/kube-controllers:v3.28.5"}]}}}})
    try:
        done = play(cluster, tmp_path, host_firewall_profile="generic")
        assert "Turn on automatic HostEndpoints" in done.stdout and "changed=2" in done.stdout, done.stdout
        config = custom(cluster).get_cluster_custom_object(*CRD, "kubecontrollersconfigurations", "default")
        assert config["spec"]["controllers"]["node"]["hostEndpoint"]["autoCreate"] == "Enabled"
        assert stored(cluster, FIREWALL[1])["spec"]["selector"] == "has(kubernetes.io/hostname)"
    finally:
        apps.delete_namespaced_deployment("calico-kube-controllers", "kube-system")
        custom(cluster).delete_cluster_custom_object(*CRD, "kubecontrollersconfigurations", "default")


def test_calico_policy_reports_the_calico_version_and_order_clashes(firewall_cleanup):
    clash = json.loads(json.dumps(DENY_ALL))
    clash["spec"]["order"] = 1500
    result = run_module(firewall_cleanup, "calico_policy", {"definition": clash}, check_mode=True)
    assert result["calico"] == {"version": "v3.28.5", "cluster_type": "k8s,bgp,kdd", "datastore_ready": True}
    assert any("same order (1500) as allow-icmp" in c for c in result["order"]["clashes"])
    assert "host-deny has the same order (1500) as allow-icmp" in json.dumps(result["warnings"])
    # Equal orders go by name: allow-icmp comes before host-deny, allow-all-private-default (100000) after it.
    before = " ".join(result["order"]["allowed_before"])
    assert "allow-icmp (order 1500) allows ingress and is applied before host-deny" in before
    assert "allow-all-private-default" not in before


def test_the_exposure_report_sees_the_kubelet_closed_by_the_host_firewall(firewall_cleanup, tmp_path):
    """An automatic HostEndpoint (node labels, default-allow profile) leaves the kubelet open to the internet;
    after host_firewall it is closed, while SSH stays open as a failsafe port."""
    cluster = firewall_cleanup
    auto = {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
            "metadata": {"name": "10.176.48.10-auto",
                         "labels": {"kubernetes.io/hostname": "10.176.48.10",
                                    "projectcalico.org/created-by": "calico-kube-controllers"}},
            "spec": {"node": "10.176.48.10", "interfaceName": "*", "expectedIPs": ["10.176.48.10"],
                     "profiles": ["projectcalico-default-allow"]}}
    assert not run_module(cluster, "calico_policy", {"definition": auto}).get("failed")
    try:
        before = {f["object"]: f for f in run_module(cluster, "exposure_info", {})["findings"] if f["kind"] == "Host"}
        assert before["kubelet TCP/10250"]["severity"] == "medium"
        assert "open on 1 of" in before["kubelet TCP/10250"]["exposure"]
        play(cluster, tmp_path, host_firewall_profile="generic")
        after = {f["object"]: f for f in run_module(cluster, "exposure_info", {})["findings"] if f["kind"] == "Host"}
        assert after["kubelet TCP/10250"]["severity"] == "info"
        assert after["kubelet TCP/10250"]["exposure"].startswith("closed on all")
        assert "failsafe" in after["SSH TCP/22"]["exposure"]
    finally:
        run_module(cluster, "calico_policy", {"definition": auto, "state": "absent"})
