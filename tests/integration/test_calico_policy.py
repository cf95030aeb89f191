"""calico_policy and the policy roles against the real API server with Calico's CRDs."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import run_module, run_playbook

SEED_YAML = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-kube-node-port-services
spec:
  applyOnForward: true
  ingress:
  - action: Deny
    destination:
      ports:
      - 20000:32767
    protocol: TCP
    source: {}
  - action: Deny
    destination:
      ports:
      - 20000:32767
    protocol: UDP
    source: {}
  preDNAT: true
  selector: ibm.role in { 'worker_public', 'master_public' }
  types:
  - Ingress
"""
SEED = yaml.safe_load(SEED_YAML)


def stored(cluster, name):
    from kubernetes import client
    try:
        return client.CustomObjectsApi(cluster.client()).get_cluster_custom_object(
            "crd.projectcalico.org", "v1", "globalnetworkpolicies", name)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


@pytest.fixture
def clean_policies(iks_cluster):
    yield iks_cluster
    run_module(iks_cluster, "calico_policy", {"definition": SEED, "state": "absent"})


def test_the_seed_policy_is_stored_as_calicoctl_stores_it_and_a_rerun_writes_nothing(clean_policies, tmp_path):
    cluster = clean_policies
    src = tmp_path / "deny-kube-node-port-services.yaml"
    src.write_text(SEED_YAML)
    mark = cluster.audit_mark()
    first = run_module(cluster, "calico_policy", {"src": str(src)}, diff=True)
    assert first["changed"], first
    obj = stored(cluster, "default.deny-kube-node-port-services")
    assert obj["spec"] == SEED["spec"]
    assert json.loads(obj["metadata"]["annotations"]["projectcalico.org/metadata"])["creationTimestamp"]
    assert [(e["verb"], e["objectRef"]["resource"]) for e in cluster.writes_since(mark)] == [
        ("create", "globalnetworkpolicies")]
    mark = cluster.audit_mark()
    # The same policy without the defaulted `types` is the same policy to Calico.
    without_types = json.loads(json.dumps(SEED))
    del without_types["spec"]["types"]
    again = run_module(cluster, "calico_policy", {"definition": without_types})
    assert again["changed"] is False and cluster.writes_since(mark) == []


def test_check_mode_predicts_and_writes_nothing(clean_policies):
    mark = clean_policies.audit_mark()
    result = run_module(clean_policies, "calico_policy", {"definition": SEED}, check_mode=True)
    assert result["changed"] is True
    assert clean_policies.writes_since(mark) == []
    assert stored(clean_policies, "default.deny-kube-node-port-services") is None


def test_a_change_replaces_the_policy_keeping_its_creation_time(clean_policies):
    run_module(clean_policies, "calico_policy", {"definition": SEED})
    created = stored(clean_policies, "default.deny-kube-node-port-services")
    wider = json.loads(json.dumps(SEED))
    for rule in wider["spec"]["ingress"]:
        rule["destination"]["ports"] = ["20000:32767", "10250"]
    result = run_module(clean_policies, "calico_policy", {"definition": wider}, diff=True)
    assert result["changed"]
    updated = stored(clean_policies, "default.deny-kube-node-port-services")
    # calicoctl stores a single port as a number (numorstring.Port), a range as 'a:b'.
    assert updated["spec"]["ingress"][0]["destination"]["ports"] == ["20000:32767", 10250]
    assert (updated["metadata"]["annotations"]["projectcalico.org/metadata"]
            == created["metadata"]["annotations"]["projectcalico.org/metadata"])


def test_invalid_policies_are_reported_together_and_nothing_is_written(clean_policies):
    bad = json.loads(json.dumps(SEED))
    bad["spec"]["applyOnForward"] = False
    bad["spec"]["ingress"][0]["protocol"] = "tcp"
    mark = clean_policies.audit_mark()
    result = run_module(clean_policies, "calico_policy", {"definition": [bad, SEED]})
    assert result["failed"]
    assert "preDNAT policies need spec.applyOnForward" in result["msg"]
    assert "spec.ingress[0].protocol 'tcp'" in result["msg"]
    assert "given twice" in result["msg"]
    assert clean_policies.writes_since(mark) == []


def test_the_providers_default_policies_are_never_touched_without_force(iks_cluster):
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
              "metadata": {"name": "allow-node-port-dnat"}, "spec": {"selector": "all()"}}
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "calico_policy", {"definition": policy, "state": "absent"})
    assert result["failed"] and "refusing to change the provider's default policies" in result["msg"]
    assert iks_cluster.writes_since(mark) == []
    assert stored(iks_cluster, "default.allow-node-port-dnat") is not None


