"""The selector parser and the packet walk used by calico_policy's lock-out guard."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import selector, walk
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.selector import Selector

PUBLIC = {"ibm.role": "worker_public", "ibm.zone": "dal10"}


@pytest.mark.parametrize("text, labels, expected", [
    ("", {}, True),
    ("all()", {"a": "1"}, True),
    ("global()", {}, True),
    ("ibm.role in { 'worker_public', 'master_public' }", PUBLIC, True),
    ("ibm.role in { 'worker_private' }", PUBLIC, False),
    ("ibm.role not in { 'worker_private' }", PUBLIC, True),
    ("missing not in { 'x' }", PUBLIC, True),
    ("missing in { 'x' }", PUBLIC, False),
    ("ibm.role == 'worker_public' && dedicated != 'edge'", PUBLIC, True),
    ("ibm.role == 'worker_public' && dedicated != 'edge'", {**PUBLIC, "dedicated": "edge"}, False),
    ("has(dedicated) || ibm.zone == \"dal10\"", PUBLIC, True),
    ("!has(ibm.role)", PUBLIC, False),
    ("!(ibm.role == 'worker_public')", PUBLIC, False),
    ("ibm.role starts with 'worker' && ibm.role ends with 'public' && ibm.zone contains 'al'", PUBLIC, True),
    ("has( kubernetes.io/hostname )", {"kubernetes.io/hostname": "n1"}, True),
    ("a == 'x' || b == 'y' && c == 'z'", {"a": "x"}, True),  # && binds tighter than ||
    ("(a == 'x' || b == 'y') && c == 'z'", {"a": "x"}, False),
])
def test_selectors_match_as_calico_evaluates_them(text, labels, expected):
    assert Selector(text).matches(labels) is expected


@pytest.mark.parametrize("text, problem", [
    ("role = 'edge'", "cannot read '= 'edge''"),
    ("a == 'b' &&", "ends too early"),
    ("a == b", "expected 'string'"),
    ("a in { 'x' ", "ends too early"),
    ("(a == 'x'", "ends too early"),
    ("a == 'x')", "unexpected ')'"),
    ("&& a == 'x'", "expected a label"),
    ("a", "ends too early"),
])
def test_bad_selectors_are_refused_with_the_reason(text, problem):
    assert problem in selector.selector_problem(text)


def policy(name, order, rules, selector="ibm.role == 'worker_public'", **spec):
    return {"metadata": {"name": name},
            "spec": {"order": order, "selector": selector, "types": ["Ingress"], "ingress": rules, **spec}}


def packet(port, source="0.0.0.0/0", protocol="TCP"):
    return {"protocol": protocol, "port": port, "source": ipaddress.ip_network(source)}


ENDPOINT = {"metadata": {"name": "w1-public", "labels": PUBLIC}, "spec": {}}
AUTO_ENDPOINT = {"metadata": {"name": "w1-auto", "labels": PUBLIC}, "spec": {"profiles": ["projectcalico-default-allow"]}}
DENY_ALL = policy("deny-rest", 3000, [{"action": "Deny"}])


def test_failsafe_ports_answer_whatever_the_policies_say():
    found = walk.verdict([DENY_ALL], ENDPOINT, packet(22))
    assert found == {"allowed": True, "by": "Calico failsafe port tcp:22"}
    assert not walk.verdict([DENY_ALL], ENDPOINT, packet(22), failsafe=())["allowed"]
    # FelixConfiguration entries may restrict the failsafe port to a net.
    only_admin = [{"protocol": "tcp", "port": 22, "net": "192.0.2.0/24"}]
    assert walk.verdict([DENY_ALL], ENDPOINT, packet(22, "192.0.2.7/32"), only_admin)["allowed"]
    assert not walk.verdict([DENY_ALL], ENDPOINT, packet(22, "198.51.100.1/32"), only_admin)["allowed"]


def test_the_first_matching_rule_in_order_decides_and_the_kubelet_of_seed_002_is_caught():
    allow_kubelet = policy("allow-kubelet", 100, [{"action": "Allow", "protocol": "TCP",
                                                   "source": {"nets": ["10.0.0.0/8"]},
                                                   "destination": {"ports": [10250]}}])
    assert walk.verdict([DENY_ALL, allow_kubelet], ENDPOINT, packet(10250, "10.1.2.3/32")) == \
        {"allowed": True, "by": "allow-kubelet ingress[0]"}
    # From outside the allowed net the deny decides: the lock-out of seed 002.
    assert walk.verdict([DENY_ALL, allow_kubelet], ENDPOINT, packet(10250, "172.31.0.9/32")) == \
        {"allowed": False, "by": "deny-rest ingress[0]"}


def test_partial_matches_count_only_against_the_connection():
    allow_half = policy("allow-half", 100, [{"action": "Allow", "source": {"nets": ["10.0.0.0/9"]}}])
    assert not walk.verdict([allow_half, DENY_ALL], ENDPOINT, packet(10250, "10.0.0.0/8"))["allowed"]
    deny_half = policy("deny-half", 100, [{"action": "Deny", "source": {"nets": ["10.0.0.0/9"]}}])
    allow_all = policy("allow-all", 200, [{"action": "Allow"}])
    found = walk.verdict([deny_half, allow_all], ENDPOINT, packet(10250, "10.0.0.0/8"))
    assert found == {"allowed": False, "by": "deny-half ingress[0] (may match)"}
    named = policy("named", 100, [{"action": "Allow", "protocol": "TCP", "destination": {"ports": ["kubelet"]}}])
    assert not walk.verdict([named, DENY_ALL], ENDPOINT, packet(10250))["allowed"]


def test_stages_untracked_then_prednat_then_normal_then_profiles():
    prednat_deny = policy("lockdown", None, [{"action": "Deny", "protocol": "TCP",
                                              "destination": {"ports": ["20000:32767"]}}],
                          preDNAT=True, applyOnForward=True)
    normal_allow = policy("allow-all", 1, [{"action": "Allow"}])
    assert walk.verdict([normal_allow, prednat_deny], ENDPOINT, packet(30080)) == \
        {"allowed": False, "by": "lockdown ingress[0]"}
    # A preDNAT Allow does not end the walk: normal policy still applies.
    prednat_allow = policy("pre-allow", 1, [{"action": "Allow"}], preDNAT=True, applyOnForward=True)
    assert not walk.verdict([prednat_allow, DENY_ALL], ENDPOINT, packet(8080))["allowed"]
    # An untracked Allow does.
    untracked = policy("untracked", 1, [{"action": "Allow"}], doNotTrack=True, applyOnForward=True)
    assert walk.verdict([untracked, DENY_ALL], ENDPOINT, packet(8080))["allowed"]
    # No normal policy applies: the profiles decide.
    other = policy("other", 1, [{"action": "Deny"}], selector="ibm.role == 'worker_private'")
    assert walk.verdict([other], AUTO_ENDPOINT, packet(8080))["allowed"]
    assert not walk.verdict([other], ENDPOINT, packet(8080))["allowed"]
    # Policies apply but none matches: the end of the tier drops.
    udp_only = policy("udp", 1, [{"action": "Allow", "protocol": "UDP"}])
    assert walk.verdict([udp_only], AUTO_ENDPOINT, packet(8080))["by"].startswith("the end of the default tier")


def test_pass_goes_to_the_profiles_and_log_goes_on():
    passing = policy("pass", 1, [{"action": "Log"}, {"action": "Pass"}])
    assert walk.verdict([passing, DENY_ALL], AUTO_ENDPOINT, packet(8080)) == \
        {"allowed": True, "by": "profile projectcalico-default-allow"}


def test_policies_are_ordered_by_order_then_name_with_no_order_last():
    names = [p["metadata"]["name"] for p in walk.ordered([
        policy("c", None, []), policy("b", 10, []), policy("a", 10, []), policy("z", 1.5, [])])]
    assert names == ["z", "a", "b", "c"]


def test_forwarded_packets_meet_only_applyonforward_policies_and_no_failsafe():
    """A NodePort is DNATed to a pod: the host firewall's normal policies do not see it, preDNAT ones do."""
    assert walk.verdict([DENY_ALL], ENDPOINT, packet(30080), forwarded=True)["allowed"]
    on_forward = policy("deny-forward", 10, [{"action": "Deny"}], applyOnForward=True)
    assert not walk.verdict([on_forward], ENDPOINT, packet(30080), forwarded=True)["allowed"]
    lockdown = policy("lockdown", None, [{"action": "Deny", "protocol": "TCP",
                                          "destination": {"ports": ["20000:32767"]}}],
                      preDNAT=True, applyOnForward=True)
    assert walk.verdict([lockdown], ENDPOINT, packet(30080), forwarded=True) == \
        {"allowed": False, "by": "lockdown ingress[0]"}
    # Failsafe ports protect the host's own sockets, not forwarded traffic.
    assert walk.verdict([on_forward], ENDPOINT, packet(22))["allowed"]
    assert not walk.verdict([on_forward], ENDPOINT, packet(22), forwarded=True)["allowed"]


