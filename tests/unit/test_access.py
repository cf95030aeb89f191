"""Who can do what: the access findings of exposure_info, judged from listed RBAC objects."""

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import access
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError

ALL = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
READ_SECRETS = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["secrets"]}
EXEC = {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/exec"]}
VIEW = {"verbs": ["get", "list", "watch"], "apiGroups": ["", "apps"], "resources": ["pods", "services"]}


def cluster_role(name, *rules, labels=None):
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": list(rules)}


def role(namespace, name, *rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def user(name):
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def group(name):
    return {"kind": "Group", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def sa(namespace, name):
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def crb(name, role_name, *subjects, labels=None):
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": labels or {}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
            "subjects": list(subjects)}


def rb(namespace, name, role_kind, role_name, *subjects):
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": list(subjects)}


def pod(namespace, name, account=None, automount=None):
    spec = {"containers": [{"name": "c", "image": "x"}]}
    if account:
        spec["serviceAccountName"] = account
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec, "status": {"phase": "Running"}}


def listed(cluster_roles=(), crbs=(), roles=(), rbs=(), accounts=()):
    return {"ClusterRole": [cluster_role("cluster-admin", ALL), *cluster_roles], "ClusterRoleBinding": list(crbs),
            "Role": list(roles), "RoleBinding": list(rbs), "ServiceAccount": list(accounts)}


def by_key(found):
    return {(f["kind"], f["object"]): f for f in found}


@pytest.mark.parametrize("rules, cluster_wide, expected", [
    ([ALL], True, ["admin"]),
    ([{"verbs": ["*"], "apiGroups": [""], "resources": ["*"]}], True,
     ["secrets", "exec", "impersonate", "pods", "token", "ephemeral", "attach", "nodes_proxy", "nodes",
      "persistent_volumes"]),
    ([READ_SECRETS], True, ["secrets"]),
    ([READ_SECRETS], False, []),
    ([{**READ_SECRETS, "resourceNames": ["one"]}], True, []),
    ([EXEC], False, ["exec"]),
    ([{"verbs": ["create"], "apiGroups": [""], "resources": ["*/exec"]}], False, ["exec"]),
    ([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods/exec"]}], False, []),
    ([{"verbs": ["escalate", "bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"]}],
     True, ["escalate", "bind"]),
    ([{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users", "groups"]}], True, ["impersonate"]),
    ([{"verbs": ["create", "patch"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"]}],
     False, ["rbac"]),
    ([{"verbs": ["get", "list"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["*"]}], True, []),
    ([VIEW], True, []),
])
def test_capabilities_follow_rbac_matching_rules(rules, cluster_wide, expected):
    assert access.capabilities(rules, cluster_wide) == expected


def test_cluster_admin_to_a_broad_group_is_high_and_to_a_user_medium():
    bindings = [crb("anyone-admin", "cluster-admin", group("system:authenticated")),
                crb("alice-admin", "cluster-admin", user("alice"))]
    found = by_key(access.findings(listed(crbs=bindings), [], "generic"))
    high = found[("ClusterRoleBinding", "anyone-admin")]
    assert high["severity"] == "high" and "group system:authenticated" in high["exposure"]
    assert high["area"] == "access" and "remove the broad subject" in high["fix"]
    medium = found[("ClusterRoleBinding", "alice-admin")]
    assert medium["severity"] == "medium"
    assert medium["exposure"] == "ClusterRole cluster-admin grants all verbs on all resources cluster-wide to user alice"


@pytest.mark.parametrize("subject", [user("system:anonymous"), group("system:unauthenticated"),
                                     group("system:serviceaccounts"), group("system:serviceaccounts:shop")])
def test_every_broad_subject_makes_a_sensitive_binding_high(subject):
    found = access.findings(listed(cluster_roles=[cluster_role("secret-reader", READ_SECRETS)],
                                   crbs=[crb("b", "secret-reader", subject)]), [], "generic")
    assert [(f["severity"], f["kind"]) for f in found] == [("high", "ClusterRoleBinding"), ("high", "Subject")]


def test_sensitive_roles_are_reported_with_who_holds_them_and_their_scope():
    found = by_key(access.findings(listed(
        cluster_roles=[cluster_role("secret-reader", READ_SECRETS), cluster_role("debugger", EXEC)],
        roles=[role("shop", "rbac-writer", {"verbs": ["create"], "apiGroups": ["rbac.authorization.k8s.io"],
                                            "resources": ["roles"]})],
        crbs=[crb("audit-secrets", "secret-reader", group("auditors"))],
        rbs=[rb("shop", "debug", "ClusterRole", "debugger", user("bob")),
             rb("shop", "grant", "Role", "rbac-writer", user("carol")),
             rb("shop", "read-secrets-here", "ClusterRole", "secret-reader", user("dave"))]), [], "generic"))
    assert found[("ClusterRoleBinding", "audit-secrets")]["severity"] == "medium"
    assert "read Secrets cluster-wide to group auditors" in found[("ClusterRoleBinding", "audit-secrets")]["exposure"]
    assert found[("RoleBinding", "shop/debug")]["severity"] == "low"
    assert "create pods/exec in namespace shop to user bob" in found[("RoleBinding", "shop/debug")]["exposure"]
    assert "write RBAC" in found[("RoleBinding", "shop/grant")]["exposure"]
    # Secrets of one namespace are what edit and admin are for: not a finding.
    assert ("RoleBinding", "shop/read-secrets-here") not in found


def test_a_service_account_with_a_mounted_token_and_cluster_wide_rights_is_high():
    bindings = [crb("ci-admin", "cluster-admin", sa("ci", "deployer"))]
    found = by_key(access.findings(listed(crbs=bindings), [pod("ci", "runner", "deployer")], "generic"))
    account = found[("ServiceAccount", "ci/deployer")]
    assert account["severity"] == "high" and "token mounted into 1 pod(s) (runner)" in account["exposure"]
    assert "automountServiceAccountToken: false" in account["fix"]
    # Not mounted (pod opts out, or the service account does): only the binding itself is reported.
    for pods, accounts in (([pod("ci", "runner", "deployer", automount=False)], []),
                           ([pod("ci", "runner", "deployer")],
                            [{"metadata": {"namespace": "ci", "name": "deployer"}, "automountServiceAccountToken": False}])):
        found = by_key(access.findings(listed(crbs=bindings, accounts=accounts), pods, "generic"))
        assert ("ServiceAccount", "ci/deployer") not in found
        assert found[("ClusterRoleBinding", "ci-admin")]["severity"] == "medium"
    # The pod's own setting wins over the service account's.
    found = by_key(access.findings(listed(crbs=bindings, accounts=[
        {"metadata": {"namespace": "ci", "name": "deployer"}, "automountServiceAccountToken": False}]),
        [pod("ci", "runner", "deployer", automount=True)], "generic"))
    assert found[("ServiceAccount", "ci/deployer")]["severity"] == "high"


def test_a_namespaced_right_through_a_mounted_token_is_medium():
    found = by_key(access.findings(listed(cluster_roles=[cluster_role("debugger", EXEC)],
                                          rbs=[rb("shop", "debug", "ClusterRole", "debugger", sa("shop", "tools"))]),
                                   [pod("shop", "toolbox", "tools")], "generic"))
    assert found[("ServiceAccount", "shop/tools")]["severity"] == "medium"


def test_a_default_service_account_with_bindings_is_reported_even_for_harmless_roles():
    found = by_key(access.findings(listed(cluster_roles=[cluster_role("viewer", VIEW)],
                                          rbs=[rb("shop", "default-view", "ClusterRole", "viewer", sa("shop", "default"))]),
                                   [], "generic"))
    default = found[("ServiceAccount", "shop/default")]
    assert default["severity"] == "low" and "RoleBinding shop/default-view (ClusterRole viewer)" in default["exposure"]


def test_kubernetes_bootstrap_rbac_is_one_info_line_unless_it_was_opened_to_everyone():
    bootstrap = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    bindings = [crb("cluster-admin", "cluster-admin", group("system:masters"), labels=bootstrap),
                crb("system:public-info-viewer", "cluster-admin", labels=bootstrap)]
    found = access.findings(listed(crbs=bindings), [], "generic")
    assert [(f["severity"], f["object"]) for f in found] == [("info", "Kubernetes bootstrap RBAC")]
    bindings[0]["subjects"].append(user("system:anonymous"))
    found = by_key(access.findings(listed(crbs=bindings), [], "generic"))
    assert found[("ClusterRoleBinding", "cluster-admin")]["severity"] == "high"


def test_iks_iam_bindings_and_managed_components_are_info_on_ibm_only():
    managed = {"addonmanager.kubernetes.io/mode": "Reconcile"}
    lists = listed(cluster_roles=[cluster_role("admin", EXEC, {"verbs": ["create"], "apiGroups": [
        "rbac.authorization.k8s.io"], "resources": ["rolebindings"]}), cluster_role("view", VIEW),
        cluster_role("ibm-reader", READ_SECRETS)],
        crbs=[crb("ibm-admin", "cluster-admin", user("IAM#admin@example.com")),
              crb("ibm-storage", "ibm-reader", sa("kube-system", "ibm-storage"), labels=managed)],
        rbs=[rb("default", "ibm-operate", "ClusterRole", "admin", user("IAM#ops@example.com")),
             rb("default", "ibm-view", "ClusterRole", "view", group("auditors")),
             # Named like IAM's binding but not what IAM creates: judged like any other binding.
             rb("default", "ibm-edit", "ClusterRole", "cluster-admin", user("mallory"))])
    pods = [pod("kube-system", "ibm-storage-0", "ibm-storage")]
    found = by_key(access.findings(lists, pods, "ibm"))
    assert found[("ClusterRoleBinding", "ibm-admin")]["severity"] == "info"
    assert "IAM Manager service role, all namespaces" in found[("ClusterRoleBinding", "ibm-admin")]["exposure"]
    assert "user IAM#admin@example.com" in found[("ClusterRoleBinding", "ibm-admin")]["exposure"]
    assert found[("RoleBinding", "default/ibm-operate")]["severity"] == "info"
    assert "no sensitive capability" in found[("RoleBinding", "default/ibm-view")]["exposure"]
    assert found[("ClusterRoleBinding", "ibm-storage")]["severity"] == "info"
    assert found[("ServiceAccount", "kube-system/ibm-storage")]["severity"] == "info"
    assert found[("RoleBinding", "default/ibm-edit")]["severity"] == "low"
    elsewhere = by_key(access.findings(lists, pods, "generic"))
    assert elsewhere[("ClusterRoleBinding", "ibm-admin")]["severity"] == "medium"
    assert elsewhere[("ServiceAccount", "kube-system/ibm-storage")]["severity"] == "high"


def test_what_cannot_be_read_is_unknown_not_a_failure():
    lists = {"ClusterRole": None, "ClusterRoleBinding": [crb("x", "cluster-admin", user("alice")),
                                                         crb("y", "secret-reader", user("bob"))],
             "Role": None, "RoleBinding": None, "ServiceAccount": None}
    found = by_key(access.findings(lists, [], "generic"))
    # cluster-admin is known by name; secret-reader's rules are not.
    assert found[("ClusterRoleBinding", "x")]["severity"] == "medium"
    assert ("ClusterRoleBinding", "y") not in found
    assert "1 binding(s) reference roles this identity may not read (y)" in \
        found[("Access", "bindings of unreadable roles")]["exposure"]
    for kind in ("ClusterRoles", "Roles", "RoleBindings", "ServiceAccounts"):
        assert found[("Access", kind)]["severity"] == "info" and found[("Access", kind)]["exposure"].startswith("unknown")
    assert access.unknown_kinds(lists) == ["ClusterRole", "Role", "RoleBinding", "ServiceAccount"]


class ListingKube:
    """Answers LISTs from a dict of path -> items, or an HTTP status to fail with; records the paths asked."""

    def __init__(self, answers):
        self.answers, self.paths = answers, []

    def get(self, path, query=None):
        self.paths.append(path)
        answer = self.answers.get(path, [])
        if isinstance(answer, int):
            raise KubeError(f"GET {path}: HTTP {answer}", status=answer)
        return {"items": answer}


def test_read_lists_each_kind_once_and_turns_forbidden_into_unknown():
    kube = ListingKube({access.KINDS["ClusterRoleBinding"]: 403,
                        access.KINDS["RoleBinding"]: [{"metadata": {"name": "b", "namespace": "n"}}]})
    lists = access.read(kube)
    assert kube.paths == list(access.KINDS.values())
    assert lists["ClusterRoleBinding"] is None and lists["RoleBinding"][0]["kind"] == "RoleBinding"
    with pytest.raises(KubeError):
        access.read(ListingKube({access.KINDS["Role"]: 500}))


@pytest.mark.parametrize("rule, cluster_wide, path", [
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}, False, "pods"),
    ({"verbs": ["create"], "apiGroups": ["batch"], "resources": ["cronjobs"]}, True, "workloads"),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["serviceaccounts/token"]}, False, "token"),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["nodes/proxy"]}, True, "nodes_proxy"),
    ({"verbs": ["patch"], "apiGroups": [""], "resources": ["nodes"]}, True, "nodes"),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["persistentvolumes"]}, True, "persistent_volumes"),
    ({"verbs": ["update"], "apiGroups": ["admissionregistration.k8s.io"],
      "resources": ["mutatingwebhookconfigurations"]}, True, "webhooks"),
    ({"verbs": ["patch"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]}, False, "ephemeral"),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["*/attach"]}, False, "attach"),
])
def test_each_escalation_path_is_found_by_its_own_request(rule, cluster_wide, path):
    assert access.paths([rule], cluster_wide) == [path]


