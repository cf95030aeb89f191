"""Failures that were knowable before the first write stop the run before it (issue 27): each case fails
before "Label the edge nodes" with zero writes in the audit log, and the option its message names lets it pass.
The rights checks' self-reviews are POSTs that persist nothing; Cluster.writes_since does not count them."""

from __future__ import annotations

import json
import subprocess
import time

import yaml

from conftest import REPO, module_cluster, run_playbook, unique, user_kubeconfig

DEMO_INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
EDGE_KEY = "node-role.example.com/edge"
CUSTOM_MARKER = {
    "secure_cluster_edge_labels": {EDGE_KEY: "true"},
    "secure_cluster_edge_taints": [{"key": EDGE_KEY, "value": "true", "effect": e} for e in ("NoSchedule", "NoExecute")],
}
FIRST_WRITE_TASK = "Label the edge nodes"


demo = module_cluster("pf-demo")


generic = module_cluster("pf-generic", "--nodes", "6", "--profile", "generic")


def kubectl(cluster, *args, stdin=None):
    return subprocess.run([cluster.env["KUBECTL"], "--kubeconfig", cluster.kubeconfig, *args], input=stdin,
                          capture_output=True, text=True, check=True).stdout


def refused_before_any_write(cluster, *args, message: str):
    mark = cluster.audit_mark()
    result = run_playbook(cluster, "secure-cluster.yml", *args, check=False)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert FIRST_WRITE_TASK not in result.stdout
    assert cluster.writes_since(mark) == []
    return result.stdout


def passes_check_mode(cluster, *args):
    mark = cluster.audit_mark()
    result = run_playbook(cluster, "secure-cluster.yml", *args, "--check")
    assert "failed=0" in result.stdout and FIRST_WRITE_TASK in result.stdout
    assert cluster.writes_since(mark) == []


def test_iks_albs_that_cannot_follow_a_custom_edge_marker_stop_the_run_before_any_write(demo, tmp_path):
    """The reported case: IKS's ALB pods tolerate only dedicated=edge. The edge step used to label the nodes and
    evict the ALB pods, then fail; now the plan refuses them up front and names the fixes."""
    cid = demo.env["IKS_CLUSTER_ID"]
    deadline = time.monotonic() + 60
    while "Running" not in kubectl(demo, "get", "pods", "-n", "kube-system", "-l", f"app=public-cr{cid}-alb1"):
        assert time.monotonic() < deadline, "the public ALB pods did not start"
        time.sleep(1)
    extra = ["-i", DEMO_INVENTORY, "-e", f"exposure_report_dir={tmp_path}"]
    out = refused_before_any_write(demo, *extra, "-e", json.dumps(CUSTOM_MARKER),
                                   message="cannot follow the edge marker (label node-role.example.com/edge=true")
    for part in (f"kube-system/public-cr{cid}-alb1-", "does not tolerate node-role.example.com/edge=true:NoExecute",
                 "use the default edge marker", "leave them out of edge_nodes_workloads", "nothing was changed"):
        assert part in out, part
    # The fix the message names: leave them out (or use the default marker).
    passes_check_mode(demo, *extra, "-e", json.dumps({**CUSTOM_MARKER, "edge_nodes_workloads": []}))
    passes_check_mode(demo, *extra)


def test_a_missing_private_alb_stops_the_run_before_any_write(demo, tmp_path):
    """private_ingress would enable private ALBs that do not exist, after the edge nodes were made."""
    extra = ["-i", DEMO_INVENTORY, "-e", f"exposure_report_dir={tmp_path}", "-e", "private_ingress_backend=kubernetes"]
    cid = demo.env["IKS_CLUSTER_ID"]
    saved = kubectl(demo, "get", "deployment", "-n", "kube-system", f"private-cr{cid}-alb1", "-o", "json")
    kubectl(demo, "delete", "deployment", "-n", "kube-system", f"private-cr{cid}-alb1")
    try:
        refused_before_any_write(demo, *extra, message="the cluster has no private ALB (backend kubernetes)")
        passes_check_mode(demo, *extra, "-e", "secure_cluster_private_ingress=false")
    finally:
        restored = json.loads(saved)
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            restored["metadata"].pop(key, None)
        restored.pop("status", None)
        kubectl(demo, "apply", "-f", "-", stdin=json.dumps(restored))


