"""edge_nodes against a real control plane: what the user wants from edge nodes, and honest runs."""

from __future__ import annotations

import time

import pytest

from conftest import run_module

EDGE = ["10.176.48.10", "10.176.49.11"]


def wait_until(check, timeout=90.0, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


@pytest.fixture
def clean(iks_cluster):
    """Every test starts and ends with no edge node and no test workloads."""
    from kubernetes import client

    def reset():
        result = run_module(iks_cluster, "edge_nodes", {"state": "absent"})
        assert not result.get("failed"), result
        apps = client.AppsV1Api(iks_cluster.client())
        for deployment in apps.list_namespaced_deployment("default").items:
            apps.delete_namespaced_deployment(deployment.metadata.name, "default")
        core = client.CoreV1Api(iks_cluster.client())
        core.delete_collection_namespaced_pod("default", grace_period_seconds=0)
    reset()
    yield iks_cluster
    reset()


def deployment(name, replicas, edge=False):
    spec = {"containers": [{"name": "app", "image": "nginx"}]}
    if edge:
        spec["nodeSelector"] = {"dedicated": "edge"}
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": effect}
                               for effect in ("NoSchedule", "NoExecute")]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def nodes_of(cluster, app):
    return {node for node, unused in placed(cluster, app).values()}


def all_running(cluster, app, count):
    pods = placed(cluster, app)
    return len(pods) == count and all(phase == "Running" for unused, phase in pods.values())


def placed(cluster, app):
    from kubernetes import client
    pods = client.CoreV1Api(cluster.client()).list_namespaced_pod("default", label_selector=f"app={app}").items
    return {p.metadata.name: (p.spec.node_name, p.status.phase) for p in pods if not p.metadata.deletion_timestamp}


def test_check_mode_predicts_the_change_and_writes_nothing(clean):
    mark = clean.audit_mark()
    result = run_module(clean, "edge_nodes", {"nodes": EDGE}, check_mode=True, diff=True)
    assert result["changed"] is True
    assert sorted(result["diff"]["after"]) == EDGE
    assert result["diff"]["after"][EDGE[0]]["labels"]["dedicated"] == "edge"
    assert "dedicated" not in result["diff"]["before"][EDGE[0]]["labels"]
    assert clean.writes_since(mark) == []


def test_one_list_and_one_patch_per_changed_node_then_a_second_run_writes_nothing(clean):
    mark = clean.audit_mark()
    first = run_module(clean, "edge_nodes", {"nodes": EDGE})
    assert first["changed"] and first["edge_nodes"] == EDGE
    requests = [(e["verb"], e["objectRef"].get("name")) for e in clean.audit_events("secure_cluster/", mark)]
    assert requests[0] == ("list", None)
    assert sorted(requests[1:]) == [("patch", EDGE[0]), ("patch", EDGE[1])]

    mark = clean.audit_mark()
    second = run_module(clean, "edge_nodes", {"nodes": EDGE})
    assert second["changed"] is False
    assert clean.writes_since(mark) == []
    third = run_module(clean, "edge_nodes", {"nodes": EDGE}, check_mode=True)
    assert third["changed"] is False


def test_pods_without_the_edge_toleration_never_land_on_edge_nodes(clean):
    from kubernetes import client
    run_module(clean, "edge_nodes", {"nodes": EDGE})
    client.AppsV1Api(clean.client()).create_namespaced_deployment("default", deployment("plain", 12))
    assert wait_until(lambda: all_running(clean, "plain", 12))
    assert nodes_of(clean, "plain").isdisjoint(EDGE)


def test_running_pods_without_the_toleration_are_evicted_by_the_noexecute_taint(clean):
    from kubernetes import client
    client.AppsV1Api(clean.client()).create_namespaced_deployment("default", deployment("early", 12))
    assert wait_until(lambda: len(placed(clean, "early")) == 12 and nodes_of(clean, "early") & set(EDGE))
    run_module(clean, "edge_nodes", {"nodes": EDGE})
    assert wait_until(lambda: len(placed(clean, "early")) == 12 and not nodes_of(clean, "early") & set(EDGE)), \
        placed(clean, "early")


def test_networking_workloads_with_toleration_and_selector_run_only_on_edge_nodes(clean):
    from kubernetes import client
    run_module(clean, "edge_nodes", {"nodes": EDGE})
    client.AppsV1Api(clean.client()).create_namespaced_deployment("default", deployment("ingress", 6, edge=True))
    assert wait_until(lambda: all_running(clean, "ingress", 6))
    assert nodes_of(clean, "ingress") == set(EDGE)