def test_csr_approval_needs_the_approval_subresource_and_approve_on_a_client_signer():
    approval = {"verbs": ["update"], "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests/approval"]}
    signer = {"verbs": ["approve"], "apiGroups": ["certificates.k8s.io"], "resources": ["signers"]}
    assert access.paths([approval], True) == []
    assert access.paths([approval, signer], True) == ["csr"]
    assert access.paths([approval, {**signer, "resourceNames": ["kubernetes.io/*"]}], True) == ["csr"]
    assert access.paths([approval, {**signer, "resourceNames": ["example.com/signer"]}], True) == []


def test_cluster_scoped_paths_are_not_scored_through_a_role_binding():
    nodes = {"verbs": ["*"], "apiGroups": [""], "resources": ["nodes", "nodes/proxy", "persistentvolumes"]}
    assert access.paths([nodes], False) == []
    assert access.paths([nodes], True) == ["nodes_proxy", "nodes", "persistent_volumes"]


def test_cluster_admin_names_every_path_in_the_subject_finding_and_only_admin_in_its_text():
    found = by_key(access.findings(listed(crbs=[crb("alice-admin", "cluster-admin", user("alice"))]), [], "generic"))
    subject = found[("Subject", "user alice")]
    assert subject["severity"] == "medium"
    assert subject["exposure"] == "escalation paths: all verbs on all resources cluster-wide via ClusterRoleBinding " \
                                  "alice-admin"
    assert {p["path"] for p in subject["paths"]} == set(access.PATHS)
    assert {(p["scope"], p["via"]) for p in subject["paths"]} == {("cluster-wide", "ClusterRoleBinding alice-admin")}


