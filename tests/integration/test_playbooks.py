"""secure-cluster.yml, then rollback.yml, on a fresh cluster with the demo app: what users run."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from conftest import REPO, cluster_down, cluster_up, module_cluster, run_playbook, unique


demo_cluster = module_cluster("it-demo")


EDGE_KEY = "node-role.example.com/edge"
CUSTOM_MARKER = {
    "secure_cluster_edge_labels": {EDGE_KEY: "true"},
    "secure_cluster_edge_taints": [{"key": EDGE_KEY, "value": "true", "effect": effect}
                                   for effect in ("NoSchedule", "NoExecute")],
    # IKS's ALB pods tolerate only dedicated=edge: with another marker they stay where they are.
    "edge_nodes_workloads": [],
    "strongswan_vpn_remote_subnet": ["10.91.0.0/24"],
    "strongswan_vpn_preshared_secret": "a-long-enough-pre-shared-key-for-the-test-only",
}


def snapshot(cluster) -> dict:
    """What the pattern may touch, without what the API server changes on its own (versions, managedFields)."""
    from kubernetes import client
    api = cluster.client()
    core, apps, net = client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api)
    custom = client.CustomObjectsApi(api)

    def meta(obj):
        annotations = {k: v for k, v in (obj.metadata.annotations or {}).items()
                       if k != "kubectl.kubernetes.io/last-applied-configuration"}
        return (obj.metadata.namespace or "", obj.metadata.name, str(obj.metadata.labels or {}), str(annotations))

    calico = {plural: sorted((o["metadata"].get("namespace", ""), o["metadata"]["name"], str(o.get("spec")))
                             for o in custom.list_cluster_custom_object("crd.projectcalico.org", "v1", plural)["items"])
              for plural in ("globalnetworkpolicies", "networkpolicies", "globalnetworksets", "hostendpoints",
                             "kubecontrollersconfigurations")}
    return {
        "nodes": {n.metadata.name: (n.metadata.labels, sorted((t.key, t.value or "", t.effect)
                                                              for t in n.spec.taints or []))
                  for n in core.list_node().items},
        "namespaces": sorted(n.metadata.name for n in core.list_namespace().items),
        "services": sorted((*meta(s), s.spec.type, str(s.spec.selector),
                            str([(p.port, p.target_port, p.protocol) for p in s.spec.ports or []]))
                           for s in core.list_service_for_all_namespaces().items),
        "deployments": sorted((*meta(d), d.spec.replicas) for d in apps.list_deployment_for_all_namespaces().items),
        "config": sorted((o.metadata.namespace, o.metadata.name) for o in
                         core.list_config_map_for_all_namespaces().items + core.list_secret_for_all_namespaces().items),
        "ingresses": sorted(meta(i) for i in net.list_ingress_for_all_namespaces().items),
        "network_policies": sorted(meta(p) for p in net.list_network_policy_for_all_namespaces().items),
        "calico": calico,
    }


def written(events) -> set:
    return {(e["objectRef"].get("resource"), e["objectRef"].get("namespace", ""), e["objectRef"].get("name", ""))
            for e in events if e["verb"] in ("create", "update", "patch", "delete")}


def test_every_step_with_a_custom_edge_marker_then_rollback_restores_the_snapshot(demo_cluster, tmp_path):
    """The whole pattern (VPN too) with custom edge labels and taints, then rollback.yml: the cluster is as
    it was, public ALB back on, and rollback wrote nothing the pattern had not written."""
    from kubernetes import client
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    extra = ["-e", f"exposure_report_dir={tmp_path}", "-e", json.dumps(CUSTOM_MARKER)]
    before = snapshot(demo_cluster)
    mark = demo_cluster.audit_mark()
    run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, *extra)
    nodes = snapshot(demo_cluster)["nodes"]
    edge = {name for name, (labels, unused) in nodes.items() if labels.get(EDGE_KEY) == "true"}
    assert len(edge) == 6
    assert not [name for name, (labels, unused) in nodes.items() if "dedicated" in labels]
    after_md = (tmp_path / "local-demo-after.md").read_text()
    assert "| high |" not in after_md.split("| severity |")[1]
    assert "| yes | 6 |" in after_md  # VPN present, 6 edge nodes counted by the custom label
    # Next to what was closed: who could undo or read what the pattern set.
    tamper = after_md.split("## Tamper: who could undo or read what the pattern set")[1]
    for control in ("`edge taints and labels`", "`Calico GlobalNetworkPolicy ", "`private-only ingress`",
                    "`VPN Secret strongswan/"):
        assert control in tamper, (control, tamper)
    core = client.CoreV1Api(demo_cluster.client())

    def vpn_nodes():
        return {p.spec.node_name for p in core.list_namespaced_pod("strongswan", label_selector="app=strongswan").items}
    deadline = time.monotonic() + 60
    while None in vpn_nodes() or not vpn_nodes():
        assert time.monotonic() < deadline, "the VPN pod was not scheduled"
        time.sleep(1)
    assert vpn_nodes() <= edge
    assert host_firewall(demo_cluster) == ["default.host-firewall-allow", "default.host-firewall-deny"]

    second = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, *extra)
    assert "changed=0" in second.stdout
    forward = written(demo_cluster.audit_events("secure_cluster/", mark))

    rollback_mark = demo_cluster.audit_mark()
    run_playbook(demo_cluster, "playbooks/rollback.yml", "-i", inventory, *extra)
    assert snapshot(demo_cluster) == before
    cid = demo_cluster.env["IKS_CLUSTER_ID"]
    assert client.AppsV1Api(demo_cluster.client()).read_namespaced_deployment(
        f"public-cr{cid}-alb1", "kube-system").spec.replicas == 2
    assert "NodePort 30080/TCP open" in (tmp_path / "local-demo-after.md").read_text()
    assert written(demo_cluster.audit_events("secure_cluster/", rollback_mark)) - forward == set()


STEPS = ("exposure_report", "edge_nodes_preview", "edge_nodes_apply", "edge_nodes", "private_ingress",
         "private_load_balancer", "nodeport_lockdown", "host_firewall", "namespace_isolation", "strongswan_vpn")


def test_each_step_runs_alone_with_tags_in_check_mode_and_for_real(demo_cluster, tmp_path):
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    vpn = {k: v for k, v in CUSTOM_MARKER.items() if k.startswith("strongswan_vpn_")}
    extra = ["-e", f"exposure_report_dir={tmp_path}", "-e", json.dumps(vpn)]
    mark = demo_cluster.audit_mark()
    for tag in STEPS:
        result = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, *extra, "--tags", tag, "--check")
        assert "failed=0" in result.stdout, tag
    assert demo_cluster.writes_since(mark) == []

    before = node_marks(demo_cluster)
    run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, *extra, "--tags", "edge_nodes_apply")
    assert sum(1 for label, unused in node_marks(demo_cluster).values() if label == "edge") == 6
    run_playbook(demo_cluster, "playbooks/rollback.yml", "-i", inventory, *extra, "--tags", "edge_nodes")
    assert node_marks(demo_cluster) == before


def node_marks(cluster):
    from kubernetes import client
    return {n.metadata.name: (n.metadata.labels.get("dedicated"), sorted((t.key, t.effect) for t in n.spec.taints or []))
            for n in client.CoreV1Api(cluster.client()).list_node().items}


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


def test_a_mistake_in_the_last_step_stops_the_run_before_the_first_step_changes_anything(demo_cluster, tmp_path):
    """Every step's variables are checked against the roles' own argument specs before any step runs: a bad VPN
    variable (the VPN is the last step) used to stop the run only after edge nodes, ALBs and policies changed."""
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    bad = {**{k: v for k, v in CUSTOM_MARKER.items() if k.startswith("strongswan_vpn_")},
           "strongswan_vpn_enable_pod_snat": "maybe", "namespace_isolation_kind": "cilium"}
    mark = demo_cluster.audit_mark()
    result = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, "-e", f"exposure_report_dir={tmp_path}",
                          "-e", json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "Check the variables of every step" in result.stdout
    assert "strongswan_vpn_enable_pod_snat" in result.stdout and "namespace_isolation_kind" in result.stdout
    assert "Plan the edge nodes" not in result.stdout
    assert demo_cluster.writes_since(mark) == []


def test_a_host_the_private_alb_cannot_serve_stops_the_run_before_the_first_step(demo_cluster, tmp_path):
    """The steps' own checks that argument specs cannot express run before the first step too: an app on the
    IBM-provided subdomain (which only the public ALB serves) used to fail the private ingress step after the
    edge nodes were made."""
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    app = {"name": "shop", "namespace": "shop", "host": "shop.mycluster-0001.us-south.containers.appdomain.cloud",
           "paths": [{"path": "/", "service": "web", "port": 80}]}
    mark = demo_cluster.audit_mark()
    result = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, "-e", f"exposure_report_dir={tmp_path}",
                          "-e", json.dumps({"private_ingress_apps": [app]}), check=False)
    assert result.returncode != 0
    assert "are on the IBM-provided Ingress subdomain" in result.stdout
    assert "Plan the edge nodes" not in result.stdout
    assert demo_cluster.writes_since(mark) == []


@pytest.mark.parametrize("config, refusal", [
    ("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: etcdv3\n",
     "(etcdv3 datastore) names no etcd: set etcdEndpoints"),
    ("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: kubernetes\n"
     "  k8sAPIEndpoint: https://127.0.0.1:1\n", "points calicoctl at https://127.0.0.1:1"),
], ids=["etcdv3-without-endpoints", "another-cluster"])
def test_a_calicoctl_cfg_the_calico_steps_would_refuse_stops_the_run_before_the_first_step(
        demo_cluster, tmp_path, config, refusal):
    """The Calico steps' calicoctl.cfg is checked up front by their own module (validate_only), as the step
    would check it: a file calicoctl would misread, or one of another cluster, used to stop the run at the
    NodePort step, after the edge nodes and the ALBs changed. No calicoctl is needed: none runs."""
    inventory = str(REPO / "playbooks" / "inventory" / "local.yml")
    (tmp_path / "calicoctl.cfg").write_text(config)
    mark = demo_cluster.audit_mark()
    result = run_playbook(demo_cluster, "secure-cluster.yml", "-i", inventory, "-e", f"exposure_report_dir={tmp_path}",
                          "-e", json.dumps({"secure_cluster_calico_backend": "calicoctl",
                                            "secure_cluster_calicoctl_config": str(tmp_path / "calicoctl.cfg")}),
                          check=False)
    assert result.returncode != 0
    assert "Check the calicoctl.cfg the Calico steps will use" in result.stdout
    assert refusal in result.stdout, result.stdout[-3000:]
    assert "Plan the edge nodes" not in result.stdout
    assert demo_cluster.writes_since(mark) == []


def test_a_provider_no_annotation_makes_private_stops_the_run_before_the_first_step(tmp_path):
    """On a cluster whose provider the nodes do not tell, private LoadBalancer Services cannot be made private:
    the run stops before the first step; naming the provider lets it go on."""
    import yaml
    name = unique("it-noprovider")
    cluster = cluster_up(name, "--nodes", "6", "--profile", "generic")
    try:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "secure_cluster_kubeconfig": cluster.kubeconfig, "edge_nodes_per_zone": 1, "edge_nodes_min_per_zone": 1,
            "edge_nodes_min_edge_nodes": 1, "edge_nodes_workloads": [], "exposure_report_dir": str(tmp_path),
            "private_load_balancer_services": [{"name": "web", "namespace": "default", "selector": {"app": "web"},
                                                "ports": [{"port": 80}]}]}}}}))
        mark = cluster.audit_mark()
        refused = run_playbook(cluster, "secure-cluster.yml", "-i", str(inventory), check=False)
        assert refused.returncode != 0
        assert "could not tell the cloud provider from the nodes" in refused.stdout
        assert "Plan the edge nodes" not in refused.stdout
        named = run_playbook(cluster, "secure-cluster.yml", "-i", str(inventory), "--check",
                             "-e", "private_load_balancer_provider=aws")
        assert "failed=0" in named.stdout and "Plan the edge nodes" in named.stdout
        assert cluster.writes_since(mark) == []
    finally:
        cluster_down(name)