def test_bad_input_fails_clearly_and_changes_nothing(clean):
    mark = clean.audit_mark()
    result = run_module(clean, "edge_nodes", {"nodes": ["10.176.48.10", "10.9.9.9", "10.8.8.8"]})
    assert result["failed"] and "unknown node(s): 10.8.8.8, 10.9.9.9" in result["msg"]
    result = run_module(clean, "edge_nodes", {"nodes": EDGE, "labels": {"dedicated": "edge node"}})
    assert result["failed"] and "label 'dedicated' value 'edge node'" in result["msg"]
    assert clean.writes_since(mark) == []


def test_tainting_every_worker_is_refused_unless_forced(clean):
    everyone = {"selector": "node-role.kubernetes.io/worker"}
    mark = clean.audit_mark()
    result = run_module(clean, "edge_nodes", everyone)
    assert result["failed"] and "would stay schedulable" in result["msg"]
    assert clean.writes_since(mark) == []


def test_exclusive_converges_drift_after_a_worker_was_replaced(clean):
    run_module(clean, "edge_nodes", {"nodes": ["10.176.50.12", EDGE[0]]})
    result = run_module(clean, "edge_nodes", {"nodes": EDGE, "exclusive": True}, diff=True)
    assert result["changed"] and result["edge_nodes"] == EDGE
    assert sorted(result["diff"]["after"]) == sorted([EDGE[1], "10.176.50.12"])
    assert result["diff"]["after"]["10.176.50.12"]["taints"] == []


def node_marks(cluster):
    from kubernetes import client
    return {n.metadata.name: (dict(n.metadata.labels),
                              sorted((t.key, t.value or "", t.effect) for t in n.spec.taints or []))
            for n in client.CoreV1Api(cluster.client()).list_node().items}


def test_state_absent_restores_the_nodes_exactly_keeping_foreign_labels_and_taints(clean):
    from kubernetes import client
    core = client.CoreV1Api(clean.client())
    core.patch_node(EDGE[0], {"metadata": {"labels": {"team": "net"}},
                              "spec": {"taints": [{"key": "gpu", "value": "true", "effect": "PreferNoSchedule"}]}})
    try:
        original = node_marks(clean)
        assert run_module(clean, "edge_nodes", {"nodes": EDGE})["changed"]
        assert node_marks(clean) != original
        assert run_module(clean, "edge_nodes", {"nodes": EDGE, "state": "absent"})["changed"]
        assert node_marks(clean) == original
    finally:
        core.patch_node(EDGE[0], {"metadata": {"labels": {"team": None}}, "spec": {"taints": None}})


def test_absent_takes_taints_as_kubectl_does_key_alone_every_effect_key_and_effect_only_that(clean):
    from kubernetes import client
    core = client.CoreV1Api(clean.client())
    core.patch_node(EDGE[0], {"spec": {"taints": [{"key": "gpu", "value": "a", "effect": "NoSchedule"},
                                                  {"key": "gpu", "value": "b", "effect": "PreferNoSchedule"},
                                                  {"key": "gpu", "value": "c", "effect": "NoExecute"},
                                                  {"key": "team", "value": "net", "effect": "NoSchedule"}]}})
    try:
        by_effect = run_module(clean, "edge_nodes", {"nodes": [EDGE[0]], "state": "absent", "labels": {},
                                                     "taints": [{"key": "gpu", "effect": "NoExecute"}]})
        assert by_effect["changed"], by_effect
        assert node_marks(clean)[EDGE[0]][1] == [("gpu", "a", "NoSchedule"), ("gpu", "b", "PreferNoSchedule"),
                                                 ("team", "net", "NoSchedule")]
        by_key = run_module(clean, "edge_nodes", {"nodes": [EDGE[0]], "state": "absent", "labels": {},
                                                  "taints": [{"key": "gpu"}]})
        assert by_key["changed"], by_key
        assert node_marks(clean)[EDGE[0]][1] == [("team", "net", "NoSchedule")]
        again = run_module(clean, "edge_nodes", {"nodes": [EDGE[0]], "state": "absent", "labels": {},
                                                 "taints": [{"key": "gpu"}]})
        assert not again["changed"] and again["api_calls"]["writes"] == 0, again
    finally:
        core.patch_node(EDGE[0], {"spec": {"taints": None}})


def test_too_few_edge_nodes_in_a_zone_fails_with_counts_per_zone_and_writes_nothing(clean):
    mark = clean.audit_mark()
    result = run_module(clean, "edge_nodes", {"per_zone": 1, "min_per_zone": 2})
    assert result["failed"]
    for zone in ("dal10", "dal12", "dal13"):
        assert f"{zone} has 1 of 2 node(s)" in result["msg"]
    assert "3 for ALBs" in result["msg"]
    assert clean.writes_since(mark) == []


def test_per_zone_picks_the_same_nodes_again_on_a_re_run(clean):
    first = run_module(clean, "edge_nodes", {"per_zone": 1})
    assert first["changed"] and sorted(first["zones"].values(), key=str) == [{"nodes": 2, "edge": 1}] * 3
    second = run_module(clean, "edge_nodes", {"per_zone": 1})
    assert second["changed"] is False and second["edge_nodes"] == first["edge_nodes"]


