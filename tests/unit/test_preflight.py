"""The up-front rights and API-group checks: few requests, and a refusal always confirmed by an access review."""

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import preflight


class FakeKube:
    def __init__(self, rules, allowed=(), groups=("crd.projectcalico.org/v1",)):
        self.rules, self.allowed, self.groups, self.calls = rules, set(allowed), groups, []

    def request(self, method, path, body=None):
        self.calls.append((method, path.rsplit("/", 1)[-1], (body.get("spec") or {}).get("namespace")))
        if path.endswith("selfsubjectrulesreviews"):
            return {"status": {"resourceRules": self.rules.get(body["spec"]["namespace"], [])}}
        if path.endswith("selfsubjectaccessreviews"):
            attrs = body["spec"]["resourceAttributes"]
            return {"status": {"allowed": (attrs["verb"], attrs["resource"]) in self.allowed}}
        return {"status": {"userInfo": {"username": "alice"}}}

    def get(self, path):
        self.calls.append(("GET", path, None))
        return {"groups": [{"versions": [{"groupVersion": g}]} for g in self.groups]}


NODES = {"verb": "patch", "resource": "nodes", "why": "edge_nodes"}
EVICT = {"verb": "create", "resource": "pods", "subresource": "eviction", "namespaces": ["kube-system", "ibm-system"]}


def test_namespaced_rights_cost_one_rules_review_per_namespace_and_cluster_rights_an_access_review_each():
    kube = FakeKube({ns: [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}] for ns in ("kube-system", "ibm-system")},
                    allowed={("patch", "nodes")})
    assert preflight.denied_rights(kube, [NODES, EVICT]) == []
    assert sorted((c[1], c[2] or "") for c in kube.calls) == [
        ("selfsubjectaccessreviews", ""), ("selfsubjectrulesreviews", "ibm-system"),
        ("selfsubjectrulesreviews", "kube-system")]


def test_a_namespace_admin_is_not_confirmed_for_cluster_scoped_rights_by_its_namespace_rules():
    """The issue's case: a Role of everything in one namespace shows up in that namespace's rules review, but
    grants nothing cluster-wide; the access review judges the cluster-scoped right."""
    gnp = {"verb": "create", "resource": "globalnetworkpolicies", "group": "crd.projectcalico.org"}
    kube = FakeKube({"default": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]})
    denied = preflight.denied_rights(kube, [gnp, {"verb": "create", "resource": "configmaps", "namespace": "default"}])
    assert [preflight.right_text(r) for r in denied] == ["create globalnetworkpolicies (crd.projectcalico.org) (cluster-wide)"]


def test_a_refusal_is_confirmed_by_an_access_review_and_an_allowed_one_is_not_reported():
    rules = {"kube-system": [{"verbs": ["create"], "apiGroups": [""], "resources": ["pods/eviction"]}], "ibm-system": []}
    kube = FakeKube(rules, allowed={("create", "pods")})
    denied = preflight.denied_rights(kube, [NODES, EVICT])
    assert [preflight.right_text(r) for r in denied] == ["patch nodes (cluster-wide)"]
    assert sum(1 for c in kube.calls if c[1] == "selfsubjectaccessreviews") == 2


@pytest.mark.parametrize("rule, expected", [
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods/*"]}, False),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["*/eviction"]}, True),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods/eviction"]}, True),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}, False),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods/eviction"], "resourceNames": ["x"]}, False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}, False),
])
def test_rules_match_as_rbac_does(rule, expected):
    right = {"verb": "create", "resource": "pods", "subresource": "eviction", "group": ""}
    assert preflight.rule_allows(rule, right) is expected


def test_missing_groups_and_denied_rights_fail_together_naming_the_user_and_the_fix():
    kube = FakeKube({"default": []}, groups=())
    run = type("Run", (), {"kube": kube, "params": {
        "api_groups": [{"group_version": "crd.projectcalico.org/v1", "why": "nodeport_lockdown"}],
        "api_groups_fix": "install Calico", "rights": [NODES]}})()
    with pytest.raises(preflight.PreflightError) as caught:
        preflight.run(run)
    text = str(caught.value)
    for part in ("does not serve crd.projectcalico.org/v1 (nodeport_lockdown): install Calico",
                 "alice may not patch nodes (cluster-wide) (edge_nodes)", "nothing was changed"):
        assert part in text


def test_queued_checks_are_judged_with_the_last_call_in_one_set_of_reviews_each_group_with_its_own_fix():
    """The composing role queues every step's checks (defer) and judges them in one call (queued): a right two
    steps need is reviewed once, and each missing group is named with its own step's fix."""
    calico = {"verb": "create", "resource": "globalnetworkpolicies", "group": "crd.projectcalico.org"}
    lockdown = preflight.queued({"api_groups": [{"group_version": "crd.projectcalico.org/v1", "why": "nodeport_lockdown"}],
                                 "api_groups_fix": "switch the lockdown off", "rights": [calico, NODES]})
    isolation = preflight.queued({"api_groups": [{"group_version": "crd.projectcalico.org/v1", "why": "namespace_isolation"}],
                                  "api_groups_fix": "use namespace_isolation_kind kubernetes", "rights": [calico]})
    params = preflight.merged({"rights": [NODES], "api_groups_fix": "ignored once merged"}, [lockdown, isolation])
    kube = FakeKube({}, groups=())
    with pytest.raises(preflight.PreflightError) as caught:
        preflight.run(type("Run", (), {"kube": kube, "params": params})())
    text = str(caught.value)
    assert ("does not serve crd.projectcalico.org/v1 (nodeport_lockdown): switch the lockdown off; "
            "crd.projectcalico.org/v1 (namespace_isolation): use namespace_isolation_kind kubernetes") in text
    assert "ignored once merged" not in text
    assert "alice may not create globalnetworkpolicies (crd.projectcalico.org) (cluster-wide); patch nodes" in text
    # The same right from three calls costs one access review; the discovery GET is one for every group.
    assert sum(1 for c in kube.calls if c[1] == "selfsubjectaccessreviews") == 2
    assert sum(1 for c in kube.calls if c[0] == "GET") == 1


def test_a_queue_is_read_only_by_the_run_that_queued_it(monkeypatch):
    """A fact cache keeps host facts across runs: checks another run queued (one cut short) are never judged."""
    from ansible_collections.containers_workload.secure_cluster.plugins.action import preflight as action

    entry = preflight.queued({"rights": [NODES]})
    ours = {"ansible_facts": {action.QUEUE: {"token": action.run_token(), "checks": [entry]}}}
    assert action.ActionModule._queue(ours) == [entry]
    monkeypatch.setattr(action.os, "getppid", lambda: 1)  # another ansible-playbook process
    assert action.ActionModule._queue(ours) == []
    assert action.ActionModule._queue({}) == []
