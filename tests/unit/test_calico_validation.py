"""Each rule of Calico's validator (libcalico-go v3.28) that calico_policy carries over, in both directions:
what Calico accepts is accepted, what it refuses is refused naming the field and the value."""

import json

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import guard, resources, validation
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.api import cluster_information
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import CalicoError

V3 = "projectcalico.org/v3"


def gnp(spec=None, name="p", **meta):
    return {"apiVersion": V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": name, **meta}, "spec": spec or {}}


def np(spec=None, name="p", namespace="team"):
    return {"apiVersion": V3, "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
            "spec": spec or {}}


def ingress(**rule):
    return gnp({"ingress": [{"action": "Allow", **rule}]})


def egress(**rule):
    return gnp({"egress": [{"action": "Allow", **rule}]})


def hep(**spec):
    return {"apiVersion": V3, "kind": "HostEndpoint", "metadata": {"name": "w1-eth0"},
            "spec": {"node": "w1", "interfaceName": "eth0", **spec}}


def netset(kind="GlobalNetworkSet", **spec):
    meta = {"name": "corp"} if kind == "GlobalNetworkSet" else {"name": "corp", "namespace": "team"}
    return {"apiVersion": V3, "kind": kind, "metadata": meta, "spec": spec}


def errors(resource):
    return validation.one_resource_errors(resource, 0)


# (rule, accepted by Calico, refused by Calico, what the refusal says: the field and the value)
CASES = [
    # ICMP
    ("icmp type 0..254", ingress(protocol="ICMP", icmp={"type": 254}), ingress(protocol="ICMP", icmp={"type": 255}),
     "spec.ingress[0].icmp.type 255 is not an ICMP type 0-254"),
    ("icmp type not negative", ingress(protocol="ICMP", icmp={"type": 0}), ingress(protocol="ICMP", icmp={"type": -1}),
     "icmp.type -1"),
    ("icmp code 0..255", ingress(protocol="ICMP", icmp={"type": 3, "code": 255}),
     ingress(protocol="ICMP", icmp={"type": 3, "code": 256}), "spec.ingress[0].icmp.code 256 is not an ICMP code 0-255"),
    ("icmp code needs a type", ingress(protocol="ICMPv6", icmp={"type": 1, "code": 4}),
     ingress(protocol="ICMPv6", icmp={"code": 4}), "spec.ingress[0].icmp.code 4 needs an ICMP type"),
    ("icmp needs protocol ICMP or ICMPv6", ingress(protocol="ICMPv6", icmp={"type": 128}),
     ingress(protocol="TCP", icmp={"type": 8}), "spec.ingress[0].icmp needs protocol ICMP or ICMPv6 (protocol is 'TCP')"),
    ("icmp needs the protocol by name", ingress(protocol="ICMP", icmp={"type": 8}),
     ingress(protocol=1, icmp={"type": 8}), "icmp needs protocol ICMP or ICMPv6 (protocol is 1)"),
    ("notICMP needs protocol ICMP or ICMPv6", ingress(protocol="ICMP", notICMP={"type": 8}),
     ingress(notICMP={"type": 8}), "spec.ingress[0].notICMP needs protocol ICMP or ICMPv6 (protocol is not set)"),
    ("ICMP goes with ipVersion 4", ingress(protocol="ICMP", ipVersion=4), ingress(protocol="ICMP", ipVersion=6),
     "spec.ingress[0].ipVersion 6 must be 4 with protocol ICMP"),
    ("ICMPv6 goes with ipVersion 6", ingress(notProtocol="ICMPv6", ipVersion=6),
     ingress(notProtocol="ICMPv6", ipVersion=4), "spec.ingress[0].ipVersion 4 must be 6 with protocol ICMPv6"),
    # protocols and actions
    ("protocol names are case-sensitive", ingress(protocol="UDPLite"), ingress(protocol="udp"),
     "spec.ingress[0].protocol 'udp' is not one of TCP"),
    ("protocol numbers 1..255", ingress(protocol=255), ingress(protocol=0), "spec.ingress[0].protocol 0 is not a protocol number"),
    ("protocol numbers fit a byte", ingress(notProtocol="132"), ingress(notProtocol=256), "notProtocol 256"),
    ("action is one of four", ingress(action="Pass"), ingress(action="Reject"), "spec.ingress[0].action 'Reject' is not one of"),
    ("action is required", ingress(action="Log"), gnp({"ingress": [{"protocol": "TCP"}]}), "spec.ingress[0].action null"),
    ("ipVersion 4 or 6", ingress(ipVersion=6), ingress(ipVersion=5), "spec.ingress[0].ipVersion 5 must be 4 or 6"),
    # ports
    ("ports need TCP, UDP or SCTP", ingress(protocol="SCTP", destination={"ports": [9000]}),
     ingress(protocol="UDPLite", destination={"ports": [9000]}), "spec.ingress[0].destination.ports need protocol TCP, UDP or SCTP"),
    ("ports need a protocol (by number too)", ingress(protocol=17, source={"notPorts": [53]}),
     ingress(source={"notPorts": [53]}), "spec.ingress[0].source.notPorts need protocol TCP, UDP or SCTP (protocol is not set)"),
    ("port 0 is not a port", ingress(protocol="TCP", destination={"ports": [1]}),
     ingress(protocol="TCP", destination={"ports": [0]}), "spec.ingress[0].destination.ports 0 is not a port 1-65535"),
    ("port 0 is not a port in a range", ingress(protocol="TCP", destination={"ports": ["1:10"]}),
     ingress(protocol="TCP", destination={"ports": ["0:10"]}), "destination.ports '0:10' is not a range of ports 1-65535"),
    ("ports up to 65535", ingress(protocol="TCP", destination={"ports": ["65535"]}),
     ingress(protocol="TCP", destination={"ports": ["65536"]}), "destination.ports '65536' is not a port 1-65535"),
    ("ranges go up", ingress(protocol="TCP", destination={"ports": ["80:80"]}),
     ingress(protocol="TCP", destination={"ports": ["81:80"]}), "'81:80' is a range whose start 81 is greater than its end 80"),
    ("named ports are port names", ingress(protocol="TCP", destination={"ports": ["https-alt"]}),
     ingress(protocol="TCP", destination={"ports": ["1-2"]}), "destination.ports '1-2' is not a port name: it needs at least "
                                                              "one letter (a range is written 1:2)"),
    ("named ports are lowercase", ingress(protocol="TCP", destination={"ports": ["metrics"]}),
     ingress(protocol="TCP", destination={"ports": ["Metrics"]}), "destination.ports 'Metrics' is not a port name"),
    ("named ports are short", ingress(protocol="TCP", destination={"ports": ["a" * 15]}),
     ingress(protocol="TCP", destination={"ports": ["a" * 16]}), "is not a port name: 1 to 15 characters"),
    ("ports are numbers or strings", ingress(protocol="TCP", destination={"ports": [443]}),
     ingress(protocol="TCP", destination={"ports": [True]}), "destination.ports true is not a port"),
    # nets
    ("nets have no host bits", ingress(source={"nets": ["10.0.0.0/8"]}), ingress(source={"nets": ["10.0.0.1/8"]}),
     "spec.ingress[0].source.nets '10.0.0.1/8' has host bits set: the network is 10.0.0.0/8"),
    ("nets are CIDRs, not addresses", ingress(source={"notNets": ["10.0.0.1/32"]}),
     ingress(source={"notNets": ["10.0.0.1"]}), "source.notNets '10.0.0.1' is an address, not a CIDR: write 10.0.0.1/32"),
    ("IPv6 nets have no host bits", ingress(destination={"nets": ["fd00::/8"]}),
     ingress(destination={"nets": ["fd00::1/8"]}), "destination.nets 'fd00::1/8' has host bits set"),
    ("nets are valid CIDRs", ingress(source={"nets": ["0.0.0.0/0"]}), ingress(source={"nets": ["10.0.0.0/33"]}),
     "source.nets '10.0.0.0/33' is not a CIDR"),
    ("a rule is IPv4 or IPv6", ingress(source={"nets": ["10.0.0.0/8"]}, destination={"nets": ["192.168.0.0/16"]}),
     ingress(source={"nets": ["10.0.0.0/8"]}, destination={"nets": ["fd00::/8"]}),
     "spec.ingress[0].destination.nets [\"fd00::/8\"] mixes IPv4 and IPv6 nets"),
    ("nets match ipVersion", ingress(ipVersion=6, source={"nets": ["fd00::/8"]}),
     ingress(ipVersion=4, source={"nets": ["fd00::/8"]}), "source.nets [\"fd00::/8\"] do not match the rule's ipVersion 4"),
    # selectors
    ("selectors parse", gnp({"selector": "has(a) && b in {'x', 'y'}"}), gnp({"selector": "role = 'edge'"}),
     "spec.selector 'role = 'edge'' is not a valid selector"),
    ("global() only in a rule's namespaceSelector", ingress(source={"namespaceSelector": "global()"}),
     gnp({"selector": "global()"}), "spec.selector 'global()' uses global()"),
    ("global() not in a rule's selector", ingress(source={"namespaceSelector": "global()"}),
     ingress(source={"selector": "global()"}), "spec.ingress[0].source.selector 'global()' uses global()"),
    ("global() not in the policy's namespaceSelector", gnp({"namespaceSelector": "has(team)"}),
     gnp({"namespaceSelector": "global()"}), "spec.namespaceSelector 'global()' uses global()"),
    ("global() not in serviceAccountSelector", np({"serviceAccountSelector": "role == 'api'"}),
     np({"serviceAccountSelector": "global()"}), "spec.serviceAccountSelector 'global()' uses global()"),
    ("global() stands alone", ingress(destination={"namespaceSelector": "global()"}),
     ingress(destination={"namespaceSelector": "global() && has(a)"}),
     "destination.namespaceSelector 'global() && has(a)' combines global() with other selectors"),
    ("serviceAccounts selector parses", ingress(source={"serviceAccounts": {"selector": "app == 'x'"}}),
     ingress(source={"serviceAccounts": {"selector": "app = 'x'"}}), "source.serviceAccounts.selector 'app = 'x''"),
    # names
    ("GlobalNetworkPolicy names have no dots", gnp(name="allow-ssh"), gnp(name="default.allow-ssh"),
     "metadata.name 'default.allow-ssh' must be lowercase alphanumerics or '-', no dots"),
    ("NetworkPolicy names have no dots", np(name="isolate"), np(name="team.isolate"), "metadata.name 'team.isolate'"),
    ("policy names fit the stored default. prefix", gnp(name="a" * 245), gnp(name="a" * 246),
     "is 246 characters, 1 over the 245 that fit the stored name"),
    ("network set names may have dots", netset(nets=["10.0.0.0/8"]) | {"metadata": {"name": "corp.nets"}},
     netset(nets=[]) | {"metadata": {"name": "Corp"}}, "metadata.name 'Corp' must be lowercase alphanumerics, '-' or '.'"),
    ("namespaced kinds need a namespace", np(), np(namespace=None), "metadata.namespace is required"),
    ("global kinds take no namespace", gnp(), gnp(namespace="team"), "metadata.namespace 'team' is not allowed"),
    ("labels are qualified names", gnp(labels={"example.com/tier": "web"}), gnp(labels={"bad key": "x"}),
     "metadata.labels key 'bad key' is not a qualified name"),
    ("label values are short", gnp(labels={"a": "v" * 63}), gnp(labels={"a": "v" * 64}), "metadata.labels.a 'vvv"),
    ("annotations keys are qualified names", gnp(annotations={"example.com/Note": "x"}),
     gnp(annotations={"/note": "x"}), "metadata.annotations key '/note'"),
    ("network sets do not set the namespace label", netset(), netset() | {"metadata": {
        "name": "corp", "labels": {"projectcalico.org/namespace": "x"}}}, "must not use 'projectcalico.org/namespace'"),
    # policy fields
    ("order is a number", gnp({"order": 100.5}), gnp({"order": "100"}), "spec.order '100' must be a number, not a string"),
    ("types do not repeat", gnp({"types": ["Ingress", "Egress"]}), gnp({"types": ["Egress", "Egress"]}),
     "spec.types 'Egress' is given more than once"),
    ("types are Ingress or Egress", gnp({"types": ["Egress"]}), gnp({"types": ["Forward"]}), "spec.types 'Forward'"),
    ("flags are booleans", gnp({"doNotTrack": True, "applyOnForward": True}), gnp({"applyOnForward": "yes"}),
     "spec.applyOnForward 'yes' must be true or false"),
    ("doNotTrack needs applyOnForward", gnp({"doNotTrack": True, "applyOnForward": True}), gnp({"doNotTrack": True}),
     "doNotTrack policies need spec.applyOnForward: true"),
    ("performanceHints are known", gnp({"performanceHints": ["AssumeNeededOnEveryNode"]}),
     gnp({"performanceHints": ["Fast"]}), "spec.performanceHints 'Fast' is not one of AssumeNeededOnEveryNode"),
    ("performanceHints do not repeat", np({"performanceHints": ["AssumeNeededOnEveryNode"]}),
     np({"performanceHints": ["AssumeNeededOnEveryNode"] * 2}), "spec.performanceHints"),
    ("tier is a name", gnp({"tier": "default"}), gnp({"tier": "Security"}), "spec.tier 'Security' is not a tier name"),
    ("unknown rule fields are refused", ingress(metadata={"annotations": {"why": "ssh"}}), ingress(notes="x"),
     "spec.ingress[0] has unknown field(s) notes"),
    ("rules are mappings", gnp({"ingress": [{"action": "Deny"}]}), gnp({"ingress": ["Deny"]}),
     "spec.ingress[0] 'Deny' must be a mapping"),
    # services and service accounts
    ("services need a name", egress(destination={"services": {"name": "api", "namespace": "team"}}),
     egress(destination={"services": {"namespace": "team"}}), "destination.services.name is required"),
    ("services go alone", egress(destination={"services": {"name": "api", "namespace": "team"}}),
     egress(destination={"services": {"name": "api", "namespace": "team"}, "nets": ["10.0.0.0/8"]}),
     "cannot be combined with destination.nets"),
    ("service destinations take no ports", egress(protocol="TCP", destination={"services": {
        "name": "api", "namespace": "team"}}), egress(protocol="TCP", destination={"services": {
            "name": "api", "namespace": "team"}, "ports": [443]}), "cannot be combined with destination.ports"),
    ("services not in an ingress destination", ingress(source={"services": {"name": "api", "namespace": "team"}}),
     ingress(destination={"services": {"name": "api", "namespace": "team"}}),
     "is not allowed in an ingress rule's destination"),
    ("services not in an egress source", np({"egress": [{"action": "Allow", "destination": {"services": {
        "name": "api"}}}]}), np({"egress": [{"action": "Allow", "source": {"services": {"name": "api"}}}]}),
     "is not allowed in an egress rule's source"),
    ("global services need a namespace", egress(destination={"services": {"name": "api", "namespace": "team"}}),
     egress(destination={"services": {"name": "api"}}), "destination.services.namespace is required in a "
                                                        "GlobalNetworkPolicy"),
    # HTTP match
    ("http only with TCP", ingress(protocol="TCP", http={"methods": ["GET"]}),
     ingress(protocol="UDP", http={"methods": ["GET"]}), "spec.ingress[0].protocol 'UDP' must be TCP or unset with http"),
    ("http only in Allow rules", ingress(http={"paths": [{"prefix": "/api"}]}),
     ingress(action="Deny", http={"paths": [{"prefix": "/api"}]}), "spec.ingress[0].http is only allowed in Allow rules"),
    ("http not in egress rules", ingress(http={"methods": ["GET"]}), egress(http={"methods": ["GET"]}),
     "spec.egress[0].http is not allowed in egress rules"),
    ("http methods do not repeat", ingress(http={"methods": ["GET", "PUT"]}), ingress(http={"methods": ["GET", "GET"]}),
     "http.methods [\"GET\", \"GET\"] has duplicates"),
    ("http paths: exact or prefix", ingress(http={"paths": [{"exact": "/a"}]}),
     ingress(http={"paths": [{"exact": "/a", "prefix": "/b"}]}), "http.paths[0] sets both exact and prefix"),
    ("http paths start with /", ingress(http={"paths": [{"prefix": "/a/b"}]}),
     ingress(http={"paths": [{"prefix": "a?b"}]}), "http.paths[0] 'a?b' must start with '/'"),
    # network sets
    ("network set nets are CIDRs or addresses", netset(nets=["10.0.0.1", "10.0.0.1/8", "fd00::/64"]),
     netset(nets=["10.0.0.0/40"]), "spec.nets '10.0.0.0/40' is not a CIDR or IP address"),
    ("namespaced network sets too", netset("NetworkSet", nets=["192.0.2.0/24"]), netset("NetworkSet", nets=["corp"]),
     "spec.nets 'corp' is not a CIDR or IP address"),
    # host endpoints
    ("host endpoints need a node", hep(), hep(node=""), "spec.node is required"),
    ("host endpoints need an interface or IPs", hep(interfaceName="", expectedIPs=["10.0.0.1"]),
     hep(interfaceName=""), "spec needs interfaceName or expectedIPs"),
    ("interface names are short", hep(interfaceName="*"), hep(interfaceName="a-very-long-interface"),
     "spec.interfaceName 'a-very-long-interface'"),
    ("expectedIPs are addresses", hep(expectedIPs=["fd00::1"]), hep(expectedIPs=["10.0.0.0/8"]),
     "spec.expectedIPs '10.0.0.0/8' is not an IP address"),
    ("profiles are names", hep(profiles=["projectcalico-default-allow"]), hep(profiles=["Default Allow"]),
     "spec.profiles 'Default Allow'"),
    ("endpoint ports have port names", hep(ports=[{"name": "ssh", "protocol": "TCP", "port": 22}]),
     hep(ports=[{"name": "SSH", "protocol": "TCP", "port": 22}]), "spec.ports[0].name 'SSH' is not a port name"),
    ("endpoint ports are TCP, UDP or SCTP", hep(ports=[{"name": "dns", "protocol": "UDP", "port": 53}]),
     hep(ports=[{"name": "ping", "protocol": "ICMP", "port": 1}]), "spec.ports[0].protocol 'ICMP' must be TCP, UDP or SCTP"),
    ("endpoint ports are 1..65535", hep(ports=[{"name": "x", "protocol": "TCP", "port": 65535}]),
     hep(ports=[{"name": "x", "protocol": "TCP", "port": 0}]), "spec.ports[0].port 0 is not a port 1-65535"),
]


@pytest.mark.parametrize("rule, accepted, refused, message", CASES, ids=[c[0] for c in CASES])
def test_calico_rule_accepts_and_refuses_like_calico(rule, accepted, refused, message):
    assert errors(accepted) == []
    found = errors(refused)
    assert any(message in e for e in found), found
    assert all(e.startswith("resource #1 (") for e in found)


def test_write_refuses_what_the_collection_cannot_store():
    """Calico accepts these, but the collection only writes policies of the default tier and never the Calico
    view of a Kubernetes NetworkPolicy."""
    found = validation.resource_errors([np(name="knp.default.deny"), gnp({"tier": "security"})])
    assert "is the Calico view of a Kubernetes NetworkPolicy" in found[0]
    assert "spec.tier 'security' is not supported" in found[1]
    assert validation.resource_errors([gnp({"tier": "default"})]) == []


def test_fields_are_refused_on_calico_versions_without_them_naming_the_version():
    resource = gnp({"tier": "default", "performanceHints": ["AssumeNeededOnEveryNode"]})
    found = validation.version_errors([resource], "v3.26.1")
    assert len(found) == 2
    assert "spec.tier 'default' is not known to Calico v3.26.1" in found[1] and "appeared in v3.29.0" in found[1]
    assert "spec.performanceHints" in found[0] and "appeared in v3.27.0" in found[0]
    only_tier = validation.version_errors([resource], "v3.28.5")
    assert len(only_tier) == 1 and "Calico v3.28.5" in only_tier[0]
    assert validation.version_errors([resource], "v3.29.0") == []
    assert validation.version_errors([resource], "") == []  # unknown version: nothing refused on that ground


def test_rules_are_stored_with_empty_source_and_destination_like_calicoctl():
    policy = gnp({"ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": ["22", "80:80", "8000:9000"]}},
                              {"action": "Deny", "protocol": "6"}],
                  "preDNAT": False, "doNotTrack": False, "selector": "", "order": 100.0})
    spec = resources.to_crd(resources.with_defaults(policy), "2026-01-01T00:00:00Z")["spec"]
    assert spec == {"order": 100, "types": ["Ingress"], "ingress": [
        {"action": "Allow", "protocol": "TCP", "source": {}, "destination": {"ports": [22, 80, "8000:9000"]}},
        {"action": "Deny", "protocol": 6, "source": {}, "destination": {}}]}
    assert json.dumps(spec["order"]) == "100"