def test_a_subject_gathers_its_paths_from_every_binding_with_scope_and_severity():
    token = cluster_role("token-minter", {"verbs": ["create"], "apiGroups": [""], "resources": ["serviceaccounts/token"]})
    found = by_key(access.findings(listed(cluster_roles=[token, cluster_role("debugger", EXEC)],
                                          crbs=[crb("mint", "token-minter", sa("ci", "bot"))],
                                          rbs=[rb("shop", "debug", "ClusterRole", "debugger", sa("ci", "bot"))]),
                                   [], "generic"))
    subject = found[("Subject", "service account ci/bot")]
    assert subject["severity"] == "high"
    assert sorted((p["path"], p["scope"], p["severity"]) for p in subject["paths"]) == [
        ("exec", "shop", "low"), ("token", "cluster-wide", "high")]
    assert "serviceaccounts/token" in subject["fix"] and "pods/exec" in subject["fix"]


def test_system_components_and_named_platform_subjects_are_info():
    bindings = [crb("ctrl", "cluster-admin", user("system:kube-controller-manager")),
                crb("pattern", "cluster-admin", user("deployer"))]
    found = by_key(access.findings(listed(crbs=bindings), [], "generic", platform_subjects=("User:deployer",)))
    assert found[("Subject", "user system:kube-controller-manager")]["severity"] == "info"
    assert found[("Subject", "user deployer")]["severity"] == "info"


