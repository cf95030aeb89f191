"""Edge-node planning: the smallest correct change, and refusal of unsafe or malformed requests."""

import re

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes import edge as nodes

EDGE_TAINTS = [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"},
               {"key": "dedicated", "value": "edge", "effect": "NoExecute"}]


def params(**overrides):
    base = {"nodes": [], "selector": None, "labels": {"dedicated": "edge"}, "taints": EDGE_TAINTS,
            "state": "present", "exclusive": False, "min_edge_nodes": 2, "min_schedulable_workers": 1,
            "force": False}
    base.update(overrides)
    return base


def node(name, labels=None, taints=None, unschedulable=False):
    return {"metadata": {"name": name, "labels": labels or {}, "resourceVersion": "7"},
            "spec": {"taints": taints or [], "unschedulable": unschedulable}}


def make_plan(cluster, **overrides):
    p = params(**overrides)
    return nodes.plan(cluster, p, nodes.desired_taints(p))


def test_chosen_nodes_get_the_label_and_both_taints():
    plan = make_plan([node("a"), node("b"), node("c")], nodes=["a", "b"])
    assert [c.name for c in plan.to_patch] == ["a", "b"]
    assert plan.edge_nodes == ["a", "b"]
    after = plan.to_patch[0].after
    assert after["labels"] == {"dedicated": "edge"}
    assert [(t["key"], t["value"], t["effect"]) for t in after["taints"]] == [
        ("dedicated", "edge", "NoSchedule"), ("dedicated", "edge", "NoExecute")]


def test_nodes_already_edge_need_no_patch():
    edge = {"labels": {"dedicated": "edge"}, "taints": [dict(t, timeAdded="2026-01-01T00:00:00Z")
                                                        for t in EDGE_TAINTS]}
    cluster = [node("a", **edge), node("b", **edge), node("c")]
    assert make_plan(cluster, nodes=["a", "b"]).to_patch == []


