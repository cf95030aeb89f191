"""The admission guard's objects (the API server judges their CEL in tests/integration/test_admission_guard.py):
what each control matches, who is exempt, and what is left out."""

import json

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.filter.admission_guard import (
    admission_guard, admission_guard_service_accounts)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import admission

PROTECTED = {"provider": "ibm", "edge_labels": {"dedicated": "edge"},
             "edge_taints": [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}],
             "global_policies": ["deny-kube-node-port-services"], "isolated_namespaces": ["shop"],
             "isolation_policies": {"kubernetes": ["default-deny"], "calico": ["isolate-namespace"]},
             "services": [{"namespace": "shop", "name": "web"}], "vpn": {"name": "vpn", "namespace": "strongswan"}}


def by_name(objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_one_policy_and_binding_per_control_each_matching_only_what_the_pattern_owns():
    objects = by_name(admission_guard(PROTECTED, "g", ["Group:platform", "ServiceAccount:ops/deployer"]))
    policies = {name for kind, name in objects if kind == "ValidatingAdmissionPolicy"}
    assert policies == {"g-edge-nodes", "g-calico-global", "g-namespace-isolation", "g-private-services", "g-vpn"}
    gnp = objects["ValidatingAdmissionPolicy", "g-calico-global"]["spec"]["matchConstraints"]["resourceRules"]
    assert gnp[0]["resourceNames"] == ["default.deny-kube-node-port-services"]  # as calicoctl stores it
    isolation = objects["ValidatingAdmissionPolicy", "g-namespace-isolation"]["spec"]["matchConstraints"]
    assert [r["resourceNames"] for r in isolation["resourceRules"]] == [["default-deny"], ["default.isolate-namespace"]]
    assert isolation["namespaceSelector"]["matchExpressions"][0]["values"] == ["shop"]
    vpn = objects["ValidatingAdmissionPolicy", "g-vpn"]["spec"]["matchConstraints"]["resourceRules"]
    assert [r["resourceNames"] for r in vpn] == [["vpn-strongswan"], ["vpn-strongswan-routes"], ["vpn-strongswan-secrets"]]
    nodes = objects["ValidatingAdmissionPolicy", "g-edge-nodes"]["spec"]["matchConstraints"]["resourceRules"]
    assert nodes == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["nodes"]}]
    services = objects["ValidatingAdmissionPolicy", "g-private-services"]["spec"]["validations"][0]["expression"]
    assert '"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type"' in services and '"private"' in services
    binding = objects["ValidatingAdmissionPolicyBinding", "g-vpn"]["spec"]
    assert binding == {"policyName": "g-vpn", "validationActions": ["Deny", "Audit"]}


def test_the_exempt_are_the_platform_subjects_a_service_account_as_the_api_server_names_it():
    condition = admission.not_exempt(["Group:platform", "ServiceAccount:ops/deployer", "User:alice"])
    assert '["alice", "system:serviceaccount:ops:deployer"]' in condition["expression"]
    assert '["platform"]' in condition["expression"]
    assert admission_guard_service_accounts(["User:x", "ServiceAccount:ops/deployer"]) == [
        {"namespace": "ops", "name": "deployer", "why": "an exempt subject of the admission guard"}]


def test_a_dry_run_warns_and_audits_instead_of_refusing():
    objects = admission_guard(PROTECTED, "g", ["User:admin"], dry_run=True)
    assert {tuple(o["spec"]["validationActions"]) for o in objects if o["kind"].endswith("Binding")} == {("Warn", "Audit")}


def test_a_step_not_taken_keeps_nothing_and_values_are_cel_literals():
    objects = admission_guard({"edge_labels": {"team's": 'edge"1'}, "edge_taints": []}, "g", ["User:admin"])
    assert [o["metadata"]["name"] for o in objects] == ["g-edge-nodes", "g-edge-nodes"]
    expression = objects[0]["spec"]["validations"][0]["expression"]
    assert json.dumps("team's") in expression and json.dumps('edge"1') in expression


@pytest.mark.parametrize("subject", ["alice", "ServiceAccount:ops", "Role:x", "ServiceAccount:Ops/x"])
def test_a_subject_that_is_not_user_group_or_service_account_is_refused(subject):
    with pytest.raises(Exception, match="is not User:<name>, Group:<name> or ServiceAccount"):
        admission_guard(PROTECTED, "g", [subject])