def test_nodeport_exposure_follows_the_forwarded_path():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure
    public = {"metadata": {"name": "w1-public", "labels": {"ibm.role": "worker_public"}}, "spec": {}}
    private = {"metadata": {"name": "w1-private", "labels": {"ibm.role": "worker_private"}}, "spec": {}}
    assert exposure.nodeport_exposure(30080, "TCP", [], []) == \
        (True, "open on every node (no Calico host endpoint polices the nodes)")
    # A host firewall's normal deny does not see traffic DNATed to a pod: the NodePort stays open.
    opened, detail = exposure.nodeport_exposure(30080, "TCP", [DENY_ALL], [public, private])
    assert opened and detail.startswith("open on 1 of 1 public host endpoints (no applyOnForward policy")
    lockdown = policy("deny-kube-node-port-services", None,
                      [{"action": "Deny", "protocol": "TCP", "destination": {"ports": ["20000:32767"]}}],
                      selector="ibm.role in { 'worker_public', 'master_public' }", preDNAT=True, applyOnForward=True)
    assert exposure.nodeport_exposure(30080, "TCP", [DENY_ALL, lockdown], [public, private]) == \
        (False, "blocked by preDNAT policy deny-kube-node-port-services")
    assert exposure.nodeport_exposure(30080, "UDP", [lockdown], [public])[0] is True