def test_objects_stored_with_or_without_empty_source_compare_equal():
    """A re-run over objects written by calicoctl (source: {}) or by earlier releases (no source) writes nothing."""
    rule = {"action": "Allow", "protocol": "TCP", "destination": {"ports": [22]}}
    desired = resources.with_defaults(gnp({"ingress": [rule]}))
    calicoctl = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
                 "metadata": {"name": "default.p"},
                 "spec": {"types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": "TCP", "source": {},
                                                             "destination": {"ports": [22]}}]}}
    older = json.loads(json.dumps(calicoctl))
    del older["spec"]["ingress"][0]["source"]
    older["spec"]["ingress"][0]["destination"]["ports"] = ["22"]
    assert resources.same(desired, resources.from_crd(calicoctl))
    assert resources.same(desired, resources.from_crd(older))
    wider_rule = {"action": "Allow", "protocol": "TCP", "destination": {"ports": [22, 80]}}
    wider = resources.with_defaults(gnp({"ingress": [wider_rule]}))
    assert not resources.same(wider, resources.from_crd(calicoctl))


def test_the_lock_out_guard_treats_an_invalid_live_policy_as_missing_as_felix_does():
    """A live allow policy for SSH that Felix ignores (ICMP type 255) does not keep SSH open: the run that adds
    a deny is refused, exactly as if the allow did not exist."""
    def stored(name, spec):
        return {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
                "metadata": {"name": f"default.{name}"}, "spec": spec}
    broken_allow = stored("allow-ssh", {"order": 10, "selector": "all()", "types": ["Ingress"], "ingress": [
        {"action": "Allow", "protocol": "TCP", "destination": {"ports": [2222]}},
        {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 255}}]})
    live = {("GlobalNetworkPolicy", None, "default.allow-ssh"): broken_allow}
    deny = resources.with_defaults(gnp({"order": 20, "selector": "all()", "ingress": [{"action": "Deny"}]},
                                       name="deny-all"))
    step = {"desired": deny, "stored": None, "before": None, "changed": True}
    (before, after), ignored = guard.policies_after([step], live, "present")
    assert ignored and ignored[0][0] == "allow-ssh" and "icmp.type 255" in ignored[0][1][0]
    assert [p["metadata"]["name"] for p in before] == []
    assert [p["metadata"]["name"] for p in after] == ["deny-all"]
    endpoint = {"metadata": {"name": "w1", "labels": {}}, "spec": {"profiles": ["projectcalico-default-allow"]}}
    keep = [{"protocol": "TCP", "port": 2222, "source": "0.0.0.0/0", "description": "ssh"}]
    was = guard.reachability(before, [endpoint], keep, ())
    will = guard.reachability(after, [endpoint], keep, ())
    assert was[0]["allowed"] and not will[0]["allowed"]
    assert guard.lockouts(was, will)
    # With the live policy valid, the allow keeps the port open and nothing is cut.
    broken_allow["spec"]["ingress"][1]["icmp"]["type"] = 8
    (before, after), ignored = guard.policies_after([step], live, "present")
    assert ignored == []
    assert guard.reachability(after, [endpoint], keep, ())[0]["allowed"]


def test_without_the_crds_the_api_backend_points_to_etcd_and_calicoctl():
    class NoCalico:
        def get_or_none(self, path):
            return None
    with pytest.raises(CalicoError) as raised:
        cluster_information(NoCalico())
    message = str(raised.value)
    assert "crd.projectcalico.org/v1 is not served" in message and "etcd" in message
    assert "calicoctl_config" in message and "calicoctl.cfg" in message


def test_the_walk_reads_global_as_all():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.selector import Selector, global_use
    assert Selector("global()").matches({"a": "b"})
    assert global_use("global()") == "alone" and global_use("has(a) || global()") == "combined"
    assert global_use("has(a)") is None
