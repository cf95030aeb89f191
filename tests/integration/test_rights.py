"""Rights judged as the authorizer judges (issue 30): real service accounts on the real API server, each with
less than the pattern needs. Each run stops before its first write, with zero writes by that identity in the
audit log and a message naming the missing rights; granting exactly the rights named (and nothing else) makes
the next run get further, until the run passes (check mode, which runs every up-front check)."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from conftest import REPO, module_cluster, run_playbook, unique, wait_until

DEMO_INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
FIRST_WRITE_TASK = "Label the edge nodes"
WRITES = ("create", "update", "patch", "delete", "deletecollection")
SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")
RBAC = "rbac.authorization.k8s.io"
# The up-front check's way of naming a right, and the API server's (a 403 on a read before any write).
NAMED = re.compile(r"(?P<verb>[a-z]+) (?P<resource>[a-z]+(?:/[a-z]+)?)(?: \((?P<group>[a-z0-9.-]+\.[a-z]+)\))?"
                   r"(?: in namespace (?P<namespace>[a-z0-9-]+)| \(cluster-wide\))")
FORBIDDEN = re.compile(r'cannot (?P<verb>[a-z]+) resource \\*"(?P<resource>[a-z/]+)\\*" in API group \\*"(?P<group>[^"\\]*)'
                       r'\\*"(?: in the namespace \\*"(?P<namespace>[a-z0-9-]+)| at the cluster scope)')
READ_ALL = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}
EDGE = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]}]


demo = module_cluster("rights")


def kubectl(cluster, *args, stdin=None):
    done = subprocess.run([cluster.env["KUBECTL"], "--kubeconfig", cluster.kubeconfig, *args], input=stdin,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}\n{stdin}"
    return done.stdout


def apply(cluster, *objects):
    kubectl(cluster, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def cluster_role(name, rules, labels=None, aggregate=None):
    role = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}}
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    else:
        role["rules"] = rules
    return role


def binding(kind, name, role_kind, role, account, namespace=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "default"}]}


class Account:
    """A real service account in namespace default, with a token from the TokenRequest API, and the RBAC
    objects of the test (deleted at the end)."""

    def __init__(self, cluster, tmp_path, name):
        self.cluster, self.name = cluster, name
        self.username = f"system:serviceaccount:default:{name}"
        self.objects: list[tuple[str, str, str]] = []
        kubectl(cluster, "create", "serviceaccount", name, "-n", "default")
        token = kubectl(cluster, "create", "token", name, "-n", "default", "--duration", "1h").strip()
        with open(cluster.kubeconfig, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        config["users"][0]["user"] = {"token": token}
        self.kubeconfig = tmp_path / f"{name}.kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.inventory = tmp_path / "inventory.yml"
        with open(DEMO_INVENTORY, encoding="utf-8") as handle:
            inventory = yaml.safe_load(handle)
        inventory["all"]["hosts"]["local-demo"]["secure_cluster_kubeconfig"] = str(self.kubeconfig)
        inventory["all"]["hosts"]["local-demo"]["exposure_report_dir"] = str(tmp_path / "reports")
        self.inventory.write_text(yaml.safe_dump(inventory))

    def grant(self, tag, rules, namespace=None):
        """Rules in a namespace (Role and RoleBinding) or cluster-wide (ClusterRole and ClusterRoleBinding)."""
        name = f"{self.name}-{tag}"
        if namespace and subprocess.run([self.cluster.env["KUBECTL"], "--kubeconfig", self.cluster.kubeconfig, "get",
                                         "namespace", namespace], capture_output=True, check=False).returncode:
            namespace = None  # a namespace the cluster does not have (IKS's ibm-system): cluster-wide instead
        if namespace:
            apply(self.cluster, {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": namespace},
                                 "rules": rules}, binding("RoleBinding", name, "Role", name, self.name, namespace))
            self.objects += [("role", name, namespace), ("rolebinding", name, namespace)]
        else:
            apply(self.cluster, cluster_role(name, rules), binding("ClusterRoleBinding", name, "ClusterRole", name, self.name))
            self.objects += [("clusterrole", name, ""), ("clusterrolebinding", name, "")]

    def bind_cluster_role(self, role):
        name = f"{self.name}-{role}"
        apply(self.cluster, binding("ClusterRoleBinding", name, "ClusterRole", role, self.name))
        self.objects.append(("clusterrolebinding", name, ""))

    def writes_since(self, mark):
        """Every request of this identity that changes the cluster (self-reviews persist nothing)."""
        with open(self.cluster.env["AUDIT_LOG"], encoding="utf-8") as handle:
            events = [json.loads(line) for line in handle.readlines()[mark:]]
        return [e for e in events if e.get("stage") == "ResponseComplete"
                and (e.get("user") or {}).get("username") == self.username and e["verb"] in WRITES
                and (e.get("objectRef") or {}).get("resource") not in SELF_REVIEWS
                and "dryRun=All" not in e.get("requestURI", "")]

    def run(self, *args):
        mark = self.cluster.audit_mark()
        result = run_playbook(self.cluster, "secure-cluster.yml", "-i", str(self.inventory), "--check", *args, check=False)
        assert self.writes_since(mark) == []
        return result

    def delete(self):
        for kind, name, namespace in reversed(self.objects):
            kubectl(self.cluster, "delete", kind, name, "--ignore-not-found", *(["-n", namespace] if namespace else []))
        kubectl(self.cluster, "delete", "serviceaccount", self.name, "-n", "default", "--ignore-not-found")


def named_rights(out: str) -> list[dict]:
    """The rights a failed run names: the up-front check's "<user> may not ..." list, or the API server's 403."""
    refusal = re.search(r"may not (.*?): grant these to", out)
    found = [m.groupdict() for m in NAMED.finditer(refusal.group(1))] if refusal else []
    found = found or [m.groupdict() for m in FORBIDDEN.finditer(out)]
    return [right for index, right in enumerate(found) if right not in found[:index]]  # a 403 is printed more than once


def refused_before_any_write(account, *args):
    """A run as the account stops before its first write, naming what it lacks; returns the named rights."""
    mark = account.cluster.audit_mark()
    result = run_playbook(account.cluster, "secure-cluster.yml", "-i", str(account.inventory), *args, check=False)
    assert result.returncode != 0, (args, re.findall(r"may not .*", result.stdout), result.stdout[-3000:])
    assert FIRST_WRITE_TASK not in result.stdout
    assert account.writes_since(mark) == []
    named = named_rights(result.stdout)
    assert named, result.stdout[-3000:]
    return named, result.stdout


def rule_of(right):
    return {"apiGroups": [right["group"] or ""], "resources": [right["resource"]], "verbs": [right["verb"]]}


def grant_named_until_it_passes(account, named, limit=6, grant=None):
    """Grant exactly the named rights (``grant(tag, rights)``, else a Role or ClusterRole each), run again (check
    mode), repeat; the run passes within ``limit`` rounds. Returns every right granted on the way."""
    granted = []
    for round_ in range(limit):
        if grant:
            grant(f"r{round_}", named)
        for index, right in enumerate([] if grant else named):
            account.grant(f"r{round_}-{index}", [rule_of(right)], right["namespace"])
        granted += named
        result = account.run()
        if result.returncode == 0:
            assert "failed=0" in result.stdout and FIRST_WRITE_TASK in result.stdout
            return granted
        named = named_rights(result.stdout)
        assert named, result.stdout[-3000:]
        assert FIRST_WRITE_TASK not in result.stdout, "\n".join(
            line[:800] for line in result.stdout.splitlines() if line.startswith(("fatal", "failed", "TASK")))[-6000:]
    raise AssertionError(f"still refused after granting {granted}")


def text(right):
    where = f"in namespace {right['namespace']}" if right["namespace"] else "cluster-wide"
    return f"{right['verb']} {right['resource']} ({right['group'] or 'core'}) {where}"


def test_a_read_only_identity_is_refused_before_any_write(demo, tmp_path):
    """The view ClusterRole cluster-wide: reads most namespaced objects, writes nothing."""
    account = Account(demo, tmp_path, unique("viewer"))
    try:
        account.bind_cluster_role("view")
        named, out = refused_before_any_write(account)
        granted = grant_named_until_it_passes(account, named, limit=10)
        print("view, granted:", "; ".join(text(r) for r in granted))
    finally:
        account.delete()


def test_a_namespace_admin_without_cluster_rights_is_refused_before_any_write(demo, tmp_path):
    """The issue's identity: admin of namespace default (a Role of everything), reads cluster-wide, may patch
    nodes and evict pods, but may not write Calico GlobalNetworkPolicies. It used to pass the up-front check and
    fail on a 403 at the preDNAT policy after 12 writes."""
    account = Account(demo, tmp_path, unique("ns-admin"))
    try:
        account.grant("admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "default")
        account.grant("read-edge", [READ_ALL, *EDGE])
        named, out = refused_before_any_write(account)
        assert f"{account.username} may not" in out
        granted = grant_named_until_it_passes(account, named)
        # The right it used to be confirmed for from namespace default's rules review, now named up front.
        assert {"verb": "create", "resource": "globalnetworkpolicies", "group": "crd.projectcalico.org",
                "namespace": None} in granted, granted
        print("namespace admin, granted:", "; ".join(text(r) for r in granted))
        # The rights checked up front are every right the writes need: the real run, as this identity, finishes.
        result = run_playbook(demo, "secure-cluster.yml", "-i", str(account.inventory), check=False)
        assert result.returncode == 0 and "failed=0" in result.stdout, result.stdout[-4000:]
    finally:
        account.delete()


def test_an_aggregated_cluster_role_is_judged_by_the_roles_it_aggregates(demo, tmp_path):
    """The identity's one ClusterRole has no rules of its own: the aggregation controller fills them in from the
    ClusterRoles carrying its label. It reads everything and may do the edge step; each refusal is granted by a
    new labelled ClusterRole (no new binding), and the run passes once the aggregation shows it."""
    account = Account(demo, tmp_path, unique("aggregated"))
    label = {"secure-cluster.test/aggregate-to": account.name}
    aggregated = f"{account.name}-aggregated"

    def component(tag, rules):
        name = f"{account.name}-{tag}"
        apply(demo, cluster_role(name, rules, labels=label))
        account.objects.append(("clusterrole", name, ""))
        wanted = {json.dumps(rule, sort_keys=True) for rule in rules}

        def aggregated_rules():
            role = json.loads(kubectl(demo, "get", "clusterrole", aggregated, "-o", "json"))
            have = {json.dumps({k: r.get(k) for k in ("apiGroups", "resources", "verbs")}, sort_keys=True)
                    for r in role.get("rules") or []}
            return wanted <= have
        wait_until(aggregated_rules, timeout=60)

    try:
        apply(demo, cluster_role(aggregated, None, aggregate=label),
              binding("ClusterRoleBinding", aggregated, "ClusterRole", aggregated, account.name))
        account.objects += [("clusterrole", aggregated, ""), ("clusterrolebinding", aggregated, "")]
        component("read-edge", [READ_ALL, *EDGE])
        named, out = refused_before_any_write(account)
        assert f"{account.username} may not" in out
        granted = grant_named_until_it_passes(
            account, named, grant=lambda tag, rights: component(tag, [rule_of(r) for r in rights]))
        assert {"verb": "create", "resource": "globalnetworkpolicies", "group": "crd.projectcalico.org",
                "namespace": None} in granted, granted
        print("aggregated ClusterRole, granted:", "; ".join(text(r) for r in granted))
    finally:
        account.delete()


def test_a_custom_role_missing_one_right_of_each_step_is_refused_naming_that_right(demo, tmp_path):
    """Everything the run needs but one right, for the edge step and each kind of write the other steps make:
    every run stops before its first write naming exactly that right."""
    account = Account(demo, tmp_path, unique("custom"))

    def revoke_since(before):
        for kind, name, namespace in reversed(account.objects[before:]):
            kubectl(demo, "delete", kind, name, *(["-n", namespace] if namespace else []))
        del account.objects[before:]

    def plain(right):
        return {**right, "group": right["group"] or ""}

    try:
        account.grant("read", [READ_ALL])
        before = len(account.objects)
        needed, unused = refused_before_any_write(account)
        needed = [plain(r) for r in grant_named_until_it_passes(account, needed, limit=10)]  # all the run needs
        revoke_since(before)
        assert {"verb": "patch", "resource": "nodes", "group": "", "namespace": None} in needed, needed
        one_per_kind = list({(r["resource"], r["group"], r["namespace"]): r for r in reversed(needed)}.values())
        # A right in a namespace this cluster lacks (IKS's ibm-system) is granted cluster-wide (Account.grant), so
        # it would grant the same right in every namespace too: those are not left out one by one.
        present = {line.split("/", 1)[1] for line in kubectl(demo, "get", "namespaces", "-o", "name").split()}
        wide = {(r["verb"], r["resource"], r["group"]) for r in needed if r["namespace"] and r["namespace"] not in present}
        one_per_kind = [r for r in one_per_kind if (r["verb"], r["resource"], r["group"]) not in wide
                        or (r["namespace"] and r["namespace"] not in present)]
        for index, left_out in enumerate(one_per_kind):
            by_namespace: dict = {}
            for right in needed:
                if right != left_out:
                    by_namespace.setdefault(right["namespace"], []).append(rule_of(right))
            before = len(account.objects)
            for namespace, rules in by_namespace.items():
                account.grant(f"all-but-{index}-{namespace or 'cluster'}", rules, namespace)
            print("left out:", text(left_out), flush=True)
            named, unused = refused_before_any_write(account, "--check")
            assert [plain(r) for r in named] == [left_out], (left_out, named)
            revoke_since(before)
        print("one right left out, each named alone:", "; ".join(text(r) for r in one_per_kind))
    finally:
        account.delete()