def role_play(tmp_path, role, variables):
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{"name": "test", "hosts": "localhost", "gather_facts": False,
                                 "vars": {**variables, "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                                 "roles": [{"role": f"containers_workload.secure_cluster.{role}"}]}]))
    return str(path)


def test_nodeport_lockdown_role_writes_exactly_the_seed_policy(clean_policies, tmp_path):
    playbook = role_play(tmp_path, "nodeport_lockdown", {})
    run_playbook(clean_policies, playbook, "-i", "localhost,", "-c", "local")
    obj = stored(clean_policies, "default.deny-kube-node-port-services")
    assert obj["spec"] == SEED["spec"]
    again = run_playbook(clean_policies, playbook, "-i", "localhost,", "-c", "local")
    assert "changed=0" in again.stdout
    run_playbook(clean_policies, role_play(tmp_path, "nodeport_lockdown", {"nodeport_lockdown_state": "absent"}),
                 "-i", "localhost,", "-c", "local")
    assert stored(clean_policies, "default.deny-kube-node-port-services") is None


@pytest.mark.parametrize("kind", ["kubernetes", "calico"])
def test_namespace_isolation_creates_default_deny_dns_and_same_namespace_policies(iks_cluster, tmp_path, kind):
    from kubernetes import client
    core = client.CoreV1Api(iks_cluster.client())
    namespace = f"team-{kind}"
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        playbook = role_play(tmp_path, "namespace_isolation", {"namespace_isolation_namespaces": [namespace],
                                                               "namespace_isolation_kind": kind})
        run_playbook(iks_cluster, playbook, "-i", "localhost,", "-c", "local")
        if kind == "kubernetes":
            names = {p.metadata.name for p in
                     client.NetworkingV1Api(iks_cluster.client()).list_namespaced_network_policy(namespace).items}
            assert names == {"default-deny", "allow-dns", "allow-same-namespace", "allow-ingress-path"}
        else:
            items = client.CustomObjectsApi(iks_cluster.client()).list_namespaced_custom_object(
                "crd.projectcalico.org", "v1", namespace, "networkpolicies")["items"]
            assert [i["metadata"]["name"] for i in items] == ["default.isolate-namespace"]
            assert items[0]["spec"]["types"] == ["Ingress", "Egress"]
        assert "changed=0" in run_playbook(iks_cluster, playbook, "-i", "localhost,", "-c", "local").stdout
    finally:
        core.delete_namespace(namespace)


def test_nodeport_lockdown_keeps_an_allow_list_in_front_of_the_deny(clean_policies, tmp_path):
    import ipaddress

    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import resources as calico, walk
    playbook = role_play(tmp_path, "nodeport_lockdown", {"nodeport_lockdown_allowed_sources": ["198.51.100.0/24"]})
    run_playbook(clean_policies, playbook, "-i", "localhost,", "-c", "local")
    obj = stored(clean_policies, "default.deny-kube-node-port-services")
    assert [(r["action"], r["protocol"]) for r in obj["spec"]["ingress"]] == [
        ("Allow", "TCP"), ("Allow", "UDP"), ("Deny", "TCP"), ("Deny", "UDP")]
    assert obj["spec"]["ingress"][0]["source"] == {"nets": ["198.51.100.0/24"]}
    policy = calico.from_crd({"kind": "GlobalNetworkPolicy", **obj})
    endpoint = {"metadata": {"name": "w1", "labels": {"ibm.role": "worker_public"}}, "spec": {}}

    def reaches(source):
        packet = {"protocol": "TCP", "port": 30080, "source": ipaddress.ip_network(source)}
        return walk.verdict([policy], endpoint, packet, forwarded=True)["allowed"]
    assert reaches("198.51.100.7/32") and not reaches("203.0.113.10/32")


def test_rules_are_stored_with_source_and_destination_and_older_objects_are_not_rewritten(iks_cluster):
    """calicoctl writes `source: {}` and `destination: {}` on every rule; so does the module. An object stored
    without them (by an earlier release) is the same policy: a re-run writes nothing."""
    from kubernetes import client
    api = client.CustomObjectsApi(iks_cluster.client())
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
              "metadata": {"name": "storage-form"},
              "spec": {"order": 50, "selector": "ibm.role == 'worker_public'",
                       "ingress": [{"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}},
                                   {"action": "Deny", "protocol": "TCP", "destination": {"ports": ["10250"]}}]}}
    try:
        run_module(iks_cluster, "calico_policy", {"definition": policy})
        obj = stored(iks_cluster, "default.storage-form")
        assert [(r.get("source"), r.get("destination")) for r in obj["spec"]["ingress"]] == [
            ({}, {}), ({}, {"ports": [10250]})]
        older = json.loads(json.dumps(obj))
        for rule in older["spec"]["ingress"]:
            rule.pop("source")
            if rule["destination"] == {}:
                rule.pop("destination")
        older["spec"]["ingress"][1]["destination"]["ports"] = ["10250"]
        api.replace_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies",
                                          "default.storage-form", older)
        mark = iks_cluster.audit_mark()
        again = run_module(iks_cluster, "calico_policy", {"definition": policy})
        assert again["changed"] is False and again["api_calls"]["writes"] == 0
        assert iks_cluster.writes_since(mark) == []
    finally:
        run_module(iks_cluster, "calico_policy", {"definition": policy, "state": "absent"})


def test_a_policy_calico_refuses_is_refused_before_any_write_naming_field_and_value(iks_cluster):
    bad = json.loads(json.dumps(SEED))
    bad["metadata"]["name"] = "icmp-255"
    bad["spec"]["ingress"].append({"action": "Deny", "protocol": "ICMP", "icmp": {"type": 255}})
    bad["spec"]["ingress"][0]["destination"]["ports"] = ["0:10"]
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "calico_policy", {"definition": bad})
    assert result["failed"]
    assert "spec.ingress[2].icmp.type 255 is not an ICMP type 0-254" in result["msg"]
    assert "spec.ingress[0].destination.ports '0:10'" in result["msg"]
    assert iks_cluster.writes_since(mark) == []
    assert stored(iks_cluster, "default.icmp-255") is None


def test_fields_this_clusters_calico_lacks_are_refused_naming_its_version(iks_cluster):
    """The iks profile's ClusterInformation says v3.28.5, which has no policy tiers (they came with v3.29)."""
    policy = json.loads(json.dumps(SEED))
    policy["metadata"]["name"] = "tiered"
    policy["spec"]["tier"] = "default"
    mark = iks_cluster.audit_mark()
    result = run_module(iks_cluster, "calico_policy", {"definition": policy})
    assert result["failed"]
    assert "spec.tier 'default' is not known to Calico v3.28.5" in result["msg"]
    assert iks_cluster.writes_since(mark) == []
