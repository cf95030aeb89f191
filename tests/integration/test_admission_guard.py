"""The admission guard on the real API server (issue 32): the pattern with secure_cluster_guard on, then each
tamper path tried as a namespace admin and as a cluster-wide admin who is not exempt (refused with the policy's
message), what the pattern does not own left alone, kwok's node updates and the controllers still working, the
re-run and the rollback as the platform identity, check mode and bad input writing nothing."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from conftest import REPO, module_cluster, run_module, run_playbook, user_kubeconfig

INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
PRIVATE = "shop-private"
GUARDED = {"secure_cluster_guard": True, "namespace_isolation_namespaces": ["shop"],
           "private_load_balancer_services": [{"name": PRIVATE, "namespace": "shop", "selector": {"app": "web"},
                                               "ports": [{"port": 80}]}]}
IP_TYPE = "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type"

demo = module_cluster("guard")


def kubectl(cluster, *args: str) -> None:
    subprocess.run([cluster.env["KUBECTL"], "--kubeconfig", cluster.kubeconfig, *args], check=True,
                   capture_output=True)


def api_as(cluster, user: str, workdir) -> client.ApiClient:
    return config.new_client_from_config(config_file=user_kubeconfig(cluster, user, workdir))


def refused(call) -> str:
    """The API server's refusal of a call (its message), or "" when it let the call through."""
    try:
        call()
    except ApiException as exc:
        assert exc.status in (403, 422), exc
        return json.loads(exc.body).get("message", "")
    return ""