def test_host_findings_tell_which_host_ports_answer_the_internet():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure
    assert [f["exposure"] for f in exposure.host_findings([], [], walk.FAILSAFE_INBOUND)] == \
        ["no Calico host endpoint: Calico does not firewall the nodes"]
    auto = {"metadata": {"name": "n1-auto", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {"profiles": ["projectcalico-default-allow"]}}
    found = {f["object"]: f for f in exposure.host_findings([], [auto], walk.FAILSAFE_INBOUND)}
    assert found["kubelet TCP/10250"]["severity"] == "medium"
    assert "profile projectcalico-default-allow" in found["kubelet TCP/10250"]["exposure"]
    assert found["SSH TCP/22"]["severity"] == "info" and "failsafe" in found["SSH TCP/22"]["exposure"]
    deny = policy("host-firewall-deny", 3000, [{"action": "Deny"}], selector="has(kubernetes.io/hostname)")
    found = {f["object"]: f for f in exposure.host_findings([deny], [auto], walk.FAILSAFE_INBOUND)}
    assert found["kubelet TCP/10250"] == {"severity": "info", "kind": "Host", "object": "kubelet TCP/10250",
                                          "exposure": "closed on all 1 public host endpoints: "
                                                      "host-firewall-deny ingress[0]", "fix": ""}
