"""RBAC's rule matching, case by case as Kubernetes' authorizer decides (the rule helpers' own tests in
k8s.io/kubernetes pkg/apis/rbac/v1 and plugin/pkg/auth/authorizer/rbac): the up-front check and the audit use it."""

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import access
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import rbac


def rule(verbs=("*",), groups=("*",), resources=("*",), names=()):
    return {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources),
            **({"resourceNames": list(names)} if names else {})}


@pytest.mark.parametrize("given, request_, allowed", [
    # verbs and API groups: "*" or exactly
    (rule(verbs=["get"]), ("get", "", "pods"), True),
    (rule(verbs=["get"]), ("list", "", "pods"), False),
    (rule(verbs=["Get"]), ("get", "", "pods"), False),
    (rule(groups=[""]), ("get", "apps", "deployments"), False),
    (rule(groups=["apps"]), ("get", "apps", "deployments"), True),
    (rule(groups=["crd.projectcalico.org"]), ("create", "projectcalico.org", "globalnetworkpolicies"), False),
    (rule(groups=["*.projectcalico.org"]), ("create", "crd.projectcalico.org", "globalnetworkpolicies"), False),
    # resources: "*", exact resource or resource/subresource, "*/subresource"; nothing else is a wildcard
    (rule(), ("create", "", "pods/eviction"), True),
    (rule(resources=["pods"]), ("create", "", "pods/eviction"), False),
    (rule(resources=["pods/*"]), ("create", "", "pods/eviction"), False),
    (rule(resources=["pods/eviction"]), ("create", "", "pods/eviction"), True),
    (rule(resources=["*/eviction"]), ("create", "", "pods/eviction"), True),
    (rule(resources=["*/eviction"]), ("create", "", "pods"), False),
    (rule(resources=["*/status"]), ("update", "", "pods/eviction"), False),
    (rule(resources=["pods/eviction"]), ("create", "", "pods"), False),
    (rule(resources=["pod*"]), ("get", "", "pods"), False),
    # resourceNames: only a request naming one of them
    (rule(names=["a"]), ("create", "", "configmaps"), False),
    (rule(names=["a"]), ("list", "", "configmaps"), False),
])
def test_a_rule_allows_what_kubernetes_rbac_allows(given, request_, allowed):
    assert rbac.rule_allows(given, *request_) is allowed


def test_resource_names_limit_to_the_named_objects():
    named = rule(verbs=["patch"], resources=["configmaps"], names=["record"])
    assert rbac.rule_allows(named, "patch", "", "configmaps", "record")
    assert not rbac.rule_allows(named, "patch", "", "configmaps", "other")
    assert rbac.rule_allows(named, "patch", "", "configmaps", None)  # on some object


def test_the_audit_uses_the_same_matching():
    assert not access.grants([rule(verbs=["create"], groups=[""], resources=["pods/*"])], ("create",), "", ("pods/exec",))
    assert access.grants([rule(verbs=["create"], groups=[""], resources=["*/exec"])], ("create",), "", ("pods/exec",))
    limited = [rule(verbs=["create"], groups=[""], resources=["pods"], names=["x"])]
    assert access.grants(limited, ("create",), "", ("pods",))
    assert not access.grants(limited, ("create",), "", ("pods",), named_ok=False)
    assert not access.grants(limited, ("create",), "", ("pods",), names=("y",))
    assert access.grants(limited, ("create",), "", ("pods",), names=("x", "y"))
