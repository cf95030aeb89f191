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

Selectors follow libcalico-go's grammar: ``==``, ``!=``, ``in {}``, ``not in {}``, ``contains``,
``starts with``, ``ends with``, ``has()``, ``all()``, ``global()``, ``!``, ``&&``, ``||`` and parentheses.
"""

from __future__ import annotations

import ipaddress
import re

FAILSAFE_INBOUND = ("tcp:22", "udp:68", "tcp:179", "tcp:2379", "tcp:2380", "tcp:5473", "tcp:6443",
                    "tcp:6666", "tcp:6667")
DEFAULT_ALLOW_PROFILE = "projectcalico-default-allow"
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132, "ICMP": 1, "ICMPv6": 58, "UDPLite": 136}


class SelectorError(ValueError):
    """A selector libcalico-go would not parse."""


# --- selectors -------------------------------------------------------------------------------

TOKEN = re.compile(r"""\s*(?:
    (?P<has>has\(\s*(?P<haskey>[a-zA-Z0-9_./-]{1,512})\s*\))
  | (?P<all>all\(\s*\))
  | (?P<glob>global\(\s*\))
  | (?P<notin>not\s*in\b)
  | (?P<inop>in\b)
  | (?P<contains>contains)
  | (?P<starts>starts\s*with)
  | (?P<ends>ends\s*with)
  | (?P<op>==|!=|&&|\|\||[!(){},])
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<label>[a-zA-Z0-9_./-]{1,512})
)""", re.VERBOSE)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SelectorError(f"cannot read '{text[pos:].strip()[:20]}' at position {pos}")
        kind = match.lastgroup if match.lastgroup != "haskey" else "has"
        if kind == "has":
            out.append(("has", match.group("haskey")))
        elif kind == "string":
            out.append(("string", match.group(kind)[1:-1]))
        elif kind in ("op", "label"):
            out.append((kind if kind == "label" else match.group(kind), match.group(kind)))
        else:
            out.append((kind, ""))
        pos = match.end()
    return out


class Selector:
    """A parsed Calico selector; ``matches(labels)`` evaluates it."""

    def __init__(self, text: str):
        self.text = text or ""
        self.tokens = tokens(self.text)
        self.pos = 0
        self.tree = ("all",) if not self.tokens else self.parse_or()
        if self.pos != len(self.tokens):
            raise SelectorError(f"unexpected '{self.tokens[self.pos][1] or self.tokens[self.pos][0]}'")

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise SelectorError("ends too early")
        token = self.tokens[self.pos]
        if kind and token[0] != kind:
            raise SelectorError(f"expected '{kind}' but found '{token[1] or token[0]}'")
        self.pos += 1
        return token

    def parse_or(self):
        left = self.parse_and()
        while self.peek() == "||":
            self.take()
            left = ("or", left, self.parse_and())
        return left

    def parse_and(self):
        left = self.parse_not()
        while self.peek() == "&&":
            self.take()
            left = ("and", left, self.parse_not())
        return left

    def parse_not(self):
        if self.peek() == "!":
            self.take()
            return ("not", self.parse_not())
        return self.parse_term()

    def parse_term(self):
        kind, value = self.take()
        if kind == "(":
            inner = self.parse_or()
            self.take(")")
            return inner
        if kind in ("all", "glob"):
            return ("all",)
        if kind == "has":
            return ("has", value)
        if kind != "label":
            raise SelectorError(f"expected a label, has(), all() or '(' but found '{value or kind}'")
        operator = self.take()[0]
        if operator in ("==", "!=", "contains", "starts", "ends"):
            return (operator, value, self.take("string")[1])
        if operator in ("inop", "notin"):
            self.take("{")
            values = set()
            while self.peek() != "}":
                values.add(self.take("string")[1])
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return (operator, value, values)
        raise SelectorError(f"expected an operator after '{value}'")

    def matches(self, labels: dict) -> bool:
        return evaluate(self.tree, labels or {})


def evaluate(node, labels: dict) -> bool:
    kind = node[0]
    if kind == "all":
        return True
    if kind == "has":
        return node[1] in labels
    if kind == "not":
        return not evaluate(node[1], labels)
    if kind in ("and", "or"):
        left = evaluate(node[1], labels)
        return (left and evaluate(node[2], labels)) if kind == "and" else (left or evaluate(node[2], labels))
    value = labels.get(node[1])
    if kind == "!=":
        return value != node[2]
    if kind == "notin":
        return value not in node[2]
    if value is None:
        return False
    if kind == "inop":
        return value in node[2]
    if kind == "contains":
        return node[2] in value
    if kind == "starts":
        return value.startswith(node[2])
    if kind == "ends":
        return value.endswith(node[2])
    return value == node[2]


def selector_problem(text) -> str | None:
    if not isinstance(text, str):
        return "must be a string"
    try:
        Selector(text)
    except SelectorError as exc:
        return f"is not a valid selector: {exc}"
    return None


# --- packets through policies ----------------------------------------------------------------

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
