"""A rollout across three clusters from one kubeconfig: one API server stops, the others finish, a re-run
completes it."""

from __future__ import annotations

import json
import os
import signal

import yaml

from conftest import REPO, cluster_down, cluster_up, run_playbook, unique


def merged_kubeconfig(clusters, path):
    merged = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for cluster in clusters:
        config = yaml.safe_load(open(cluster.kubeconfig, encoding="utf-8"))
        for key in ("clusters", "users", "contexts"):
            merged[key] += config[key]
    merged["current-context"] = merged["contexts"][0]["name"]
    path.write_text(yaml.safe_dump(merged))


def apiserver_pid(cluster):
    state = json.loads((REPO / ".clusters" / cluster.name / "state.json").read_text())
    return next(p["pid"] for p in state["processes"] if p["name"] == "kube-apiserver")


def edge_count(cluster):
    from kubernetes import client
    return sum(1 for n in client.CoreV1Api(cluster.client()).list_node().items
               if (n.metadata.labels or {}).get("dedicated") == "edge")


def test_one_stopped_api_server_fails_only_its_cluster_and_a_rerun_completes(tmp_path):
    names = [unique(f"mc{i}") for i in range(3)]
    clusters = [cluster_up(name, "--nodes", "6", "--profile", "generic") for name in names]
    try:
        merged_kubeconfig(clusters, tmp_path / "fleet.yml")
        inventory = tmp_path / "fleet.kubeconfig.yml"
        inventory.write_text(yaml.safe_dump({"plugin": "containers_workload.secure_cluster.kubeconfig",
                                             "kubeconfigs": [str(tmp_path / "fleet.yml")]}))
        extra = json.dumps({"secure_cluster_serial": 3, "secure_cluster_max_fail_percentage": 50,
                            "edge_nodes_per_zone": 1, "edge_nodes_min_per_zone": 1, "edge_nodes_workloads": [],
                            "exposure_report_dir": str(tmp_path / "reports")})
        stopped = clusters[1]
        os.kill(apiserver_pid(stopped), signal.SIGSTOP)
        try:
            first = run_playbook(clusters[0], "secure-cluster.yml", "-i", str(inventory), "-e", extra, check=False)
        finally:
            os.kill(apiserver_pid(stopped), signal.SIGCONT)
        assert first.returncode != 0
        recap = first.stdout.split("PLAY RECAP")[1]
        assert f"{stopped.name}" in recap and "failed=1" in recap.split(stopped.name)[1].splitlines()[0]
        assert f"cannot reach the Kubernetes API server at {stopped.server}" in first.stdout, \
            [line for line in first.stdout.splitlines() if "fatal" in line]
        assert [edge_count(c) for c in clusters] == [3, 0, 3]

        second = run_playbook(clusters[0], "secure-cluster.yml", "-i", str(inventory), "-e", extra)
        assert second.returncode == 0
        assert [edge_count(c) for c in clusters] == [3, 3, 3]
    finally:
        for name in names:
            cluster_down(name)
