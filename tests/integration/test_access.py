"""exposure_info says who can do what: each risky binding appears with its severity and disappears when the
binding is removed; IKS's own RBAC is info; RBAC that cannot be read is unknown, not a failure."""

from __future__ import annotations


import pytest

from conftest import report_play, run_module, unique, user_kubeconfig, wait_until

RBAC_GROUP = "rbac.authorization.k8s.io"
SECRETS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
EXEC = [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]
ESCALATE = [{"apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "verbs": ["escalate", "bind"]},
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}]
RBAC_WRITE = [{"apiGroups": [RBAC_GROUP], "resources": ["rolebindings"], "verbs": ["create", "delete"]}]
VIEW_PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]


def user(name):
    return {"kind": "User", "name": name, "apiGroup": RBAC_GROUP}


def group(name):
    return {"kind": "Group", "name": name, "apiGroup": RBAC_GROUP}


@pytest.fixture
def rbac(iks_cluster):
    """A namespace of its own, and RBAC objects that are removed again."""
    from kubernetes import client
    api = iks_cluster.client()
    core, rbac_api = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ns = unique("acc")
    core.create_namespace({"metadata": {"name": ns}})
    created = []

    class Objects:
        namespace = ns
        cluster = iks_cluster

        @staticmethod
        def cluster_role(name, rules, labels=None):
            rbac_api.create_cluster_role({"metadata": {"name": name, "labels": labels or {}}, "rules": rules})
            created.append(("ClusterRole", name))

        @staticmethod
        def role(name, rules):
            rbac_api.create_namespaced_role(ns, {"metadata": {"name": name}, "rules": rules})

        @staticmethod
        def cluster_binding(name, role, subjects, labels=None):
            rbac_api.create_cluster_role_binding({"metadata": {"name": name, "labels": labels or {}}, "roleRef": {
                "apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role}, "subjects": subjects})
            created.append(("ClusterRoleBinding", name))

        @staticmethod
        def binding(name, role_kind, role, subjects):
            rbac_api.create_namespaced_role_binding(ns, {"metadata": {"name": name}, "roleRef": {
                "apiGroup": RBAC_GROUP, "kind": role_kind, "name": role}, "subjects": subjects})

        @staticmethod
        def remove(kind, name):
            if kind == "ClusterRoleBinding":
                rbac_api.delete_cluster_role_binding(name)
                created.remove((kind, name))
            else:
                rbac_api.delete_namespaced_role_binding(name, ns)

        @staticmethod
        def aggregated_cluster_role(name, selector):
            rbac_api.create_cluster_role({"metadata": {"name": name}, "aggregationRule": {
                "clusterRoleSelectors": [{"matchLabels": selector}]}, "rules": []})
            created.append(("ClusterRole", name))
            return wait_until(lambda: rbac_api.read_cluster_role(name).rules, timeout=30)

        @staticmethod
        def service_account(name):
            core.create_namespaced_service_account(ns, {"metadata": {"name": name}})

        @staticmethod
        def pod(name, account):
            core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": {
                "serviceAccountName": account, "containers": [{"name": "c", "image": "busybox"}]}})

    yield Objects
    for kind, name in reversed(created):
        try:
            if kind == "ClusterRoleBinding":
                rbac_api.delete_cluster_role_binding(name)
            else:
                rbac_api.delete_cluster_role(name)
        except client.ApiException as exc:
            if exc.status != 404:  # a test may have removed it already
                raise
    core.delete_namespace(ns)


def access_findings(cluster, **args):
    result = run_module(cluster, "exposure_info", args)
    assert not result.get("failed"), result
    return {(f["kind"], f["object"]): f for f in result["findings"] if f.get("area") == "access"}, result


def appears_then_disappears(objects, key, severity, text, remove):
    found, unused = access_findings(objects.cluster)
    assert key in found, sorted(found)
    assert found[key]["severity"] == severity and text in found[key]["exposure"], found[key]
    assert found[key]["fix"]
    remove()
    found, unused = access_findings(objects.cluster)
    assert key not in found


def test_cluster_admin_for_everyone_authenticated_is_high(rbac):
    name = unique("everyone-admin")
    rbac.cluster_binding(name, "cluster-admin", [group("system:authenticated")])
    appears_then_disappears(rbac, ("ClusterRoleBinding", name), "high", "all verbs on all resources cluster-wide "
                            "to group system:authenticated", lambda: rbac.remove("ClusterRoleBinding", name))


