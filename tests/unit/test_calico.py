"""Calico resources are validated like libcalico-go does, defaulted like Calico, stored like calicoctl."""

import copy
import json

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import resources as calico
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import validation

SEED = {  # the seed's deny-kube-node-port-services, as the user writes it for calicoctl apply
    "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
    "metadata": {"name": "deny-kube-node-port-services"},
    "spec": {"applyOnForward": True, "preDNAT": True,
             "ingress": [{"action": "Deny", "destination": {"ports": ["20000:32767"]}, "protocol": proto,
                          "source": {}} for proto in ("TCP", "UDP")],
             "selector": "ibm.role in { 'worker_public', 'master_public' }", "types": ["Ingress"]},
}


def changed(path, value):
    resource = copy.deepcopy(SEED)
    target = resource
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is None:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return resource


def test_the_seed_policy_is_valid():
    assert validation.one_resource_errors(SEED, 0) == []


@pytest.mark.parametrize("path, value, message", [
    ("spec.applyOnForward", None, "preDNAT policies need spec.applyOnForward: true"),
    ("spec.egress", [{"action": "Allow"}], "preDNAT policies apply to ingress only"),
    ("spec.types", ["Ingress", "Egress"], "preDNAT policies apply to ingress only"),
    ("spec.doNotTrack", True, "preDNAT and doNotTrack cannot both be set"),
    ("spec.ingress.0.action", "deny", "spec.ingress[0].action 'deny' is not one of Allow, Deny, Log, Pass"),
    ("spec.ingress.0.protocol", "tcp", "spec.ingress[0].protocol 'tcp' is not one of TCP"),
    ("spec.ingress.0.protocol", "ICMP", "spec.ingress[0].destination.ports need protocol TCP, UDP or SCTP"),
    ("spec.ingress.0.destination.ports", ["32767:20000"], "'32767:20000' is a range whose start 32767 is greater"),
    ("spec.ingress.0.destination.ports", [70000], "70000 is not a port 1-65535"),
    ("spec.ingress.0.source", {"nets": ["10.0.0.0/8", "fd00::/8"]}, "mixes IPv4 and IPv6 nets"),
    ("spec.ingress.0.source", {"nets": ["10.0.0.300/8"]}, "spec.ingress[0].source.nets '10.0.0.300/8' is not a CIDR"),
    ("spec.ingress.0.source", {"netz": ["10.0.0.0/8"]}, "spec.ingress[0].source has unknown field(s) netz"),
    ("spec.preDnat", True, "spec has unknown field(s) preDnat"),
    ("spec.types", ["ingress"], "spec.types 'ingress' is not Ingress or Egress"),
    ("spec.selector", "ibm.role in { 'worker_public'", "spec.selector"),
    ("spec.selector", "a == 'b' &&", "ends too early"),
    ("spec.selector", "role = 'edge'", "spec.selector"),
    ("metadata.name", "Deny_NodePorts", "metadata.name 'Deny_NodePorts' must be lowercase"),
    ("apiVersion", "crd.projectcalico.org/v1", "apiVersion 'crd.projectcalico.org/v1' must be projectcalico.org/v3"),
])
def test_each_calico_rule_rejects_bad_input_naming_the_field(path, value, message):
    errors = validation.one_resource_errors(changed(path, value), 0)
    assert any(message in e for e in errors), errors


def test_do_not_track_needs_apply_on_forward():
    policy = changed("spec.preDNAT", None)
    policy["spec"].update({"doNotTrack": True, "applyOnForward": False})
    assert any("doNotTrack policies need spec.applyOnForward" in e for e in validation.one_resource_errors(policy, 0))


@pytest.mark.parametrize("ingress, egress, types", [
    ([{"action": "Allow"}], [], ["Ingress"]),
    ([], [{"action": "Allow"}], ["Egress"]),
    ([{"action": "Allow"}], [{"action": "Allow"}], ["Ingress", "Egress"]),
    ([], [], ["Ingress"]),
])
def test_types_are_defaulted_like_calico(ingress, egress, types):
    policy = {"apiVersion": calico.V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "p"},
              "spec": {"ingress": ingress, "egress": egress}}
    assert calico.with_defaults(policy)["spec"]["types"] == types


def test_storage_matches_calicoctl_and_reads_back_identically():
    stored = calico.to_crd(calico.with_defaults(SEED), "2026-11-23T20:00:00Z")
    assert stored["apiVersion"] == "crd.projectcalico.org/v1"
    assert stored["metadata"]["name"] == "default.deny-kube-node-port-services"
    assert json.loads(stored["metadata"]["annotations"]["projectcalico.org/metadata"]) == {
        "creationTimestamp": "2026-11-23T20:00:00Z"}
    assert calico.from_crd(stored) == SEED
    assert calico.same(calico.with_defaults(SEED), calico.from_crd(stored))


def test_network_sets_and_host_endpoints_keep_their_names():
    assert calico.storage_name("GlobalNetworkSet", "corp") == "corp"
    assert calico.storage_name("NetworkPolicy", "knp.default.x") == "knp.default.x"
    assert calico.storage_name("NetworkPolicy", "isolate") == "default.isolate"


def test_the_v1_policy_of_the_iks_docs_is_refused_with_its_v3_form():
    """Seed 004 shows the Calico v1 format; the message gives the v3 policy calicoctl convert would."""
    v1 = {"apiVersion": "v1", "kind": "policy", "metadata": {"name": "deny-kube-node-port-services"},
          "spec": {"preDNAT": True, "selector": "ibm.role in { 'worker_public', 'master_public' }",
                   "ingress": [{"action": "deny", "protocol": "tcp", "destination": {"ports": ["30000:32767"]}},
                               {"action": "deny", "protocol": "udp", "destination": {"ports": ["30000:32767"]}}]}}
    errors = validation.one_resource_errors(v1, 0)
    assert len(errors) == 1 and "Calico v1 format" in errors[0]
    converted = json.loads(errors[0].split("Calico v3 reads it as ", 1)[1])
    assert validation.one_resource_errors(converted, 0) == []
    assert converted["spec"]["applyOnForward"] is True and converted["spec"]["types"] == ["Ingress"]
    assert [(r["action"], r["protocol"]) for r in converted["spec"]["ingress"]] == [("Deny", "TCP"), ("Deny", "UDP")]