def test_taint_with_same_key_and_effect_updates_value_in_place():
    cluster = [node("a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
               node("b"), node("c")]
    change = make_plan(cluster, nodes=["a", "b"]).to_patch[0]
    assert [t for t in change.after["taints"] if t["effect"] == "NoSchedule"] == [
        {"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
    assert len(change.after["taints"]) == 2


def test_other_labels_and_taints_are_never_touched():
    other = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    cluster = [node("a", labels={"team": "net"}, taints=[other]), node("b"), node("c")]
    change = make_plan(cluster, nodes=["a", "b"]).to_patch[0]
    assert change.after["labels"]["team"] == "net"
    assert other in change.after["taints"]
    body = nodes.patch_body(change)
    assert body["metadata"]["labels"] == {"dedicated": "edge"}
    assert body["metadata"]["resourceVersion"] == "7"  # the taint list is replaced whole: guarded


def test_a_labels_only_patch_carries_no_resource_version_guard():
    change = nodes.NodeChange("a", True, {"labels": {}, "taints": []}, {"labels": {"dedicated": "edge"}, "taints": []}, "7")
    assert nodes.patch_body(change) == {"metadata": {"labels": {"dedicated": "edge"}}}


def test_selector_chooses_nodes_by_label():
    cluster = [node("a", labels={"pool": "edge"}), node("b", labels={"pool": "edge"}), node("c")]
    assert make_plan(cluster, selector="pool=edge").edge_nodes == ["a", "b"]


def test_unknown_node_names_are_all_reported_at_once():
    with pytest.raises(nodes.PlanError, match="unknown node.*x1, x2"):
        make_plan([node("a"), node("b"), node("c")], nodes=["a", "x2", "x1"])


def test_every_bad_input_is_reported_before_anything_is_read():
    bad = params(nodes=["Bad_Name"], labels={"-x": "ok", "dedicated": "bad value"},
                 taints=[{"key": "dedicated", "value": "edge", "effect": "NoScheduled"},
                         {"key": "dedicated", "value": "edge", "effect": "NoExecute"},
                         {"key": "dedicated", "value": "other", "effect": "NoExecute"}],
                 selector="zone in (a")
    message = "; ".join(nodes.param_errors(bad))
    for expected in ("node name 'Bad_Name'", "label key '-x'", "label 'dedicated' value 'bad value'",
                     "effect 'NoScheduled' is not one of NoSchedule, PreferNoSchedule, NoExecute",
                     "key 'dedicated' with effect 'NoExecute' is given twice", "label selector 'zone in (a'"):
        assert expected in message


def test_tainting_every_schedulable_node_is_refused():
    with pytest.raises(nodes.PlanError, match="only 0 node.*stay schedulable.*nothing was changed"):
        make_plan([node("a"), node("b")], nodes=["a", "b"])


def test_cordoned_nodes_do_not_count_as_room_for_workloads():
    with pytest.raises(nodes.PlanError, match="stay schedulable"):
        make_plan([node("a"), node("b"), node("c", unschedulable=True)], nodes=["a", "b"])


def test_too_few_edge_nodes_is_refused_unless_forced():
    cluster = [node("a"), node("b"), node("c")]
    with pytest.raises(nodes.PlanError, match="only 1 edge node.*at least 2"):
        make_plan(cluster, nodes=["a"])
    forced = make_plan(cluster, nodes=["a"], force=True)
    assert forced.edge_nodes == ["a"]
    assert forced.warnings and "min_edge_nodes" in forced.warnings[0]


def test_exclusive_removes_edge_marks_from_nodes_not_chosen():
    edge = {"labels": {"dedicated": "edge"}, "taints": list(EDGE_TAINTS)}
    cluster = [node("a"), node("b"), node("old", **edge), node("d")]
    plan = make_plan(cluster, nodes=["a", "b"], exclusive=True)
    old = next(c for c in plan.to_patch if c.name == "old")
    assert old.after == {"labels": {}, "taints": []}
    assert plan.edge_nodes == ["a", "b"]


def test_absent_without_selection_clears_every_edge_node_but_keeps_foreign_labels():
    cluster = [node("a", labels={"dedicated": "edge"}, taints=list(EDGE_TAINTS)),
               node("b", labels={"dedicated": "gpu"}, taints=[{"key": "dedicated", "value": "gpu",
                                                               "effect": "NoSchedule"}])]
    plan = make_plan(cluster, state="absent")
    after = {c.name: c.after for c in plan.changes}
    assert after["a"] == {"labels": {}, "taints": []}
    assert after["b"]["labels"] == {"dedicated": "gpu"}
    assert after["b"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def test_patch_removes_emptied_taint_list_and_deleted_labels():
    change = nodes.NodeChange("a", True, {"labels": {"dedicated": "edge", "x": "1"}, "taints": list(EDGE_TAINTS)},
                              {"labels": {"x": "1"}, "taints": []}, "9")
    assert nodes.patch_body(change) == {"metadata": {"resourceVersion": "9", "labels": {"dedicated": None}},
                                        "spec": {"taints": None}}


@pytest.mark.parametrize("tolerations, expected", [
    ([{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoExecute"}], True),
    ([{"key": "dedicated", "operator": "Exists"}], True),
    ([{"operator": "Exists"}], True),
    ([{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoSchedule"}], False),
    ([{"key": "dedicated", "operator": "Equal", "value": "gpu"}], False),
    ([], False),
    (None, False),
])
def test_toleration_matching_follows_the_scheduler(tolerations, expected):
    assert nodes.tolerates(tolerations, {"key": "dedicated", "value": "edge", "effect": "NoExecute"}) is expected


@pytest.mark.parametrize("text, value", [("250m", 0.25), ("2", 2.0), ("128Mi", 128 * 2**20), ("1G", 1e9), (None, 0.0)])
def test_quantities_are_parsed_like_kubernetes(text, value):
    assert nodes.quantity(text) == value


def pod(name, cpu, node_name="a", owner="ReplicaSet"):
    return {"metadata": {"name": name, "namespace": "default", "ownerReferences": [{"kind": owner, "uid": "u"}]},
            "spec": {"nodeName": node_name, "containers": [{"resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": "Running"}}


def test_room_is_checked_node_by_node_not_in_aggregate():
    free = {"x": {"cpu": 1.5, "memory": 1e9}, "y": {"cpu": 1.5, "memory": 1e9}}
    assert [p["metadata"]["name"] for p in nodes.first_fit([pod("big", "2")], free)] == ["big"]
    free = {"x": {"cpu": 1.5, "memory": 1e9}, "y": {"cpu": 1.5, "memory": 1e9}}
    assert nodes.first_fit([pod("one", "1"), pod("two", "1")], free) == []


def test_eviction_report_counts_only_new_noexecute_taints_and_skips_tolerating_pods():
    cluster = [node("a"), node("b"), node("c")]
    for n in cluster:
        n["status"] = {"allocatable": {"cpu": "4", "memory": "16Gi"}}
    p = params(nodes=["a", "b"])
    plan = nodes.plan(cluster, p, nodes.desired_taints(p))
    tolerant = pod("ingress", "100m")
    tolerant["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    report = nodes.eviction_report(plan, cluster, [pod("web", "1"), tolerant, pod("agent", "10m", owner="DaemonSet"),
                                                   pod("elsewhere", "1", node_name="c")], [], nodes.desired_taints(p))
    assert sorted(e["name"] for e in report["pods"]) == ["agent", "web"]
    assert report["requests_to_reschedule"]["cpu"] == 1.0
    assert report["fits"] is True


def test_absent_with_a_key_alone_removes_that_keys_taints_of_every_effect_and_value():
    taints = list(EDGE_TAINTS) + [{"key": "dedicated", "value": "gpu", "effect": "PreferNoSchedule"},
                                  {"key": "other", "value": "x", "effect": "NoSchedule"}]
    plan = make_plan([node("a", taints=taints), node("b")], nodes=["a"], state="absent", labels={},
                     taints=[{"key": "dedicated"}])
    assert plan.changes[0].after["taints"] == [{"key": "other", "value": "x", "effect": "NoSchedule"}]


def test_absent_with_key_and_effect_removes_only_that_effect():
    plan = make_plan([node("a", taints=list(EDGE_TAINTS)), node("b")], nodes=["a"], state="absent", labels={},
                     taints=[{"key": "dedicated", "effect": "NoExecute"}])
    assert plan.changes[0].after["taints"] == [EDGE_TAINTS[0]]


def test_absent_with_a_value_keeps_the_same_keys_taints_of_other_values():
    gpu = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    plan = make_plan([node("a", taints=[EDGE_TAINTS[1], gpu]), node("b")], nodes=["a"], state="absent", labels={},
                     taints=[{"key": "dedicated", "value": "edge"}])
    assert plan.changes[0].after["taints"] == [gpu]


def test_adding_a_taint_without_an_effect_is_refused_naming_it():
    errors = nodes.param_errors(params(nodes=["a"], taints=[{"key": "dedicated", "value": "edge"}]))
    assert any(re.search(r"taint #1 \('dedicated=edge'\): an effect .* is needed", e) for e in errors), errors


CUSTOM = {"node-role.example.com/edge": "true"}
CUSTOM_TAINTS = [{"key": "node-role.example.com/edge", "value": "true", "effect": e} for e in ("NoSchedule", "NoExecute")]
IKS_ALB_SPEC = {  # as IKS deploys its ALBs: prefer dedicated=edge, tolerate only dedicated=edge
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "dedicated", "operator": "In", "values": ["edge"]}]}}]}},
    "tolerations": [{"key": "dedicated", "value": "edge", "operator": "Equal", "effect": e} for e in ("NoSchedule", "NoExecute")]}


def alb_pod(name, node_name, spec=None):
    return {"metadata": {"name": name, "namespace": "kube-system",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "public-crabc-alb1-7fd4", "uid": "u1"}]},
            "spec": {"nodeName": node_name, **(spec if spec is not None else IKS_ALB_SPEC)}, "status": {"phase": "Running"}}


def placement(pods, labels, taints):
    cluster = [node(n) for n in ("a", "b", "c")]
    p = params(nodes=["a", "b"], labels=labels, taints=taints)
    plan = nodes.plan(cluster, p, nodes.desired_taints(p))
    return nodes.workload_placement(pods, plan, cluster, labels, nodes.desired_taints(p))


def test_iks_albs_follow_the_default_marker_and_the_move_is_planned():
    result = placement([alb_pod("alb-1", "c"), alb_pod("alb-2", "a")], {"dedicated": "edge"}, EDGE_TAINTS)
    assert result["cannot_follow"] == []
    assert result["to_move"] == [{"namespace": "kube-system", "name": "alb-1", "node": "c"}]


def test_iks_albs_cannot_follow_a_custom_marker_and_the_message_names_what_fixes_it():
    result = placement([alb_pod("alb-1", "c"), alb_pod("alb-2", "a")], CUSTOM, CUSTOM_TAINTS)
    assert [(c["namespace"], c["pods"]) for c in result["cannot_follow"]] == [("kube-system", ["alb-1", "alb-2"])]
    problem = result["cannot_follow"][0]["problem"]
    assert "does not tolerate node-role.example.com/edge=true:NoExecute, node-role.example.com/edge=true:NoSchedule" in problem
    with pytest.raises(nodes.PlanError) as caught:
        nodes.check_placement(result, CUSTOM, CUSTOM_TAINTS)
    for fix in ("use the default edge marker", "leave them out of edge_nodes_workloads", "node affinity",
                "nothing was changed", "kube-system/alb-1, alb-2 (ReplicaSet public-crabc-alb1-7fd4)"):
        assert fix in str(caught.value), fix


def test_a_pod_that_tolerates_but_is_not_steered_cannot_move_while_one_with_a_node_selector_can():
    tolerating = {"tolerations": [{"key": "node-role.example.com/edge", "operator": "Exists"}]}
    loose = placement([alb_pod("loose", "c", tolerating)], CUSTOM, CUSTOM_TAINTS)["cannot_follow"]
    assert len(loose) == 1 and "no nodeSelector or node affinity for the edge label" in loose[0]["problem"]
    assert placement([alb_pod("on-edge", "a", tolerating)], CUSTOM, CUSTOM_TAINTS)["cannot_follow"] == []
    steered = {**tolerating, "nodeSelector": dict(CUSTOM)}
    assert placement([alb_pod("steered", "c", steered)], CUSTOM, CUSTOM_TAINTS)["cannot_follow"] == []
    required = {**tolerating, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "node-role.example.com/edge", "operator": "Exists"}]}]}}}}
    assert placement([alb_pod("required", "c", required)], CUSTOM, CUSTOM_TAINTS)["cannot_follow"] == []


def test_a_node_selector_that_admits_no_edge_node_is_named():
    spec = {"nodeSelector": {"pool": "other"}, "tolerations": [{"operator": "Exists"}]}
    result = placement([alb_pod("elsewhere", "c", spec)], CUSTOM, CUSTOM_TAINTS)["cannot_follow"]
    assert "admits none of the edge nodes" in result[0]["problem"]