def test_a_role_with_every_verb_on_every_resource_for_a_user_is_medium(rbac):
    role, name = unique("star"), unique("alice-star")
    rbac.cluster_role(role, [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    rbac.cluster_binding(name, role, [user("alice")])
    appears_then_disappears(rbac, ("ClusterRoleBinding", name), "medium", f"ClusterRole {role} grants all verbs on "
                            "all resources cluster-wide to user alice", lambda: rbac.remove("ClusterRoleBinding", name))


def test_reading_secrets_cluster_wide_is_medium(rbac):
    role, name = unique("secrets"), unique("auditors-secrets")
    rbac.cluster_role(role, SECRETS)
    rbac.cluster_binding(name, role, [group("auditors")])
    appears_then_disappears(rbac, ("ClusterRoleBinding", name), "medium", "read Secrets cluster-wide to group auditors",
                            lambda: rbac.remove("ClusterRoleBinding", name))


def test_escalate_bind_and_impersonate_are_reported(rbac):
    role, name = unique("escalate"), unique("ops-escalate")
    rbac.cluster_role(role, ESCALATE)
    rbac.cluster_binding(name, role, [user("ops")])
    appears_then_disappears(rbac, ("ClusterRoleBinding", name), "medium",
                            "escalate roles, bind roles, impersonate users, groups or service accounts cluster-wide",
                            lambda: rbac.remove("ClusterRoleBinding", name))


def test_pods_exec_and_rbac_writes_in_a_namespace_are_low(rbac):
    rbac.role("debugger", EXEC)
    rbac.role("granter", RBAC_WRITE)
    rbac.binding("bob-debug", "Role", "debugger", [user("bob")])
    appears_then_disappears(rbac, ("RoleBinding", f"{rbac.namespace}/bob-debug"), "low",
                            f"create pods/exec in namespace {rbac.namespace} to user bob",
                            lambda: rbac.remove("RoleBinding", "bob-debug"))
    rbac.binding("carol-grant", "Role", "granter", [user("carol")])
    appears_then_disappears(rbac, ("RoleBinding", f"{rbac.namespace}/carol-grant"), "low", "write RBAC",
                            lambda: rbac.remove("RoleBinding", "carol-grant"))


def test_a_service_account_whose_token_is_mounted_and_that_reads_all_secrets_is_high(rbac):
    role, name = unique("secrets"), unique("deployer-secrets")
    rbac.cluster_role(role, SECRETS)
    rbac.service_account("deployer")
    rbac.pod("runner", "deployer")
    rbac.cluster_binding(name, role, [{"kind": "ServiceAccount", "name": "deployer", "namespace": rbac.namespace}])
    appears_then_disappears(rbac, ("ServiceAccount", f"{rbac.namespace}/deployer"), "high",
                            f"token mounted into 1 pod(s) (runner); holds read Secrets cluster-wide via "
                            f"ClusterRoleBinding {name}", lambda: rbac.remove("ClusterRoleBinding", name))


def test_a_default_service_account_with_a_binding_is_low(rbac):
    role = unique("pod-viewer")
    rbac.cluster_role(role, VIEW_PODS)
    rbac.binding("default-view", "ClusterRole", role,
                 [{"kind": "ServiceAccount", "name": "default", "namespace": rbac.namespace}])
    appears_then_disappears(rbac, ("ServiceAccount", f"{rbac.namespace}/default"), "low",
                            f"default service account with bindings: RoleBinding {rbac.namespace}/default-view",
                            lambda: rbac.remove("RoleBinding", "default-view"))


def test_iks_rbac_of_the_profile_is_info_not_noise(rbac):
    found, result = access_findings(rbac.cluster)
    for key, text in ((("ClusterRoleBinding", "ibm-admin"), "IAM Manager service role, all namespaces"),
                      (("RoleBinding", "default/ibm-operate"), "IAM Manager service role, this namespace"),
                      (("RoleBinding", "default/ibm-edit"), "IAM Writer service role"),
                      (("RoleBinding", "default/ibm-view"), "IAM Reader service role")):
        assert found[key]["severity"] == "info" and text in found[key]["exposure"], found[key]
    assert found[("Access", "Kubernetes bootstrap RBAC")]["severity"] == "info"
    # Nothing the platform made is above info: Kubernetes' own, IKS's IAM sync, IKS-managed components.
    platform = [f for f in found.values() if f["severity"] != "info"
                and f["object"].startswith(("system:", "ibm-", "default/ibm-", "calico-node", "kube-system/"))]
    assert platform == []
    # A component IKS manages (label addonmanager.kubernetes.io/mode=Reconcile) with strong rights is info too.
    role, name = unique("ibm-storage"), unique("ibm-storage")
    managed = {"addonmanager.kubernetes.io/mode": "Reconcile"}
    rbac.cluster_role(role, SECRETS, labels=managed)
    rbac.cluster_binding(name, role, [{"kind": "ServiceAccount", "name": "calico-node", "namespace": "kube-system"}],
                         labels=managed)
    found, unused = access_findings(rbac.cluster)
    assert found[("ClusterRoleBinding", name)]["severity"] == "info"
    assert "IKS-managed component" in found[("ClusterRoleBinding", name)]["exposure"]


def test_an_identity_that_may_not_list_rbac_gets_unknown_not_a_failure(rbac, tmp_path):
    name = unique("netview")
    rbac.cluster_role(name, [{"apiGroups": ["", "apps", "networking.k8s.io", "crd.projectcalico.org"],
                              "resources": ["*"], "verbs": ["get", "list", "watch"]}])
    rbac.cluster_binding(name, name, [user(name)])
    found, result = access_findings(rbac.cluster, kubeconfig=user_kubeconfig(rbac.cluster, name, tmp_path))
    assert result["summary"]["access_unknown"] == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    for kind in ("ClusterRoles", "ClusterRoleBindings", "Roles", "RoleBindings"):
        assert found[("Access", kind)]["exposure"].startswith("unknown: this identity may not list")
    assert not [f for f in found.values() if f["kind"] in ("ClusterRoleBinding", "RoleBinding", "Subject")]
    # Who could undo the pattern is unknown too, never "nobody".
    tamper = [f for f in result["findings"] if f.get("area") == "tamper"]
    assert tamper and all("unknown who else could undo or read it" in f["exposure"] for f in tamper), tamper
    # The network part of the audit is complete all the same.
    assert any(f["kind"] == "ALB" for f in result["findings"])


def test_report_has_an_access_section_with_what_was_closed(rbac, tmp_path):
    name = unique("everyone-admin")
    rbac.cluster_binding(name, "cluster-admin", [group("system:authenticated")])
    report_play(rbac.cluster, tmp_path,
                {"ansible.builtin.command": f"{rbac.cluster.env['KUBECTL']} delete clusterrolebinding {name}", "changed_when": True})
    before = (tmp_path / "reports" / "localhost-before.md").read_text()
    after = (tmp_path / "reports" / "localhost-after.md").read_text()
    access = before.split("## Access: who can do what")[1]
    assert f"| high | ClusterRoleBinding | `{name}` | ClusterRole cluster-admin grants all verbs" in access
    assert "| info | ClusterRoleBinding | `ibm-admin` |" in access
    assert f"`{name}`" not in before.split("## Access: who can do what")[0]
    closed = after.split("## Access closed since the report before this run")[1]
    assert f"ClusterRoleBinding `{name}`" in closed
    html = (tmp_path / "reports" / "localhost-after.html").read_text()
    assert '<h2 id="access">Access: who can do what</h2>' in html and f"<code>{name}</code>" in html


def test_report_after_shows_who_could_undo_the_pattern_next_to_what_was_closed(rbac, tmp_path):
    role, name = unique("ingress-writer"), unique("opens-ingress")
    rbac.cluster_role(role, [{"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["create"]}])
    rbac.cluster_binding(name, role, [user("eve")])
    report_play(rbac.cluster, tmp_path)
    after = (tmp_path / "reports" / "localhost-after.md").read_text()
    tamper = after.split("## Tamper: who could undo or read what the pattern set")[1]
    assert "| medium | `private-only ingress` |" in tamper and f"user eve via ClusterRoleBinding {name}" in tamper
    # Kubernetes' own components are the platform's: never named as someone who could undo it.
    assert "system:kube-controller-manager" not in tamper
    html = (tmp_path / "reports" / "localhost-after.html").read_text()
    assert '<h2 id="tamper">' in html


# The corpus the authorizer judges: each entry is (subject, binding: "cluster" or "namespace", roles); a role is
# (kind, rules), or ("missing", None) for a roleRef to a role that does not exist. Resource names in it are
# "target" where a named right counts (the judge asks for that name), and "*" where it is only a literal name.
TARGET = "target"
CORPUS = [
    ("star-verbs", "cluster", [{"verbs": ["*"], "apiGroups": [""], "resources": ["pods", "nodes"]}]),
    ("star-groups", "cluster", [{"verbs": ["create", "patch"], "apiGroups": ["*"],
                                 "resources": ["pods", "deployments", "mutatingwebhookconfigurations"]}]),
    ("star-resources", "cluster", [{"verbs": ["get", "create"], "apiGroups": [""], "resources": ["*"]}]),
    ("star-all-in-namespace", "namespace", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),
    ("star-all", "cluster", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),
    ("pods-star", "cluster", [{"verbs": ["create", "patch"], "apiGroups": [""], "resources": ["pods/*"]}]),
    ("star-exec", "namespace", [{"verbs": ["create"], "apiGroups": [""], "resources": ["*/exec"]}]),
    ("star-star", "cluster", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/*"]}]),
    ("star-name", "cluster", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["secrets"],
                               "resourceNames": ["*"]}]),
    ("named", "cluster", [{"verbs": ["create", "get"], "apiGroups": [""],
                           "resources": ["serviceaccounts/token", "nodes/proxy"], "resourceNames": [TARGET]}]),
    ("non-resource", "cluster", [{"verbs": ["*"], "nonResourceURLs": ["*"]}]),
    ("core-not-apps", "cluster", [{"verbs": ["create"], "apiGroups": [""], "resources": ["deployments"]}]),
    ("secrets-everywhere", "cluster", [{"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"]}]),
    ("secrets-here", "namespace", [{"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"]}]),
    ("pods-and-tokens-here", "namespace", [{"verbs": ["create"], "apiGroups": [""],
                                            "resources": ["pods", "serviceaccounts/token"]}]),
    ("node-rights-through-a-rolebinding", "namespace", [{"verbs": ["*"], "apiGroups": [""],
                                                         "resources": ["nodes", "nodes/proxy", "persistentvolumes"]}]),
    ("csr-approver", "cluster", [{"verbs": ["update"], "apiGroups": ["certificates.k8s.io"],
                                  "resources": ["certificatesigningrequests/approval"]},
                                 {"verbs": ["approve"], "apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                                  "resourceNames": ["kubernetes.io/kube-apiserver-client"]}]),
    ("csr-approval-only", "cluster", [{"verbs": ["update"], "apiGroups": ["certificates.k8s.io"],
                                       "resources": ["certificatesigningrequests/approval"]}]),
    ("csr-other-signer", "cluster", [{"verbs": ["update"], "apiGroups": ["certificates.k8s.io"],
                                      "resources": ["certificatesigningrequests/approval"]},
                                     {"verbs": ["approve"], "apiGroups": ["certificates.k8s.io"],
                                      "resources": ["signers"], "resourceNames": ["example.com/signer"]}]),
    ("webhooks", "cluster", [{"verbs": ["patch"], "apiGroups": ["admissionregistration.k8s.io"],
                              "resources": ["validatingwebhookconfigurations"]}]),
    ("volumes-and-nodes", "cluster", [{"verbs": ["create", "delete"], "apiGroups": [""],
                                       "resources": ["persistentvolumes", "nodes"]}]),
    ("rbac-and-impersonation", "namespace", [{"verbs": ["impersonate"], "apiGroups": [""],
                                              "resources": ["serviceaccounts"]},
                                             {"verbs": ["escalate", "bind", "update"], "apiGroups": [RBAC_GROUP],
                                              "resources": ["roles"]}]),
    ("cronjobs", "namespace", [{"verbs": ["create"], "apiGroups": ["batch"], "resources": ["cronjobs"]}]),
    ("ephemeral", "cluster", [{"verbs": ["update"], "apiGroups": [""], "resources": ["pods/ephemeralcontainers"]}]),
    ("missing-cluster-role", "cluster", None),
    ("missing-role", "namespace", None),
]


def sar_allowed(authz, subject, verb, group, resource, namespace, name):
    """The API server's answer to a SubjectAccessReview for the subject (no groups beyond its own)."""
    resource, unused, subresource = resource.partition("/")
    if subject["kind"] == "User":
        who = {"user": subject["name"], "groups": []}
    elif subject["kind"] == "Group":
        who = {"user": "judge-probe", "groups": [subject["name"]]}
    else:
        who = {"user": f"system:serviceaccount:{subject['namespace']}:{subject['name']}", "groups": []}
    attributes = {"verb": verb, "group": group, "resource": resource, "subresource": subresource,
                  "namespace": namespace, "name": name}
    review = authz.create_subject_access_review({"apiVersion": "authorization.k8s.io/v1",
                                                 "kind": "SubjectAccessReview",
                                                 "spec": {**who, "resourceAttributes": attributes}})
    return bool(review.status.allowed)


def authorizer_grants(authz, subject, path, namespace):
    """Whether the authorizer grants the escalation path: one of its ``any`` requests and each of its ``all``."""
    def granted(check):
        names = check["names"] or ([TARGET] if check["named_ok"] else [""])
        return any(sar_allowed(authz, subject, verb, check["group"], resource, namespace, name)
                   for verb in check["verbs"] for resource in check["resources"] for name in names)
    return any(granted(c) for c in path["any"]) and all(granted(c) for c in path.get("all", []))


def test_the_api_servers_authorizer_agrees_with_every_path_the_report_scores(rbac, figure):
    from kubernetes import client
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import access
    authz = client.AuthorizationV1Api(rbac.cluster.client())
    prefix = unique("judge")
    subjects = []
    for index, (label, scope, rules) in enumerate(CORPUS):
        role = f"{prefix}-{label}"
        kinds = (user, group, lambda n: {"kind": "ServiceAccount", "name": n, "namespace": rbac.namespace})
        subject = kinds[index % 3](f"{prefix}-{label}")
        subjects.append(subject)
        if rules is None:
            pass
        elif scope == "namespace" and index % 2:
            rbac.role(role, rules)
        else:
            rbac.cluster_role(role, rules)
        role_kind = "Role" if scope == "namespace" and index % 2 else "ClusterRole"
        if scope == "cluster":
            rbac.cluster_binding(role, role, [subject])
        else:
            rbac.binding(role, role_kind, role, [subject])
    # An aggregated ClusterRole: the controller-manager fills its rules from the labelled roles.
    selector = {f"{prefix}/aggregate": "true"}
    rbac.cluster_role(f"{prefix}-agg-token", [{"verbs": ["create"], "apiGroups": [""],
                                               "resources": ["serviceaccounts/token"]}], labels=selector)
    rbac.cluster_role(f"{prefix}-agg-attach", [{"verbs": ["create"], "apiGroups": [""], "resources": ["pods/attach"]}],
                      labels=selector)
    assert len(rbac.aggregated_cluster_role(f"{prefix}-aggregated", selector) or []) == 2
    aggregated = group(f"{prefix}-aggregated")
    rbac.binding(f"{prefix}-aggregated", "ClusterRole", f"{prefix}-aggregated", [aggregated])
    subjects.append(aggregated)

    found, unused = access_findings(rbac.cluster)
    passed, failed, granted = 0, [], 0
    for subject in subjects:
        text = access.subject_text(subject)
        scored = {(p["path"], p["scope"]) for p in (found.get(("Subject", text)) or {}).get("paths", [])}
        for name, path in access.PATHS.items():
            for index, namespace in enumerate(("", rbac.namespace)):
                if not path["severity"][index]:
                    continue
                report = (name, "cluster-wide") in scored or bool(namespace) and (name, namespace) in scored
                judge = authorizer_grants(authz, subject, path, namespace)
                granted += judge
                if report == judge:
                    passed += 1
                else:
                    failed.append(f"{text} {name} {namespace or 'cluster-wide'}: report {report}, authorizer {judge}")
    figure(f"authorizer agreement: {passed} passed, {len(failed)} failed ({granted} pairs granted)")
    assert not failed, "\n".join(failed)
    # The corpus opens paths and leaves others closed: agreement is not all "no".
    assert 0 < granted < passed
