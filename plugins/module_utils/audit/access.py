# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who can do what: the RBAC part of the exposure audit, read-only.

:func:`read` makes one LIST per kind (ClusterRoles, ClusterRoleBindings, Roles, RoleBindings, ServiceAccounts);
a kind the identity may not list is ``None`` ("unknown"), never a failure. :func:`findings` is a pure function
over the listed objects and the pods: bindings that grant a sensitive capability, service accounts whose token
is mounted into pods and that hold one, ``default`` service accounts with bindings, and what could not be read.
Kubernetes' own bootstrap RBAC, IKS-managed components and the bindings IBM Cloud IAM keeps in sync are
recognised and reported as info.
"""

from __future__ import annotations

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import rbac
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError

RBAC = "/apis/rbac.authorization.k8s.io/v1"
KINDS = {
    "ClusterRole": RBAC + "/clusterroles",
    "ClusterRoleBinding": RBAC + "/clusterrolebindings",
    "Role": RBAC + "/roles",
    "RoleBinding": RBAC + "/rolebindings",
    "ServiceAccount": "/api/v1/serviceaccounts",
}
RBAC_GROUP = "rbac.authorization.k8s.io"
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "info": 3}
BROAD_GROUPS = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")
BROAD_USERS = ("system:anonymous",)
# Kubernetes labels the RBAC objects the API server creates for itself (controllers, nodes, system:masters).
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
# IKS reconciles its managed add-ons (Calico, CoreDNS, ibm-* components) with this label and reverts edits.
IKS_MANAGED_LABEL = ("addonmanager.kubernetes.io/mode", "Reconcile")
# The bindings IBM Cloud IAM service roles are synced into, with the cluster role each must reference.
IKS_IAM_BINDINGS = {
    ("ClusterRoleBinding", "ibm-admin"): ("cluster-admin", "IAM Manager service role, all namespaces"),
    ("RoleBinding", "ibm-operate"): ("admin", "IAM Manager service role, this namespace"),
    ("RoleBinding", "ibm-edit"): ("edit", "IAM Writer service role"),
    ("RoleBinding", "ibm-view"): ("view", "IAM Reader service role"),
}
CERTIFICATES_GROUP = "certificates.k8s.io"
ADMISSION_GROUP = "admissionregistration.k8s.io"
WRITE = ("create", "update", "patch", "delete")
# The signer whose certificates the API server accepts as client credentials (any user or group, system:masters
# included); approving for it, or for every kubernetes.io signer, is what makes CSR approval a path.
CLIENT_SIGNER_NAMES = ("kubernetes.io/kube-apiserver-client", "kubernetes.io/*")


def check(verbs: tuple, group: str, resources: tuple, named_ok: bool = True, names: tuple = ()) -> dict:
    """One request shape of a path: any of the verbs on any of the resources of the API group. ``named_ok``: a
    rule limited to resourceNames still counts (the right is on some objects); ``names``: it counts only when it
    lists one of them."""
    return {"verbs": verbs, "group": group, "resources": resources, "named_ok": named_ok, "names": names}


# Every privilege-escalation path the audit scores, most powerful first (docs/exposure_report.md lists each with
# its source). ``any``: the path is open when one of these checks is granted; ``all``: and each of these too.
# ``severity``: (cluster-wide, in one namespace); ``None`` for a scope where it is not reported.
PATHS = {
    "admin": {"text": "all verbs on all resources", "any": [check(("*",), "*", ("*",))],
              "severity": ("medium", "low"),
              "fix": "bind a narrower role (edit, view or a role of its own) instead of all verbs on all resources"},
    "secrets": {"text": "read Secrets", "any": [check(("get", "list", "watch"), "", ("secrets",), named_ok=False)],
                "severity": ("medium", None),
                "fix": "grant Secrets in the namespaces that need them (RoleBinding), not cluster-wide"},
    "exec": {"text": "create pods/exec", "any": [check(("create",), "", ("pods/exec",))],
             "severity": ("medium", "low"), "fix": "drop create on pods/exec unless the subject debugs workloads"},
    "escalate": {"text": "escalate roles", "any": [check(("escalate",), RBAC_GROUP, ("roles", "clusterroles"))],
                 "severity": ("medium", "low"),
                 "fix": "drop the escalate verb: it lets the holder grant rights it does not have"},
    "bind": {"text": "bind roles", "any": [check(("bind",), RBAC_GROUP, ("roles", "clusterroles"))],
             "severity": ("medium", "low"),
             "fix": "drop the bind verb: it lets the holder bind roles with rights it does not have"},
    "impersonate": {"text": "impersonate users, groups or service accounts",
                    "any": [check(("impersonate",), "", ("users", "groups", "serviceaccounts"))],
                    "severity": ("medium", "low"),
                    "fix": "drop impersonate: the holder acts as any user, group or service account it names"},
    "rbac": {"text": "write RBAC",
             "any": [check(WRITE, RBAC_GROUP, ("roles", "clusterroles", "rolebindings", "clusterrolebindings"))],
             "severity": ("medium", "low"), "fix": "drop write access to Roles, ClusterRoles and their bindings"},
    "pods": {"text": "create pods", "any": [check(("create",), "", ("pods",), named_ok=False)],
             "severity": ("medium", "low"),
             "fix": "create pods through a controller's service account, not as a person; keep it to the namespaces "
                    "that need it"},
    "workloads": {"text": "create workloads (Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs)",
                  "any": [check(("create",), "apps", ("deployments", "daemonsets", "statefulsets", "replicasets"),
                                named_ok=False),
                          check(("create",), "batch", ("jobs", "cronjobs"), named_ok=False)],
                  "severity": ("medium", "low"),
                  "fix": "create workloads through a deployment pipeline's service account; keep it to the "
                         "namespaces that need it"},
    "token": {"text": "create serviceaccounts/token", "any": [check(("create",), "", ("serviceaccounts/token",))],
              "severity": ("high", "medium"),
              "fix": "drop create on serviceaccounts/token: it mints a token of any service account in scope"},
    "ephemeral": {"text": "add ephemeral containers (pods/ephemeralcontainers)",
                  "any": [check(("update", "patch"), "", ("pods/ephemeralcontainers",))],
                  "severity": ("medium", "low"),
                  "fix": "drop update and patch on pods/ephemeralcontainers unless the subject debugs workloads"},
    "attach": {"text": "create pods/attach", "any": [check(("create",), "", ("pods/attach",))],
               "severity": ("medium", "low"), "fix": "drop create on pods/attach unless the subject debugs workloads"},
    "nodes_proxy": {"text": "the kubelet API (nodes/proxy)", "any": [check(("get", "create"), "", ("nodes/proxy",))],
                    "severity": ("high", None),
                    "fix": "drop nodes/proxy: the kubelet API runs commands in every pod of the node, unaudited"},
    "nodes": {"text": "patch or delete Nodes", "any": [check(("update", "patch", "delete"), "", ("nodes",))],
              "severity": ("medium", None),
              "fix": "leave Node changes to the platform (kubelet, controllers); drop update, patch and delete"},
    "persistent_volumes": {"text": "create PersistentVolumes",
                           "any": [check(("create",), "", ("persistentvolumes",), named_ok=False)],
                           "severity": ("medium", None),
                           "fix": "let users claim storage with PersistentVolumeClaims; drop create on "
                                  "persistentvolumes (a hostPath volume reaches the node's files)"},
    "webhooks": {"text": "write admission webhook configurations",
                 "any": [check(WRITE, ADMISSION_GROUP,
                               ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"))],
                 "severity": ("high", None),
                 "fix": "drop write access to mutating and validating webhook configurations"},
    "csr": {"text": "approve client certificates (certificatesigningrequests/approval and approve on signers)",
            "any": [check(("update", "patch"), CERTIFICATES_GROUP, ("certificatesigningrequests/approval",))],
            "all": [check(("approve",), CERTIFICATES_GROUP, ("signers",), names=CLIENT_SIGNER_NAMES)],
            "severity": ("high", None),
            "fix": "drop CSR approval for kubernetes.io signers: an approved client certificate can name any user "
                   "or group, system:masters included"},
}
CAPABILITY_TEXT = {name: path["text"] for name, path in PATHS.items()}
CAPABILITY_FIX = {name: path["fix"] for name, path in PATHS.items()}


def finding(severity: str, kind: str, obj: str, exposure: str, fix: str) -> dict:
    """A finding of the access area (the report's "Access" section)."""
    return {"severity": severity, "kind": kind, "object": obj, "exposure": exposure, "fix": fix, "area": "access"}


def read(kube) -> dict:
    """One LIST per kind: ``{kind: items}``, with ``None`` for a kind this identity may not list."""
    listed = {}
    for kind, path in KINDS.items():
        try:
            listed[kind] = [{"kind": kind, **item} for item in kube.get(path)["items"]]
        except KubeError as exc:
            if exc.status not in (401, 403, 404):
                raise
            listed[kind] = None
    return listed


def grants(rules: list[dict], verbs: tuple, group: str, resources: tuple, named_ok: bool = True,
           names: tuple = ()) -> bool:
    """Whether any rule allows one of the verbs on one of the resources of the API group, as RBAC matches
    (:func:`rbac.rule_allows`). A rule limited to resourceNames counts only when ``named_ok`` and, if ``names``
    are given, when it lists one of them."""
    wanted = list(names) if names else [None if named_ok else ""]
    # Most rules are of another API group or verbs: those are passed over before the full match (the same
    # matcher's own parts, so this only saves work).
    return any(rbac.rule_allows(rule, verb, group, resource, name)
               for rule in rules
               if rbac.group_matches(rule, group) and any(rbac.verb_matches(rule, verb) for verb in verbs)
               for verb in verbs for resource in resources for name in wanted)


def _granted(rules: list[dict], checks: list[dict]) -> bool:
    return any(grants(rules, c["verbs"], c["group"], c["resources"], c["named_ok"], c["names"]) for c in checks)


def paths(rules: list[dict], cluster_wide: bool) -> list[str]:
    """Every escalation path of :data:`PATHS` the rules open, in order, including the ones that ``admin``
    implies; only those reported at the scope (see each path's ``severity``)."""
    return [name for name, path in PATHS.items()
            if path["severity"][0 if cluster_wide else 1] and _granted(rules, path["any"])
            and all(_granted(rules, [c]) for c in path.get("all", []))]


def capabilities(rules: list[dict], cluster_wide: bool) -> list[str]:
    """The sensitive capabilities the rules grant, most powerful first; ``admin`` alone when it is granted, as
    it implies the others. Reading Secrets counts cluster-wide only (inside one namespace it is what edit and
    admin are for)."""
    return collapse(paths(rules, cluster_wide))


def collapse(found: list[str]) -> list[str]:
    """``admin`` alone when it is among the paths, as it implies the others."""
    return ["admin"] if "admin" in found else found


def is_broad(subject: dict) -> bool:
    """A subject that stands for everyone, every service account, or every service account of a namespace."""
    name = subject.get("name") or ""
    if subject.get("kind") == "Group":
        return name in BROAD_GROUPS or name.startswith("system:serviceaccounts:")
    return subject.get("kind") == "User" and name in BROAD_USERS


def subject_text(subject: dict, binding_namespace: str = "") -> str:
    if subject.get("kind") == "ServiceAccount":
        return f"service account {subject.get('namespace') or binding_namespace}/{subject.get('name')}"
    return f"{(subject.get('kind') or 'subject').lower()} {subject.get('name')}"


def _labelled(obj: dict, label: tuple) -> bool:
    return (obj["metadata"].get("labels") or {}).get(label[0]) == label[1]


def recognised(binding: dict, provider: str) -> str:
    """Why a binding belongs to the platform (empty when it does not): Kubernetes' bootstrap RBAC, an IKS-managed
    component, or an IAM-synced binding that references the role IAM gives it."""
    if _labelled(binding, BOOTSTRAP_LABEL):
        return "bootstrap"
    if provider == "ibm" and _labelled(binding, IKS_MANAGED_LABEL):
        return "IKS-managed component (IKS reconciles it)"
    iam = IKS_IAM_BINDINGS.get((binding["kind"], binding["metadata"]["name"]))
    if provider == "ibm" and iam and (binding.get("roleRef") or {}).get("kind") == "ClusterRole" \
            and binding["roleRef"].get("name") == iam[0]:
        return f"IBM Cloud {iam[1]}, synced from IAM"
    return ""


def role_index(listed: dict) -> dict:
    """Rules by (kind, namespace, name) of every listed Role and ClusterRole."""
    return {(kind, r["metadata"].get("namespace", ""), r["metadata"]["name"]): r.get("rules") or []
            for kind in ("ClusterRole", "Role") for r in listed.get(kind) or []}


def role_rules(binding: dict, listed: dict, index: dict) -> list[dict] | None:
    """The rules of the binding's role; None when the role cannot be read (its kind was not listed), [] when it
    does not exist. cluster-admin is known by name even when ClusterRoles cannot be listed. ``index``: the
    :func:`role_index` of ``listed``."""
    ref = binding.get("roleRef") or {}
    kind = "ClusterRole" if ref.get("kind") == "ClusterRole" else "Role"
    if listed.get(kind) is None:
        if kind == "ClusterRole" and ref.get("name") == "cluster-admin":
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        return None
    namespace = "" if kind == "ClusterRole" else binding["metadata"].get("namespace", "")
    return index.get((kind, namespace, ref.get("name")), [])


def binding_name(binding: dict) -> str:
    meta = binding["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def grants_of(listed: dict, provider: str) -> list[dict]:
    """Every binding with its scope, role, capabilities and why it is the platform's (if it is)."""
    out = []
    # Many bindings share a role: judge each (role, scope) once.
    judged: dict[tuple, list[str]] = {}
    index = role_index(listed)
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in listed.get(kind) or []:
            cluster_wide = kind == "ClusterRoleBinding"
            rules = role_rules(binding, listed, index)
            found = None
            if rules is not None:
                key = (id(rules), cluster_wide)
                if key not in judged:
                    judged[key] = paths(rules, cluster_wide)
                found = judged[key]
            out.append({
                "binding": binding, "kind": kind, "name": binding_name(binding), "cluster_wide": cluster_wide,
                "namespace": binding["metadata"].get("namespace", ""),
                "role": f"{binding['roleRef'].get('kind')} {binding['roleRef'].get('name')}",
                "rules": rules,
                "paths": found,
                "capabilities": collapse(found) if found is not None else None,
                "platform": recognised(binding, provider),
                "subjects": binding.get("subjects") or [],
            })
    return out


def _scope(grant: dict) -> str:
    return "cluster-wide" if grant["cluster_wide"] else f"in namespace {grant['namespace']}"


def _what(grant: dict) -> str:
    return ", ".join(CAPABILITY_TEXT[c] for c in grant["capabilities"])


def severity_of(caps: list[str], cluster_wide: bool) -> str:
    """The most severe of the paths' severities at the scope."""
    return min((PATHS[c]["severity"][0 if cluster_wide else 1] for c in caps), key=SEVERITY_RANK.get)


def binding_findings(grants: list[dict]) -> list[dict]:
    """A finding per binding that grants a sensitive capability: high to a broad subject (everyone, every
    service account), medium cluster-wide, low in one namespace; the platform's own as info."""
    out, bootstrap = [], []
    for grant in grants:
        caps = grant["capabilities"]
        broad = [s for s in grant["subjects"] if is_broad(s)]
        if grant["platform"] == "bootstrap" and not (caps and broad):
            bootstrap.append(grant)
            continue
        subjects = ", ".join(subject_text(s, grant["namespace"]) for s in grant["subjects"]) or "no subjects"
        if grant["platform"].startswith("IBM Cloud IAM") and not broad:
            what = _what(grant) if caps else "no sensitive capability"
            out.append(finding("info", grant["kind"], grant["name"],
                               f"{grant['platform']}: {grant['role']} ({what}) {_scope(grant)} for {subjects}",
                               "review the cluster's IBM Cloud IAM access policies (changes made here are "
                               "overwritten by the sync)"))
            continue
        if not caps:
            continue
        text = f"{grant['role']} grants {_what(grant)} {_scope(grant)} to {subjects}"
        if broad:
            out.append(finding("high", grant["kind"], grant["name"],
                               f"{text}: {', '.join(subject_text(s) for s in broad)} stands for everyone or for "
                               f"every service account", "remove the broad subject; bind named users, groups or "
                                                         "service accounts"))
        elif grant["platform"]:
            out.append(finding("info", grant["kind"], grant["name"], f"{grant['platform']}: {text}", ""))
        else:
            out.append(finding(severity_of(caps, grant["cluster_wide"]), grant["kind"], grant["name"], text,
                               "; ".join(CAPABILITY_FIX[c] for c in caps)))
    if bootstrap:
        out.append(finding("info", "Access", "Kubernetes bootstrap RBAC",
                           f"{len(bootstrap)} bindings the API server keeps for its own components (label "
                           f"{'='.join(BOOTSTRAP_LABEL)}), e.g. cluster-admin for group system:masters", ""))
    return out


def subject_key(subject: dict, binding_namespace: str) -> tuple:
    """(kind, namespace, name) of a binding's subject; the namespace is a service account's only."""
    kind = subject.get("kind") or ""
    namespace = (subject.get("namespace") or binding_namespace) if kind == "ServiceAccount" else ""
    return kind, namespace, subject.get("name") or ""


def subject_spec(key: tuple) -> str:
    """How ``platform_subjects`` names a subject: ``User:alice``, ``Group:ops``, ``ServiceAccount:ns/name``."""
    kind, namespace, name = key
    return f"{kind}:{namespace}/{name}" if kind == "ServiceAccount" else f"{kind}:{name}"


def is_platform_subject(key: tuple, grant: dict, platform_subjects: tuple) -> bool:
    """The platform's own: Kubernetes' components (``system:`` users and groups other than the ones that stand
    for everyone, service accounts of kube-system), subjects of bootstrap and IKS-managed bindings, and the
    subjects the audit is told are the platform's (``platform_subjects``, such as the identity running it)."""
    kind, namespace, name = key
    subject = {"kind": kind, "name": name}
    if is_broad(subject):
        return False
    if grant["platform"] and not grant["platform"].startswith("IBM Cloud"):
        return True
    if kind in ("User", "Group") and name.startswith("system:"):
        return True
    if kind == "ServiceAccount" and namespace == "kube-system":
        return True
    return subject_spec(key) in platform_subjects


def _path_entry(name: str, grant: dict) -> dict:
    scope = 0 if grant["cluster_wide"] else 1
    return {"path": name, "scope": "cluster-wide" if grant["cluster_wide"] else grant["namespace"],
            "via": f"{grant['kind']} {grant['name']}", "severity": PATHS[name]["severity"][scope]}


def subject_findings(grants: list[dict], platform_subjects: tuple = ()) -> list[dict]:
    """A finding per subject with its escalation paths, each with scope, severity and the binding it comes
    through (``paths``; all of them, the ones ``admin`` implies included). High for a subject that stands for
    everyone, else the most severe of its bindings (as :func:`binding_findings` rates them); info for the
    platform's own (see :func:`is_platform_subject`) and when every binding is one the platform keeps (an IBM
    Cloud IAM sync: the place to change it is IAM). Subjects held only through Kubernetes' bootstrap RBAC are
    left to its summary line."""
    held: dict[tuple, list[dict]] = {}
    for grant in grants:
        if grant["paths"]:
            for subject in grant["subjects"]:
                held.setdefault(subject_key(subject, grant["namespace"]), []).append(grant)
    out = []
    for key, subject_grants in sorted(held.items()):
        subject = {"kind": key[0], "name": key[2], "namespace": key[1]}
        broad = is_broad(subject)
        if all(g["platform"] == "bootstrap" for g in subject_grants) and not broad:
            continue
        entries = [_path_entry(name, g) for g in subject_grants for name in g["paths"]]
        shown = "; ".join(f"{_what(g)} {_scope(g)} via {g['kind']} {g['name']}" for g in subject_grants)
        fixes = list(dict.fromkeys(CAPABILITY_FIX[c] for g in subject_grants for c in g["capabilities"]))
        if broad:
            severity = "high"
        elif all(g["platform"] or is_platform_subject(key, g, platform_subjects) for g in subject_grants):
            severity, fixes = "info", []
        else:
            severity = min((severity_of(g["capabilities"], g["cluster_wide"]) for g in subject_grants),
                           key=SEVERITY_RANK.get)
        finding_ = finding(severity, "Subject", subject_text(subject), f"escalation paths: {shown}", "; ".join(fixes))
        out.append({**finding_, "paths": entries})
    return out


def mounts_token(pod: dict, accounts: dict) -> bool:
    """Whether the pod gets its service account's token: the pod's automountServiceAccountToken wins, then the
    service account's, and the default is yes."""
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    account = accounts.get((pod["metadata"]["namespace"], spec.get("serviceAccountName") or "default"))
    if account is not None and account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def service_account_findings(grants: list[dict], pods: list[dict], service_accounts: list[dict] | None) -> list[dict]:
    """Service accounts whose token is mounted into running pods and that hold a sensitive capability (high when
    cluster-wide, medium in a namespace; info when the platform's own binding grants it), and ``default``
    service accounts with bindings of their own (low)."""
    accounts = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in service_accounts or []}
    mounted: dict[tuple, list[str]] = {}
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if mounts_token(pod, accounts):
            key = (meta["namespace"], (pod.get("spec") or {}).get("serviceAccountName") or "default")
            mounted.setdefault(key, []).append(meta["name"])
    held: dict[tuple, list[dict]] = {}
    for grant in grants:
        for subject in grant["subjects"]:
            if subject.get("kind") == "ServiceAccount":
                key = (subject.get("namespace") or grant["namespace"], subject.get("name"))
                held.setdefault(key, []).append(grant)
    out = []
    for (namespace, name), account_grants in sorted(held.items()):
        pods_of = mounted.get((namespace, name), [])
        sensitive = [g for g in account_grants if g["capabilities"]]
        where = f"token mounted into {len(pods_of)} pod(s) ({', '.join(sorted(pods_of)[:3])}" \
                f"{', ...' if len(pods_of) > 3 else ''})"
        obj = f"{namespace}/{name}"
        if pods_of and sensitive:
            rights = "; ".join(f"{_what(g)} {_scope(g)} via {g['kind']} {g['name']}" for g in sensitive)
            if all(g["platform"] for g in sensitive):
                out.append(finding("info", "ServiceAccount", obj, f"{where}; holds {rights} "
                                                                  f"(platform component)", ""))
            else:
                out.append(finding("high" if any(g["cluster_wide"] and not g["platform"] for g in sensitive)
                                   else "medium", "ServiceAccount", obj,
                                   f"{where}; holds {rights}: whoever breaks into one of these pods has it too",
                                   "set automountServiceAccountToken: false on pods that do not call the API, "
                                   "or narrow the role"))
        elif name == "default" and any(not g["platform"] for g in account_grants):
            bindings = ", ".join(f"{g['kind']} {g['name']} ({g['role']})" for g in account_grants)
            out.append(finding("low", "ServiceAccount", obj,
                               f"default service account with bindings: {bindings}; every pod of the namespace "
                               f"that names no service account gets them",
                               "bind a service account of the workload's own and set serviceAccountName"))
    return out


def unknown_findings(listed: dict, grants: list[dict]) -> list[dict]:
    """What this identity could not read: the kinds, and the bindings whose role could not be judged."""
    out = []
    for kind, items in listed.items():
        if items is None:
            out.append(finding("info", "Access", f"{kind}s",
                               f"unknown: this identity may not list {kind}s, so who can do what through them "
                               f"is not known", "run the audit with an identity that may list "
                                                f"{'ServiceAccounts' if kind == 'ServiceAccount' else RBAC_GROUP}"))
    blind = [g["name"] for g in grants if g["capabilities"] is None and not g["platform"]]
    if blind:
        out.append(finding("info", "Access", "bindings of unreadable roles",
                           f"unknown: {len(blind)} binding(s) reference roles this identity may not read "
                           f"({', '.join(blind[:5])}{', ...' if len(blind) > 5 else ''})",
                           f"run the audit with an identity that may list {RBAC_GROUP}"))
    return out


def findings(listed: dict, pods: list[dict], provider: str, platform_subjects: tuple = (),
             controls: tuple = (), judge=None) -> list[dict]:
    """Every access finding for the listed objects (see :func:`read`) and the cluster's pods, and who could
    undo or read each of the controls (see :func:`tamper_findings`, which ``judge`` is for)."""
    grants = grants_of(listed, provider)
    return (binding_findings(grants) + subject_findings(grants, platform_subjects)
            + service_account_findings(grants, pods, listed.get("ServiceAccount")) + unknown_findings(listed, grants)
            + tamper_findings(listed, grants, list(controls), platform_subjects, judge))


def unknown_kinds(listed: dict) -> list[str]:
    """The kinds this identity could not list (the summary's ``access_unknown``)."""
    return [kind for kind, items in listed.items() if items is None]


CALICO_GROUPS = ("crd.projectcalico.org", "projectcalico.org")


def control(name: str, what: str, checks: list[dict], namespace: str | None = None) -> dict:
    """A control the pattern set, and the requests that undo or read it. ``namespace``: ``None`` for a
    cluster-scoped object (only ClusterRoleBindings grant on it), ``""`` for any namespace, else that one.
    Each check names its path (``path``) and the changes that try it (``probes``, see audit/tamper.py): none for
    a path no admission policy can stop (reads) or the guard leaves open (creating new objects)."""
    return {"name": name, "what": what, "checks": checks, "namespace": namespace}


def path(text: str, verbs: tuple, group: str, resources: tuple, probes: tuple = (), **kwargs) -> dict:
    """A check of a control: ``text`` says the path, ``probes`` try it."""
    return {**check(verbs, group, resources, **kwargs), "path": text, "probes": list(probes)}


def edge_control(nodes: list[str], probes: tuple = ()) -> dict:
    """The edge taints and labels: whoever may change Nodes can remove them, or mark any node as edge."""
    return control("edge taints and labels", f"{len(nodes)} edge node(s) ({', '.join(nodes[:3])}"
                   f"{', ...' if len(nodes) > 3 else ''})",
                   [path("remove the edge labels or taints", ("update", "patch"), "", ("nodes",), probes),
                    path("delete an edge node", ("delete",), "", ("nodes",))])


def calico_policy_control(kind: str, name: str, namespace: str | None, probes: tuple = ()) -> dict:
    """A Calico policy: whoever may change or delete it (as the CRD, or through the Calico API server), or
    create another one that is evaluated before it."""
    resource = "globalnetworkpolicies" if kind == "GlobalNetworkPolicy" else "networkpolicies"
    stored = (name, name if name.startswith("default.") else f"default.{name}")
    checks = [path("create a policy evaluated before it", ("create",), group, (resource,), named_ok=False)
              for group in CALICO_GROUPS]
    checks += [path("change or delete it", ("update", "patch", "delete"), CALICO_GROUPS[0], (resource,), probes,
                    names=stored),
               path("change or delete it through the Calico API server", ("update", "patch", "delete"),
                    CALICO_GROUPS[1], (resource,), names=stored)]
    label = f"{namespace}/{name}" if namespace else name
    return control(f"Calico {kind} {label}", "policy", checks, namespace)


def ingress_control() -> dict:
    """Private-only ingress: whoever may create or change Services (type NodePort or LoadBalancer) or
    Ingresses, in any namespace, opens new exposure."""
    return control("private-only ingress", "Services of type NodePort/LoadBalancer and Ingresses",
                   [path("create or change a Service", ("create", "update", "patch"), "", ("services",)),
                    path("create or change an Ingress", ("create", "update", "patch"), "networking.k8s.io",
                         ("ingresses",))], "")


def private_service_control(namespace: str, name: str, probes: tuple = ()) -> dict:
    """A private LoadBalancer Service: whoever may change it can make it public (its provider's annotation)."""
    return control(f"private Service {namespace}/{name}", "private load balancer",
                   [path("turn it public", ("update", "patch"), "", ("services",), probes, names=(name,))], namespace)


def vpn_control(namespace: str, secret: str, probes: dict | None = None) -> dict:
    """The VPN's pre-shared key: whoever may read its Secret, or run or change pods of its namespace.
    ``probes``: {"secret": ..., "deployment": ...}, the changes the guard refuses."""
    probes = probes or {}
    return control(f"VPN Secret {namespace}/{secret}", "the pre-shared key",
                   [path("read the key", ("get",), "", ("secrets",), names=(secret,)),
                    path("read Secrets or run pods in the namespace", ("list", "watch", "create"), "",
                         ("secrets", "pods"), named_ok=False),
                    path("change or delete the Secret", ("update", "patch", "delete"), "", ("secrets",),
                         probes.get("secret", ()), names=(secret,)),
                    path("run commands in its pods", ("create",), "", ("pods/exec", "pods/attach")),
                    path("change the VPN's Deployment", ("update", "patch"), "apps", ("deployments",),
                         probes.get("deployment", ()))], namespace)


def _reaches(grant: dict, namespace: str | None) -> bool:
    if grant["cluster_wide"]:
        return True
    return namespace is not None and namespace in ("", grant["namespace"])


JUDGED = 10  # subjects per control whose paths are tried by dry run (the ones listed)


def guard_verdict(key: tuple, checks: list[dict], judge) -> dict:
    """What the admission guard does to each path the subject has: {"blocked": [path], "open": [path],
    "unknown": [path]}. A path without probes is open (no admission policy stops it); one with probes is
    blocked when the API server refuses every probe, by the guard's policy or otherwise (not the subject's to
    do after all), open when it lets one through."""
    out = {"blocked": [], "open": [], "unknown": []}
    for item in checks:
        if not item["probes"]:
            out["open"].append(item["path"])
            continue
        verdicts = [judge(key, probe)[0] for probe in item["probes"]]
        if "allowed" in verdicts:
            out["open"].append(item["path"])
        elif "unknown" in verdicts:
            out["unknown"].append(item["path"])
        else:
            out["blocked"].append(item["path"])
    return out


def _verdict_text(subject: str, verdict: dict) -> str:
    parts = [f"{state} ({', '.join(paths)})" for state, paths in
             (("blocked by the admission guard", verdict["blocked"]), ("not blocked", verdict["open"]),
              ("not judged", verdict["unknown"])) if paths]
    return f"{subject}: {'; '.join(parts)}"


def tamper_findings(listed: dict, grants: list[dict], controls: list[dict], platform_subjects: tuple = (),
                    judge=None) -> list[dict]:
    """For each control, the subjects other than the platform's own that could undo or read it, and through
    which binding (area ``tamper``): high when one stands for everyone, medium otherwise, info when only the
    platform's own can. A binding whose role cannot be read, or an RBAC kind that cannot be listed, makes the
    answer unknown, never "nobody".

    ``judge`` (audit/tamper.py, when the cluster has the admission guard): each path a listed subject has is
    tried as that subject by a server-side dry run; a subject whose every path the API server refuses no longer
    counts for the severity, and the finding says, per subject, which paths are blocked by the admission guard."""
    blind_kinds = [k for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding") if listed.get(k) is None]
    out = []
    for item in controls:
        who: dict[tuple, list[str]] = {}
        held: dict[tuple, set] = {}
        unknown = []
        for grant in grants:
            if not _reaches(grant, item["namespace"]):
                continue
            if grant["rules"] is None:
                unknown.append(grant["name"])
                continue
            granted = {i for i, c in enumerate(item["checks"]) if _granted(grant["rules"], [c])}
            if granted:
                for subject in grant["subjects"]:
                    key = subject_key(subject, grant["namespace"])
                    if not is_platform_subject(key, grant, platform_subjects):
                        who.setdefault(key, []).append(f"{grant['kind']} {grant['name']}")
                        held.setdefault(key, set()).update(granted)
        listed_who = [f"{subject_text({'kind': k[0], 'name': k[2], 'namespace': k[1]})} via {', '.join(vias)}"
                      for k, vias in sorted(who.items())]
        text = "; ".join(listed_who[:10]) + (f"; and {len(listed_who) - 10} more" if len(listed_who) > 10 else "")
        gaps = ([f"this identity may not list {', '.join(blind_kinds)}"] if blind_kinds else []) + \
            ([f"{len(unknown)} binding(s) reference roles it may not read"] if unknown else [])
        verdicts = {}
        if judge is not None and any(c["probes"] for c in item["checks"]):
            verdicts = {k: guard_verdict(k, [item["checks"][i] for i in sorted(held[k])], judge)
                        for k in sorted(who)[:JUDGED]}
        still = [k for k in who if k not in verdicts or verdicts[k]["open"] or verdicts[k]["unknown"]]
        if any(is_broad({"kind": k[0], "name": k[2]}) for k in still):
            severity = "high"
        elif still:
            severity = "medium"
        else:
            severity = "info"
        if who:
            exposure = f"{item['what']}: could be undone or read by {text}"
        elif gaps:
            exposure = f"{item['what']}: unknown who else could undo or read it"
        else:
            exposure = f"{item['what']}: only the platform's own subjects could undo or read it"
        if verdicts:
            exposure += ("; tried as each by a server-side dry run: " + "; ".join(
                _verdict_text(subject_text({"kind": k[0], "name": k[2], "namespace": k[1]}), v)
                for k, v in verdicts.items()))
        if gaps:
            exposure += f" (unknown beyond this: {'; '.join(gaps)})"
        entry = {**finding(severity, "Tamper", item["name"], exposure,
                           "narrow or remove these bindings, or name the subject in platform_subjects if it "
                           "is the platform's own" if still else ""),
                 "area": "tamper", "subjects": [subject_spec(k) for k in sorted(who)]}
        if verdicts:
            entry["guard"] = {subject_spec(k): v for k, v in verdicts.items()}
        out.append(entry)
    return out
