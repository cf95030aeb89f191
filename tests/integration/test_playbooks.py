"""secure-cluster.yml, then rollback.yml, on a fresh cluster with the demo app: what users run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, cluster_down, cluster_up, run_playbook, unique


@pytest.fixture(scope="module")
def demo_cluster():
    name = unique("it-demo")
    cluster = cluster_up(name, "--nodes", "9", "--profile", "iks")
    subprocess.run([cluster.env["KUBECTL"], "--kubeconfig", cluster.kubeconfig, "apply", "-f",
                    str(REPO / "playbooks" / "demo" / "shop.yml")], check=True, capture_output=True)
    yield cluster
    cluster_down(name)


def node_marks(cluster):
    from kubernetes import client
    return {n.metadata.name: (n.metadata.labels.get("dedicated"), sorted((t.key, t.effect) for t in n.spec.taints or []))
            for n in client.CoreV1Api(cluster.client()).list_node().items}


def test_secure_cluster_then_rollback_restores_the_cluster(demo_cluster, tmp_path):
    from kubernetes import client
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    reports = f"exposure_report_dir={tmp_path}"
    before = node_marks(demo_cluster)
    run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, "-e", reports)
    secured = node_marks(demo_cluster)
    assert sum(1 for label, unused in secured.values() if label == "edge") == 6
    after_md = (tmp_path / "local-demo-after.md").read_text()
    assert "| high |" not in after_md.split("| severity |")[1]

    assert host_firewall(demo_cluster) == ["default.host-firewall-allow", "default.host-firewall-deny"]

    second = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, "-e", reports)
    assert "changed=0" in second.stdout

    run_playbook(demo_cluster, "playbooks/rollback.yml", "-i", inventory, "-e", reports)
    assert node_marks(demo_cluster) == before
    apps = client.AppsV1Api(demo_cluster.client())
    cid = demo_cluster.env["IKS_CLUSTER_ID"]
    assert apps.read_namespaced_deployment(f"public-cr{cid}-alb1", "kube-system").spec.replicas == 2
    rolled_back = (tmp_path / "local-demo-after.md").read_text()
    assert "NodePort 30080/TCP open" in rolled_back
    assert client.NetworkingV1Api(demo_cluster.client()).list_namespaced_network_policy("shop").items == []
    assert host_firewall(demo_cluster) == []


def host_firewall(cluster):
    from kubernetes import client
    policies = client.CustomObjectsApi(cluster.client()).list_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]
    return sorted(p["metadata"]["name"] for p in policies if "host-firewall" in p["metadata"]["name"])


def test_audit_only_reports_and_changes_nothing(demo_cluster, tmp_path):
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    mark = demo_cluster.audit_mark()
    result = run_playbook(demo_cluster, "playbooks/audit.yml", "-i", inventory, "-e", f"exposure_report_dir={tmp_path}")
    assert "changed=0" in result.stdout
    assert demo_cluster.writes_since(mark) == []
    assert (tmp_path / "local-demo-before.html").exists()


def test_awx_style_run_through_ansible_runner_with_extra_vars_and_inventory(demo_cluster, tmp_path, monkeypatch):
    """AWX hands ansible-runner a private data dir: inventory, extra vars, env vars, the project."""
    import ansible_runner

    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.json").write_text(json.dumps({"all": {"hosts": {"cluster-a": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    extravars = {"secure_cluster_kubeconfig": demo_cluster.kubeconfig, "edge_nodes_per_zone": 2,
                 "exposure_report_dir": str(tmp_path / "reports"), "secure_cluster_nodeport_lockdown": True}
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    envvars = {"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")}
    result = ansible_runner.run(private_data_dir=str(tmp_path), project_dir=str(REPO), playbook="secure-cluster.yml",
                                extravars=extravars, envvars=envvars, quiet=True)
    assert result.status == "successful", result.stdout.read()[-3000:]
    assert result.stats["failures"] == {}
    assert (tmp_path / "reports" / "cluster-a-after.html").exists()
