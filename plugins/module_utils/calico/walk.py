# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Calico would do with a packet, worked out from the policies before they are written.

Used as a lock-out guard: before a run adds or changes host policies, every connection the user must keep
(SSH, the API server, the kubelet from the API server) is walked through the policy set as it would be after
the run, on every host endpoint, the way Felix orders it:

1. failsafe ports (FelixConfiguration ``failsafeInboundHostPorts``) are always accepted;
2. doNotTrack policies, then preDNAT policies: Allow or Deny end the walk, no match falls through;
3. normal policies (not applyOnForward-only): the first matching Allow or Deny decides; when policies apply
   but none matches, the default tier's end drops the packet; when none applies, the endpoint's profiles decide
   (``projectcalico-default-allow`` on automatic host endpoints).

The answer is conservative: a rule that *may* match (a source selector, a named port, a net overlapping the
source range only in part) counts when it denies and is ignored when it allows.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.selector import Selector

FAILSAFE_INBOUND = ("tcp:22", "udp:68", "tcp:179", "tcp:2379", "tcp:2380", "tcp:5473", "tcp:6443",
                    "tcp:6666", "tcp:6667")
DEFAULT_ALLOW_PROFILE = "projectcalico-default-allow"
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132, "ICMP": 1, "ICMPv6": 58, "UDPLite": 136}


def port_in(port: int, items) -> bool | None:
    """Whether a port is in a Calico ports list; None when only a named port could match."""
    named = False
    for item in items:
        text = str(item)
        if ":" in text:
            low, high = text.split(":", 1)
            if int(low) <= port <= int(high):
                return True
        elif text.isdigit():
            if int(text) == port:
                return True
        else:
            named = True
    return None if named else False


def net_match(source, nets) -> bool | None:
    """True when the whole source range lies in one of nets, False when it touches none, else None."""
    partial = False
    for net in nets:
        net = ipaddress.ip_network(net, strict=False)
        if net.version != source.version:
            continue
        if source.subnet_of(net):
            return True
        partial = partial or source.overlaps(net)
    return None if partial else False


def both(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def negate(value: bool | None) -> bool | None:
    return None if value is None else not value


def rule_matches(rule: dict, packet: dict, endpoint_labels: dict) -> bool | None:
    """True, False or None (may match) for an ingress rule and a packet to a host endpoint."""
    protocol = packet["protocol"]
    number = PROTOCOL_NUMBERS.get(protocol)
    result: bool | None = True
    if rule.get("protocol") is not None and rule["protocol"] not in (protocol, number):
        return False
    if rule.get("notProtocol") is not None and rule["notProtocol"] in (protocol, number):
        return False
    if rule.get("ipVersion") and rule["ipVersion"] != packet["source"].version:
        return False
    source, destination = rule.get("source") or {}, rule.get("destination") or {}
    if source.get("nets"):
        result = both(result, net_match(packet["source"], source["nets"]))
    if source.get("notNets"):
        result = both(result, negate(net_match(packet["source"], source["notNets"])))
    if destination.get("ports"):
        result = both(result, port_in(packet["port"], destination["ports"]))
    if destination.get("notPorts"):
        result = both(result, negate(port_in(packet["port"], destination["notPorts"])))
    if destination.get("selector"):
        result = both(result, Selector(destination["selector"]).matches(endpoint_labels))
    if destination.get("notSelector"):
        result = both(result, not Selector(destination["notSelector"]).matches(endpoint_labels))
    unknown_source = ("selector", "notSelector", "ports", "notPorts", "namespaceSelector", "serviceAccounts",
                      "services")
    if any(source.get(field) for field in unknown_source) or destination.get("nets") \
            or destination.get("notNets") or destination.get("services") or rule.get("http"):
        result = both(result, None)
    return result


def stage(policy_spec: dict) -> str:
    if policy_spec.get("doNotTrack"):
        return "untracked"
    if policy_spec.get("preDNAT"):
        return "preDNAT"
    return "normal"


def ordered(policies: list[dict]) -> list[dict]:
    """Policies in Felix's order: by order (none = last), then by name."""
    def key(policy):
        order = (policy.get("spec") or {}).get("order")
        return (order is None, float(order) if order is not None else 0.0, policy["metadata"]["name"])
    return sorted(policies, key=key)


def failsafe_allows(packet: dict, failsafe) -> bool:
    for entry in failsafe:
        if isinstance(entry, str):
            protocol, port = entry.split(":", 1)
            entry = {"protocol": protocol, "port": int(port)}
        if str(entry.get("protocol", "tcp")).upper() != packet["protocol"] or int(entry["port"]) != packet["port"]:
            continue
        if not entry.get("net") or net_match(packet["source"], [entry["net"]]) is True:
            return True
    return False


def verdict(policies: list[dict], endpoint: dict, packet: dict, failsafe=FAILSAFE_INBOUND,
            forwarded: bool = False) -> dict:
    """What happens to an inbound packet to a host endpoint: {"allowed": bool, "by": str}.

    ``packet``: protocol (TCP/UDP/SCTP), port, source (an ip_network). ``policies``: v3 GlobalNetworkPolicies.
    ``endpoint``: a v3 HostEndpoint (labels, profiles). ``forwarded``: the packet is forwarded to a pod (a
    NodePort after DNAT), so normal policies apply only with applyOnForward, failsafe ports do not apply, and
    with no such policy the packet goes through."""
    if not forwarded and failsafe_allows(packet, failsafe):
        return {"allowed": True, "by": f"Calico failsafe port {packet['protocol'].lower()}:{packet['port']}"}
    labels = endpoint["metadata"].get("labels") or {}
    for phase in ("untracked", "preDNAT", "normal"):
        selected = [p for p in ordered(policies) if stage(p.get("spec") or {}) == phase
                    and "Ingress" in ((p.get("spec") or {}).get("types") or ["Ingress"])
                    and (not forwarded or (p.get("spec") or {}).get("applyOnForward"))
                    and Selector((p.get("spec") or {}).get("selector", "")).matches(labels)]
        outcome = first_action(selected, packet, labels)
        if outcome is None and phase == "normal" and selected:
            return {"allowed": False, "by": "the end of the default tier (policies apply, no rule matched)"}
        if outcome is None or outcome[0] == "Pass":
            continue
        action, where = outcome
        if action == "Deny":
            return {"allowed": False, "by": where}
        if phase != "preDNAT":  # a preDNAT Allow still goes through normal policy
            return {"allowed": True, "by": where}
    if forwarded:
        return {"allowed": True, "by": "no applyOnForward policy (host endpoints do not police forwarded traffic)"}
    if DEFAULT_ALLOW_PROFILE in ((endpoint.get("spec") or {}).get("profiles") or []):
        return {"allowed": True, "by": f"profile {DEFAULT_ALLOW_PROFILE}"}
    return {"allowed": False, "by": "the host endpoint's default deny (no policy or profile applies)"}


def first_action(policies: list[dict], packet: dict, labels: dict):
    """(action, where) of the first rule that decides, ("Pass", ...) or None when none matches."""
    for policy in policies:
        for number, rule in enumerate((policy.get("spec") or {}).get("ingress") or []):
            action = rule.get("action")
            if action == "Log":
                continue
            match = rule_matches(rule, packet, labels)
            if match is False or (match is None and action != "Deny"):
                continue
            where = f"{policy['metadata']['name']} ingress[{number}]" + ("" if match else " (may match)")
            return action, where
    return None