@pytest.fixture(scope="module")
def guarded(demo, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("guard")
    extra = ["-e", json.dumps({**GUARDED, "exposure_report_dir": str(workdir)})]
    checked_mark = demo.audit_mark()
    check = run_playbook(demo, "secure-cluster.yml", "-i", INVENTORY, *extra, "--check")
    checked_writes = demo.writes_since(checked_mark)
    run_playbook(demo, "secure-cluster.yml", "-i", INVENTORY, *extra)
    # Not exempt: an admin of the shop namespace, and a cluster-wide admin.
    kubectl(demo, "create", "rolebinding", "shop-admin", "--clusterrole=admin", "--user=shop-admin", "-n", "shop")
    kubectl(demo, "create", "clusterrolebinding", "cluster-editor", "--clusterrole=cluster-admin",
            "--user=cluster-editor")
    return {"workdir": workdir, "extra": extra, "check": check, "checked_writes": checked_writes,
            "shop_admin": api_as(demo, "shop-admin", workdir), "editor": api_as(demo, "cluster-editor", workdir)}


def edge_node(cluster) -> client.V1Node:
    nodes = client.CoreV1Api(cluster.client()).list_node(label_selector="dedicated=edge").items
    assert nodes, "the pattern made no edge node"
    return nodes[0]


def test_check_mode_writes_nothing_and_the_plan_shows_the_guard(guarded):
    assert guarded["checked_writes"] == []
    assert '"admission_guard": true' in guarded["check"].stdout


def test_the_guard_is_one_policy_and_binding_per_control(demo):
    api = client.AdmissionregistrationV1Api(demo.client())
    policies = {p.metadata.name for p in api.list_validating_admission_policy().items}
    bindings = {b.metadata.name: b.spec.validation_actions for b in api.list_validating_admission_policy_binding().items}
    controls = ("edge-nodes", "calico-global", "namespace-isolation", "private-services")
    expected = {f"secure-cluster-guard-{s}" for s in controls}
    assert expected <= policies and "secure-cluster-guard-vpn" not in policies  # no VPN in this run
    assert all(bindings[name] == ["Deny", "Audit"] for name in expected)


@pytest.mark.parametrize("who", ["editor", "shop_admin"])
def test_each_tamper_path_is_refused_with_the_policys_message(demo, guarded, who):
    api = guarded[who]
    core, custom, net = client.CoreV1Api(api), client.CustomObjectsApi(api), client.NetworkingV1Api(api)
    # What a namespace admin may do at all, RBAC decides first; what is tried here is what RBAC allows.
    if who == "editor":
        node = edge_node(demo)
        kept = [t for t in node.spec.taints if not (t.key == "dedicated" and t.effect == "NoExecute")]
        assert "keeps the edge taint dedicated=edge:NoExecute" in refused(lambda: core.patch_node(
            node.metadata.name, {"spec": {"taints": [{"key": t.key, "value": t.value, "effect": t.effect}
                                                     for t in kept]}}))
        assert "keeps the edge labels (dedicated=edge)" in refused(lambda: core.patch_node(
            node.metadata.name, {"metadata": {"labels": {"dedicated": None}}}))
        assert "keeps the pattern's GlobalNetworkPolicies" in refused(lambda: custom.delete_cluster_custom_object(
            "crd.projectcalico.org", "v1", "globalnetworkpolicies", "default.deny-kube-node-port-services"))
    assert "keeps the namespace isolation's policies" in refused(
        lambda: net.delete_namespaced_network_policy("default-deny", "shop"))
    assert "keeps this Service private" in refused(lambda: core.patch_namespaced_service(
        PRIVATE, "shop", {"metadata": {"annotations": {IP_TYPE: "public"}}}))


def test_what_the_pattern_does_not_own_is_left_alone(demo, guarded):
    core = client.CoreV1Api(guarded["editor"])
    node = edge_node(demo)
    assert refused(lambda: core.patch_node(node.metadata.name, {"metadata": {"labels": {"team": "net"}}})) == ""
    other = next(n for n in core.list_node().items if (n.metadata.labels or {}).get("dedicated") != "edge")
    assert refused(lambda: core.patch_node(other.metadata.name, {"metadata": {"labels": {"team": "apps"}}})) == ""
    # A Service the pattern did not make private (a label on shop-private would be allowed too, but would make the
    # rollback release it instead of deleting it: another manager's field).
    shop = client.CoreV1Api(guarded["shop_admin"])
    assert refused(lambda: shop.patch_namespaced_service("web-public", "shop",
                                                         {"metadata": {"annotations": {IP_TYPE: "public"}}})) == ""


def test_kwok_keeps_the_nodes_ready_and_the_controllers_taint_as_before(demo, guarded):
    core = client.CoreV1Api(demo.client())
    coordination = client.CoordinationV1Api(demo.client())
    before = {lease.metadata.name: lease.spec.renew_time for lease in
              coordination.list_namespaced_lease("kube-node-lease").items}
    time.sleep(25)  # kwok renews each node's lease every few seconds, through the API server and the guard
    after = {lease.metadata.name: lease.spec.renew_time for lease in
             coordination.list_namespaced_lease("kube-node-lease").items}
    assert before and all(after[name] > before[name] for name in before)
    for node in core.list_node().items:
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "True", node.metadata.name


def tamper_of(cluster, **args) -> dict:
    result = run_module(cluster, "exposure_info", args)
    assert not result.get("failed"), result
    return {f["object"]: f for f in result["findings"] if f.get("area") == "tamper"}


def dry_run(call) -> str:
    """What the API server does with a change as a dry run: "blocked" (by one of the guard's policies), "allowed",
    or "refused" (otherwise, such as by RBAC)."""
    try:
        call()
    except ApiException as exc:
        return "blocked" if "ValidatingAdmissionPolicy 'secure-cluster-guard-" in exc.body else "refused"
    return "allowed"


def test_the_tamper_verdicts_are_what_the_dry_runs_as_each_subject_show(demo, guarded):
    tamper = tamper_of(demo)
    edge, editor, shop = edge_node(demo), guarded["editor"], guarded["shop_admin"]
    core, custom = client.CoreV1Api(editor), client.CustomObjectsApi(editor)
    labels = dry_run(lambda: core.patch_node(edge.metadata.name, {"metadata": {"labels": {"dedicated": None}}},
                                             dry_run="All"))
    taints = dry_run(lambda: core.patch_node(edge.metadata.name, {"spec": {"taints": []}}, dry_run="All"))
    deleted = dry_run(lambda: core.delete_node(edge.metadata.name, dry_run="All"))
    assert (labels, taints, deleted) == ("blocked", "blocked", "allowed")
    verdict = tamper["edge taints and labels"]["guard"]["User:cluster-editor"]
    assert verdict == {"blocked": ["remove the edge labels or taints"], "open": ["delete an edge node"], "unknown": []}
    assert "blocked by the admission guard (remove the edge labels or taints)" in \
        tamper["edge taints and labels"]["exposure"]

    gnp = dry_run(lambda: custom.delete_cluster_custom_object(
        "crd.projectcalico.org", "v1", "globalnetworkpolicies", "default.deny-kube-node-port-services", dry_run="All"))
    assert gnp == "blocked"
    verdict = tamper["Calico GlobalNetworkPolicy deny-kube-node-port-services"]["guard"]["User:cluster-editor"]
    assert "change or delete it" in verdict["blocked"] and "create a policy evaluated before it" in verdict["open"]

    private = tamper[f"private Service shop/{PRIVATE}"]
    for who, api in (("User:cluster-editor", editor), ("User:shop-admin", shop)):
        shown = dry_run(lambda api=api: client.CoreV1Api(api).patch_namespaced_service(
            PRIVATE, "shop", {"metadata": {"annotations": {IP_TYPE: "public"}}}, dry_run="All"))
        assert shown == "blocked" and private["guard"][who] == {"blocked": ["turn it public"], "open": [], "unknown": []}
    # Every subject that could turn it public is blocked: the guard closes the path, so it is no longer medium.
    assert all(not v["open"] and not v["unknown"] for v in private["guard"].values())
    assert private["severity"] == "info", private
    guard = {o: f for o, f in tamper.items() if f["kind"] == "Admission guard"}
    assert sorted(guard) == [f"secure-cluster-guard-{s}" for s in
                             ("calico-global", "edge-nodes", "namespace-isolation", "private-services")]
    assert all(f["severity"] == "info" and f["nature"] == "in place" for f in guard.values())


def test_the_audit_reports_a_guard_that_is_gone_or_changed(demo, guarded, tmp_path):
    report = {"dir": str(tmp_path), "name": "guarded", "phase": "before"}
    first = tamper_of(demo, report=report)
    assert first["secure-cluster-guard-edge-nodes"]["nature"] == "in place"
    kubectl(demo, "delete", "validatingadmissionpolicybinding", "secure-cluster-guard-edge-nodes")
    kubectl(demo, "delete", "validatingadmissionpolicy", "secure-cluster-guard-edge-nodes")
    kubectl(demo, "patch", "validatingadmissionpolicybinding", "secure-cluster-guard-calico-global", "--type=merge",
            "-p", json.dumps({"spec": {"validationActions": ["Warn"]}}))
    result = run_module(demo, "exposure_info", {"report": report})
    found = {f["object"]: f for f in result["findings"] if f["kind"] == "Admission guard"}
    # The audit alone knows the edge policy from its last state, and judges the binding it finds.
    assert (found["secure-cluster-guard-edge-nodes"]["severity"], found["secure-cluster-guard-edge-nodes"]["nature"]) \
        == ("high", "missing")
    assert (found["secure-cluster-guard-calico-global"]["severity"],
            found["secure-cluster-guard-calico-global"]["nature"]) == ("low", "warn")
    assert {(f["object"], f["nature"]) for f in result["drift"] if f["kind"] == "Admission guard"} == \
        {("secure-cluster-guard-edge-nodes", "missing"), ("secure-cluster-guard-calico-global", "warn")}
    # Without the guard's edge policy, the dry runs now pass: the edge marker's paths are open again.
    edge = tamper_of(demo)["edge taints and labels"]
    assert edge["guard"]["User:cluster-editor"]["open"] == ["remove the edge labels or taints", "delete an edge node"]

    # The pattern's run knows what the guard should be: its before report says changed and missing, and the run
    # puts both back.
    run_playbook(demo, "secure-cluster.yml", "-i", INVENTORY, *guarded["extra"])
    before = (guarded["workdir"] / "local-demo-before.md").read_text()
    assert "| high | `secure-cluster-guard-edge-nodes` | admission guard: missing" in before, before
    assert "| high | `secure-cluster-guard-calico-global` | admission guard: changed since the pattern set it" in before
    after = (guarded["workdir"] / "local-demo-after.md").read_text()
    assert "| info | `secure-cluster-guard-edge-nodes` | admission guard: in place" in after
    assert "| info | `secure-cluster-guard-calico-global` | admission guard: in place" in after


def test_the_platform_reruns_without_a_write_and_the_rollback_removes_the_guard_first(demo, guarded):
    mark = demo.audit_mark()
    again = run_playbook(demo, "secure-cluster.yml", "-i", INVENTORY, *guarded["extra"])
    assert "changed=0" in again.stdout and demo.writes_since(mark) == []
    mark = demo.audit_mark()
    run_playbook(demo, "playbooks/rollback.yml", "-i", INVENTORY, *guarded["extra"])
    deletes = [e["objectRef"] for e in demo.writes_since(mark) if e["verb"] == "delete"]
    assert deletes and deletes[0]["resource"] in ("validatingadmissionpolicies", "validatingadmissionpolicybindings")
    api = client.AdmissionregistrationV1Api(demo.client())
    assert not [p for p in api.list_validating_admission_policy().items
                if p.metadata.name.startswith("secure-cluster-guard-")]
    # The guard gone, the editor could now undo the marker (nothing keeps it): the rollback did that already.
    assert not client.CoreV1Api(demo.client()).list_node(label_selector="dedicated=edge").items


def test_an_exempt_service_account_that_does_not_exist_is_refused_before_any_write(demo, guarded):
    mark = demo.audit_mark()
    bad = json.dumps({**GUARDED, "exposure_report_dir": str(guarded["workdir"]),
                      "exposure_report_platform_subjects": ["ServiceAccount:ops/nobody"]})
    result = run_playbook(demo, "secure-cluster.yml", "-i", INVENTORY, "-e", bad, check=False)
    assert result.returncode != 0
    assert "no ServiceAccount ops/nobody (an exempt subject of the admission guard)" in result.stdout
    assert "Plan the edge nodes" not in result.stdout and demo.writes_since(mark) == []
