"""The audit's view of the admission guard: its own findings against what the run makes, and how the
verdicts of the dry runs become blocked, open or not judged (the API server's refusals themselves are
judged in tests/integration/test_admission_guard.py)."""

import copy

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.filter.admission_guard import admission_guard
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import tamper
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit.access import guard_verdict
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError

PROTECTED = {"provider": "ibm", "edge_labels": {"dedicated": "edge"},
             "edge_taints": [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}],
             "global_policies": ["deny-kube-node-port-services"], "isolated_namespaces": [],
             "isolation_policies": {}, "services": [], "vpn": None}


def expected(dry_run=False):
    return admission_guard(PROTECTED, "g", ["Group:platform"], dry_run)


def listed(objects):
    """As a LIST answers: items carry no kind, the server adds its own fields."""
    out = {kind: [] for kind in tamper.KINDS}
    for obj in copy.deepcopy(objects):
        kind = obj.pop("kind")
        obj["metadata"]["uid"] = "u-" + obj["metadata"]["name"]
        out[kind].append(obj)
    return out


def natures(found, wanted, last=()):
    return {f["object"]: (f["nature"], f["severity"]) for f in tamper.findings(found, wanted, list(last))}


def test_a_guard_as_the_run_makes_it_is_in_place_and_kept_in_the_state():
    found = listed(expected())
    assert natures(found, expected()) == {"g-edge-nodes": ("in place", "info"), "g-calico-global": ("in place", "info")}
    assert tamper.in_place(found) == ["g-calico-global", "g-edge-nodes"]
    last = tamper.findings(found, expected(), [])
    assert tamper.kept(last) == ["g-calico-global", "g-edge-nodes"]


def test_a_policy_gone_changed_unbound_or_warning_only_is_each_a_finding():
    found = listed(expected())
    found["ValidatingAdmissionPolicy"] = [p for p in found["ValidatingAdmissionPolicy"]
                                          if p["metadata"]["name"] != "g-calico-global"]
    edge = found["ValidatingAdmissionPolicy"][0]
    edge["spec"]["validations"] = edge["spec"]["validations"][:1]  # a taint's rule dropped
    assert natures(found, expected()) == {"g-edge-nodes": ("changed", "high"), "g-calico-global": ("missing", "high")}
    found = listed(expected())
    found["ValidatingAdmissionPolicyBinding"] = found["ValidatingAdmissionPolicyBinding"][1:]
    assert natures(found, expected())["g-edge-nodes"] == ("unbound", "high")


def test_warn_only_is_low_unless_the_run_asks_for_the_dry_run():
    found = listed(expected(dry_run=True))
    assert set(natures(found, expected(dry_run=True)).values()) == {("warn", "info")}
    warned = listed(expected())
    for binding in warned["ValidatingAdmissionPolicyBinding"]:
        binding["spec"]["validationActions"] = ["Warn"]
    assert natures(warned, expected())["g-calico-global"] == ("changed", "high")  # not what the run makes
    assert natures(warned, [])["g-calico-global"] == ("warn", "low")  # a standalone audit expects nothing


def test_a_standalone_audit_misses_only_what_the_last_audit_found_in_place():
    assert natures(listed([]), [], ["g-vpn"]) == {"g-vpn": ("missing", "high")}
    assert tamper.findings(listed([]), [], []) == []
    assert natures(None, [], ["g-vpn"]) == {"policies": ("unknown", "info")}


@pytest.mark.parametrize("key, headers", [
    (("ServiceAccount", "ci", "deployer"), {"Impersonate-User": "system:serviceaccount:ci:deployer"}),
    (("User", None, "jane"), {"Impersonate-User": "jane"}),
    (("Group", None, "shop-admins"), {"Impersonate-User": tamper.PROBE_USER, "Impersonate-Group": "shop-admins"}),
])
def test_each_subject_kind_is_impersonated_as_kubernetes_allows(key, headers):
    assert tamper.impersonation(key) == headers


class Answers:
    """A Kube that answers each dry run from a table {(user, path): status or None}, and counts them."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def request(self, method, path, body=None, query=None, patch_type=None, headers=None):
        assert query == {"dryRun": "All"}
        self.calls.append((headers["Impersonate-User"], path))
        status, message = self.table[headers["Impersonate-User"], path]
        if status:
            raise KubeError(message, status=status)
        return {}


def test_the_verdicts_come_from_the_dry_runs_once_per_subject_and_change():
    user = ("User", None, "jane")
    kube = Answers({("jane", "/a"): (422, "ValidatingAdmissionPolicy 'g-edge-nodes' with binding 'g-edge-nodes' "
                                          "denied request: the admission guard keeps the edge labels"),
                    ("jane", "/b"): (None, ""), ("jane", "/c"): (403, "User \"jane\" cannot patch resource"),
                    ("jane", "/d"): (403, "User \"me\" cannot impersonate resource \"users\"")})
    judge = tamper.Judge(kube, ["g-edge-nodes"])
    probe = {letter: tamper.probe(letter, "PATCH", "/" + letter, {"x": 1}, "merge") for letter in "abcd"}
    checks = [{"path": "labels", "probes": [probe["a"]]}, {"path": "delete", "probes": [probe["b"]]},
              {"path": "create earlier", "probes": []}, {"path": "rbac", "probes": [probe["c"]]},
              {"path": "both", "probes": [probe["a"], probe["b"]]}, {"path": "no right", "probes": [probe["d"]]}]
    verdict = guard_verdict(user, checks, judge)
    assert verdict == {"blocked": ["labels", "rbac"], "open": ["delete", "create earlier", "both"],
                       "unknown": ["no right"]}
    assert judge(user, probe["a"]) == (tamper.BLOCKED, "g-edge-nodes")
    assert judge(user, probe["c"])[0] == tamper.REFUSED
    assert len(kube.calls) == 4  # each (subject, change) tried once