CONTROLS = (access.edge_control(["w1", "w2"]),
            access.calico_policy_control("GlobalNetworkPolicy", "deny-nodeports", None),
            access.calico_policy_control("NetworkPolicy", "default-deny", "shop"),
            access.ingress_control(), access.vpn_control("vpn", "corp-strongswan-secrets"))


def tamper(lists, platform_subjects=()):
    return {f["object"]: f for f in access.findings(lists, [], "generic", platform_subjects, CONTROLS)
            if f["area"] == "tamper"}


def test_tamper_names_who_could_undo_each_control_and_through_which_binding():
    node_patcher = cluster_role("node-patcher", {"verbs": ["patch"], "apiGroups": [""], "resources": ["nodes"]})
    calico = cluster_role("calico-writer", {"verbs": ["delete"], "apiGroups": ["projectcalico.org"],
                                            "resources": ["globalnetworkpolicies", "networkpolicies"],
                                            "resourceNames": ["deny-nodeports", "default-deny"]})
    vpn_reader = role("vpn", "psk", {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                                     "resourceNames": ["corp-strongswan-secrets"]})
    lists = listed(cluster_roles=[node_patcher, calico, cluster_role("debugger", EXEC)], roles=[vpn_reader],
                   crbs=[crb("nodes", "node-patcher", user("ops")), crb("gnp", "calico-writer", group("netops")),
                         crb("ctrl", "node-patcher", user("system:kube-controller-manager"))],
                   rbs=[rb("vpn", "psk", "Role", "psk", sa("vpn", "reader")),
                        rb("shop", "services", "ClusterRole", "cluster-admin", user("dev"))])
    found = tamper(lists)
    assert found["edge taints and labels"]["severity"] == "medium"
    assert found["edge taints and labels"]["subjects"] == ["User:ops"]
    assert "user ops via ClusterRoleBinding nodes" in found["edge taints and labels"]["exposure"]
    assert found["Calico GlobalNetworkPolicy deny-nodeports"]["subjects"] == ["Group:netops"]
    # A RoleBinding reaches only its namespace: dev may rewrite shop's policy, not the cluster's.
    assert found["Calico NetworkPolicy shop/default-deny"]["subjects"] == ["Group:netops", "User:dev"]
    assert found["private-only ingress"]["subjects"] == ["User:dev"]
    assert found["VPN Secret vpn/corp-strongswan-secrets"]["subjects"] == ["ServiceAccount:vpn/reader"]
    assert tamper(lists, ("User:ops",))["edge taints and labels"]["severity"] == "info"


def test_tamper_by_everyone_is_high_and_unreadable_rbac_is_unknown_not_nobody():
    lists = listed(crbs=[crb("open", "cluster-admin", group("system:authenticated"))])
    assert {f["severity"] for f in tamper(lists).values()} == {"high"}
    unknown = tamper({"ClusterRole": None, "ClusterRoleBinding": None, "Role": None, "RoleBinding": None,
                      "ServiceAccount": None})
    for item in unknown.values():
        assert "unknown who else could undo or read it" in item["exposure"], item
        assert "only the platform" not in item["exposure"]