def generic_inventory(tmp_path, cluster, kubeconfig=None, **more) -> str:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {cluster.name: {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "secure_cluster_kubeconfig": kubeconfig or cluster.kubeconfig, "secure_cluster_report": False,
        "edge_nodes_per_zone": 1, "edge_nodes_min_per_zone": 1, "edge_nodes_min_edge_nodes": 1,
        "edge_nodes_workloads": [{"namespace": "kube-system", "name_regex": "^none-"}],
        "secure_cluster_nodeport_lockdown": True, "nodeport_lockdown_profile": "generic", **more}}}}))
    return str(path)


def test_an_identity_without_the_rights_the_steps_need_is_refused_before_any_write(generic, tmp_path):
    """A user who may read everything but write nothing: the rights checks name each missing right and its step."""
    name = unique("pf-limited")
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
              "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}]}
    kubectl(generic, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [reader, binding]}))
    try:
        inventory = generic_inventory(tmp_path, generic, user_kubeconfig(generic, name, tmp_path))
        out = refused_before_any_write(generic, "-i", inventory, message=f"{name} may not create globalnetworkpolicies "
                                       "(crd.projectcalico.org) (cluster-wide) (nodeport_lockdown: the preDNAT policy)")
        for part in ("grant these to", "switch those steps off", "nothing was changed"):
            assert part in out, part
        assert "delete globalnetworkpolicies (crd.projectcalico.org) (cluster-wide) (nodeport_lockdown: undo" in out
        # The fix: the rights the message names; then the next step's check names its own.
        calico = [{"apiGroups": ["crd.projectcalico.org"], "resources": ["globalnetworkpolicies"],
                   "verbs": ["create", "update", "delete"]}]
        kubectl(generic, "apply", "-f", "-", stdin=json.dumps({**reader, "rules": reader["rules"] + calico}))
        out = refused_before_any_write(generic, "-i", inventory, message=f"{name} may not patch nodes (cluster-wide)")
        assert "create pods/eviction in namespace kube-system (edge_nodes: move the networking pods" in out
        edge = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]},
                {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]}]
        kubectl(generic, "apply", "-f", "-", stdin=json.dumps({**reader, "rules": reader["rules"] + calico + edge}))
        passes_check_mode(generic, "-i", inventory)
    finally:
        kubectl(generic, "delete", "clusterrolebinding,clusterrole", name, "--ignore-not-found")


def test_missing_calico_crds_stop_the_run_before_any_write(generic, tmp_path):
    """No Calico Kubernetes datastore: the NodePort lockdown could not write its policy, after the edge nodes."""
    inventory = generic_inventory(tmp_path, generic)
    crds = [n for n in kubectl(generic, "get", "crd", "-o", "name").split() if n.endswith(".crd.projectcalico.org")]
    kubectl(generic, "delete", *crds)
    deadline = time.monotonic() + 60
    while "crd.projectcalico.org" in kubectl(generic, "api-versions"):
        assert time.monotonic() < deadline, "the Calico API group is still served"
        time.sleep(1)
    out = refused_before_any_write(generic, "-i", inventory,
                                   message="the API server does not serve crd.projectcalico.org/v1 (nodeport_lockdown")
    assert "secure_cluster_nodeport_lockdown false" in out
    passes_check_mode(generic, "-i", inventory, "-e", "secure_cluster_nodeport_lockdown=false")


def test_a_pre_shared_key_the_vpn_would_refuse_stops_the_run_before_any_write(demo, tmp_path):
    """The VPN is the last step: its refusal of a short key used to come after every other step had written. The
    up-front check is the module's own (validate_only), so it refuses in the module's words."""
    extra = ["-i", DEMO_INVENTORY, "-e", f"exposure_report_dir={tmp_path}",
             "-e", json.dumps({"strongswan_vpn_remote_subnet": ["10.91.0.0/24"]})]
    out = refused_before_any_write(demo, *extra, "-e", "strongswan_vpn_preshared_secret=short",
                                   message="preshared_secret is only 5 characters; use at least")
    assert "The strongSwan VPN: check the options the step will use, changing nothing" in out
    passes_check_mode(demo, *extra, "-e", "strongswan_vpn_preshared_secret=a-long-enough-pre-shared-key-for-the-test")