def test_eviction_report_lists_evicted_pods_and_daemonsets_without_toleration(clean):
    from kubernetes import client
    apps = client.AppsV1Api(clean.client())
    apps.create_namespaced_deployment("default", deployment("early", 12))
    apps.create_namespaced_daemon_set("default", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "log-agent"},
        "spec": {"selector": {"matchLabels": {"app": "log-agent"}},
                 "template": {"metadata": {"labels": {"app": "log-agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "fluentbit"}]}}}})
    try:
        assert wait_until(lambda: all_running(clean, "early", 12) and len(placed(clean, "log-agent")) == 6)
        on_edge = sorted(name for name, (node, unused) in placed(clean, "early").items() if node in EDGE)
        mark = clean.audit_mark()
        result = run_module(clean, "edge_nodes", {"nodes": EDGE, "eviction_check": True}, check_mode=True)
        report = result["evictions"]
        assert sorted(p["name"] for p in report["pods"] if p["owner"] == "ReplicaSet") == on_edge
        assert len([p for p in report["pods"] if p["owner"] == "DaemonSet"]) == 2
        assert report["daemonsets_leaving_edge_nodes"] == ["default/log-agent"]
        assert report["fits"] is True
        assert clean.writes_since(mark) == []
    finally:
        apps.delete_namespaced_daemon_set("log-agent", "default")


def test_no_room_for_evicted_pods_is_refused_and_nothing_is_written(clean):
    from kubernetes import client
    big = deployment("big", 6)
    big["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2500m"}}
    client.AppsV1Api(clean.client()).create_namespaced_deployment("default", big)
    assert wait_until(lambda: all_running(clean, "big", 6))
    mark = clean.audit_mark()
    result = run_module(clean, "edge_nodes", {"nodes": EDGE, "eviction_check": True})
    assert result["failed"] and "no remaining worker has room for default/big-" in result["msg"]
    assert clean.writes_since(mark) == []


def test_networking_pods_are_moved_onto_edge_nodes_one_at_a_time(clean):
    from kubernetes import client
    core = client.CoreV1Api(clean.client())
    alb = f"public-cr{clean.env['IKS_CLUSTER_ID']}-alb1"
    workloads = [{"namespace": "kube-system", "name_regex": r"^(public|private)-cr[a-z0-9]+-alb[0-9]+-"}]

    def alb_nodes():
        return {p.spec.node_name for p in core.list_namespaced_pod("kube-system", label_selector=f"app={alb}").items
                if not p.metadata.deletion_timestamp}
    # Edge nodes away from where the ALB pods run now, so they must move.
    others = sorted({"10.176.48.10", "10.176.49.11", "10.176.50.12", "10.176.48.13", "10.176.49.14",
                     "10.176.50.15"} - alb_nodes())[:2]
    run_module(clean, "edge_nodes", {"nodes": others, "taints": []})
    preview = run_module(clean, "edge_workloads", {"workloads": workloads}, check_mode=True)
    assert preview["changed"] and len(preview["moved"]) == 2
    mark = clean.audit_mark()
    result = run_module(clean, "edge_workloads", {"workloads": workloads})
    assert result["changed"], result
    assert alb_nodes() <= set(others)
    evictions = [e for e in clean.writes_since(mark) if e["objectRef"].get("subresource") == "eviction"]
    assert len(evictions) == 2
    again = run_module(clean, "edge_workloads", {"workloads": workloads})
    assert again["changed"] is False and again["moved"] == []


def test_a_node_changed_since_the_list_is_read_again_and_nobody_elses_change_is_lost(clean):
    from kubernetes import client

    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import client as kube
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes import edge as nodes
    api = kube.connect({"kubeconfig": clean.kubeconfig})
    listed = api.get(f"/api/v1/nodes/{EDGE[0]}")
    core = client.CoreV1Api(clean.client())
    core.patch_node(EDGE[0], {"metadata": {"labels": {"team": "net"}}})  # someone else, after our LIST
    try:
        taints = [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
        view = nodes.node_view(listed)
        change = nodes.NodeChange(EDGE[0], True, view, nodes.with_edge(view, {"dedicated": "edge"}, taints),
                                  listed["metadata"]["resourceVersion"])
        nodes.patch_node(api, change, {"labels": {"dedicated": "edge"}, "state": "present"}, taints)
        labels = core.read_node(EDGE[0]).metadata.labels
        assert labels["dedicated"] == "edge" and labels["team"] == "net"
        assert api.writes == 2  # the conflicting PATCH, then the re-planned one
    finally:
        core.patch_node(EDGE[0], {"metadata": {"labels": {"team": None}}})
