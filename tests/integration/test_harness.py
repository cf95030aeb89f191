"""The local control plane keeps its contract: real components, Pods Running, clean start and stop."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import REPO, cluster_down, cluster_up, unique, wait_until


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_up_twice_is_a_no_op_and_down_leaves_no_process_behind():
    name = unique("h-cycle")
    cluster_dir = REPO / ".clusters" / name
    for unused in range(2):
        first = cluster_up(name, "--nodes", "2", "--profile", "generic")
        pids = [p["pid"] for p in json.loads((cluster_dir / "state.json").read_text())["processes"]]
        assert len(pids) == 5
        again = cluster_up(name, "--nodes", "2", "--profile", "generic")
        assert again.server == first.server
        assert [p["pid"] for p in json.loads((cluster_dir / "state.json").read_text())["processes"]] == pids
        cluster_down(name)
        assert not cluster_dir.exists()
        assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
        assert processes_mentioning(str(cluster_dir)) == []


def test_two_clusters_run_side_by_side_with_ready_nodes_and_running_pods():
    from kubernetes import client

    names = [unique("h-a"), unique("h-b")]
    clusters = [cluster_up(names[0], "--nodes", "2", "--profile", "generic"),
                cluster_up(names[1], "--nodes", "3", "--profile", "generic")]
    try:
        assert clusters[0].server != clusters[1].server
        for cluster, count in zip(clusters, (2, 3)):
            api = cluster.client()
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            nodes = core.list_node().items
            assert len(nodes) == count
            assert all(c.status == "True" for n in nodes for c in n.status.conditions if c.type == "Ready")
            apps.create_namespaced_deployment("default", {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})

            def running():
                pods = core.list_namespaced_pod("default", label_selector="app=web").items
                return len(pods) == 3 and all(p.status.phase == "Running" and p.spec.node_name for p in pods)
            assert wait_until(running), "the Deployment's Pods were not scheduled and reported Running"
            # the cluster holds only its own nodes: kwok of one cluster never manages the other's
            scheduled = {p.spec.node_name for p in core.list_namespaced_pod("default").items}
            assert scheduled <= {n.metadata.name for n in nodes}
    finally:
        for name in names:
            cluster_down(name)


def test_audit_log_records_every_request_with_user_agent(iks_cluster):
    from kubernetes import client

    mark = iks_cluster.audit_mark()
    api = iks_cluster.client()
    api.user_agent = "secure_cluster/audit-probe"
    client.CoreV1Api(api).list_node()
    events = iks_cluster.audit_events("secure_cluster/audit-probe", mark)
    assert [(e["verb"], e["objectRef"]["resource"]) for e in events] == [("list", "nodes")]


def test_iks_profile_seeds_host_endpoints_default_policies_and_albs(iks_cluster):
    from kubernetes import client

    api = iks_cluster.client()
    custom = client.CustomObjectsApi(api)
    heps = custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "hostendpoints")["items"]
    roles = sorted(h["metadata"]["labels"]["ibm.role"] for h in heps)
    assert roles == ["worker_private"] * 6 + ["worker_public"] * 6
    gnps = {p["metadata"]["name"] for p in
            custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]}
    assert {"default.allow-node-port-dnat", "default.allow-all-outbound", "default.allow-icmp"} <= gnps
    deployments = {d.metadata.name: d.spec.replicas
                   for d in client.AppsV1Api(api).list_namespaced_deployment("kube-system").items}
    cluster_id = iks_cluster.env["IKS_CLUSTER_ID"]
    assert deployments == {f"public-cr{cluster_id}-alb1": 2, f"private-cr{cluster_id}-alb1": 0}
    zones = {n.metadata.labels["ibm-cloud.kubernetes.io/zone"] for n in client.CoreV1Api(api).list_node().items}
    assert zones == {"dal10", "dal12", "dal13"}


def test_env_file_exports_the_contract_variables(iks_cluster):
    for key in ("KUBECONFIG", "AUDIT_LOG", "CALICOCTL"):
        assert key in iks_cluster.env
    assert os.path.exists(iks_cluster.env["KUBECONFIG"])
    assert os.path.exists(iks_cluster.env["AUDIT_LOG"])
