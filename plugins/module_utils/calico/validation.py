# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico's own validation of the kinds this collection writes, carried over from libcalico-go v3.28
(``lib/validator/v3/validator.go``, the ``validate`` tags of ``api/pkg/apis/projectcalico/v3`` and the
parsing of ``api/pkg/lib/numorstring``), plus what calicoctl refuses while decoding (unknown fields, wrong
types) and what the Kubernetes datastore refuses (stored names over 253 characters).

A resource that fails these rules is refused by calicoctl, and ignored by Felix when it reaches the datastore
another way ("Validation failed; treating as missing"): so every problem is reported, naming the field and
the value, before anything is written. ``docs/calico_policies.md`` lists the rules and the few deliberate
differences.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import (
    KINDS, PROTOCOLS, V3, from_v1_policy)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.selector import (
    global_use, selector_problem)

LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN = LABEL + r"(\." + LABEL + r")*"
SUBDOMAIN_NAME = re.compile(f"^{SUBDOMAIN}$")
LABEL_NAME = re.compile(f"^{LABEL}$")
K8S_POLICY_NAME = re.compile(f"^(knp|ossg)\\.default\\.{SUBDOMAIN}$")
QUALIFIED_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
NAMED_PORT = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")  # numorstring.PortFromString
PORT_RANGE = re.compile(r"^(\d+):(\d+)$")
INTERFACE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
NAME_LIMIT = 253  # Kubernetes object names (DNS-1123 subdomain)
ANNOTATIONS_LIMIT = 256 * 1024
STORAGE_PREFIX = "default."

ACTIONS = ("Allow", "Deny", "Log", "Pass")
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP", 6, 17, 132)
PERFORMANCE_HINTS = ("AssumeNeededOnEveryNode",)
META_FIELDS = {"name", "namespace", "labels", "annotations", "generateName", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "ownerReferences", "finalizers", "managedFields"}
POLICY_FIELDS = {"order", "tier", "selector", "types", "ingress", "egress", "serviceAccountSelector",
                 "performanceHints"}
SPEC_FIELDS = {
    "GlobalNetworkPolicy": POLICY_FIELDS | {"doNotTrack", "preDNAT", "applyOnForward", "namespaceSelector"},
    "NetworkPolicy": POLICY_FIELDS,
    "GlobalNetworkSet": {"nets"},
    "NetworkSet": {"nets"},
    "HostEndpoint": {"node", "interfaceName", "expectedIPs", "profiles", "ports"},
}
RULE_FIELDS = {"action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion", "source", "destination",
               "http", "metadata"}
ENTITY_FIELDS = {"nets", "notNets", "selector", "notSelector", "ports", "notPorts", "namespaceSelector",
                 "serviceAccounts", "services"}

# Fields of the kinds we write that not every Calico v3 release has: the first release whose v3 API types
# (api/pkg/apis/projectcalico/v3) carry them. Every other field is in every release since v3.22.
FIELD_SINCE = {
    "performanceHints": ((3, 27, 0), "spec.performanceHints"),  # calico PR 7963
    "tier": ((3, 29, 0), "spec.tier"),  # calico PR 9085, tiered policy in Calico Open Source
}


JSON_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list",
              dict: "a mapping", type(None): "null"}


def text(value) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


class Problems:
    """The problems of one resource, each naming the field and the offending value."""

    def __init__(self, where: str):
        self.where = where
        self.errors: list[str] = []

    def add(self, field: str, value, problem: str) -> None:
        self.errors.append(f"{self.where}: {field} {text(value)} {problem}")

    def note(self, field: str, problem: str) -> None:
        self.errors.append(f"{self.where}: {field} {problem}")

    def of_type(self, field: str, value, kind) -> bool:
        """Whether value has the JSON type calicoctl decodes the field into; reports it otherwise."""
        names = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false", int: "an integer",
                 float: "a number"}
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            wanted = "a number" if float in kinds else " or ".join(names[k] for k in kinds)
            self.add(field, value, f"must be {wanted}, not {JSON_TYPES.get(type(value), type(value).__name__)}")
        return ok

    def unknown(self, field: str, value: dict, known: set) -> None:
        extra = sorted(set(value) - known)
        if extra:
            self.note(field, f"has unknown field(s) {', '.join(extra)} (calicoctl refuses unknown fields)")


# --- small Calico and Kubernetes formats ------------------------------------------------------

def qualified_name_problem(key) -> str | None:
    """Kubernetes IsQualifiedName: an optional DNS subdomain prefix and '/', then a name of 63 at most."""
    if not isinstance(key, str):
        return "must be a string"
    prefix, name = key.rsplit("/", 1) if "/" in key else ("", key)
    if "/" in prefix:
        return "has more than one '/'"
    if "/" in key and (not prefix or len(prefix) > NAME_LIMIT or not SUBDOMAIN_NAME.match(prefix)):
        return "has a prefix that is not a DNS subdomain (lowercase alphanumerics, '-' and '.')"
    if not name or len(name) > 63 or not QUALIFIED_PART.match(name):
        return "is not a qualified name (63 characters at most: alphanumerics, '-', '_' or '.', " \
               "starting and ending with an alphanumeric)"
    return None


def label_value_problem(value) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if value and (len(value) > 63 or not QUALIFIED_PART.match(value)):
        return "is not a label value (63 characters at most: alphanumerics, '-', '_' or '.', " \
               "starting and ending with an alphanumeric)"
    return None


def port_name_problem(name: str) -> str | None:
    """Kubernetes IsValidPortName (IANA service name), which every named port of an endpoint must be."""
    if not 1 <= len(name) <= 15:
        return "is not a port name: 1 to 15 characters"
    if not PORT_NAME_CHARS.match(name):
        return "is not a port name: lowercase alphanumerics and '-' only"
    if not re.search(r"[a-z]", name):
        return "is not a port name: it needs at least one letter"
    if "--" in name or name.startswith("-") or name.endswith("-"):
        return "is not a port name: no '--' and no '-' at either end"
    return None


def port_problem(port) -> str | None:
    """A rule's port: a number 1-65535, a range 'a:b' of such numbers with a <= b, or a named port."""
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        return "is not a port: use a number, a range 'a:b' or a port name"
    if isinstance(port, int):
        return None if 1 <= port <= 65535 else "is not a port 1-65535"
    if port.isdigit():
        return None if 1 <= int(port) <= 65535 else "is not a port 1-65535"
    found = PORT_RANGE.match(port)
    if found:
        low, high = int(found.group(1)), int(found.group(2))
        if not (1 <= low <= 65535 and 1 <= high <= 65535):
            return "is not a range of ports 1-65535 (0 is not a port)"
        return None if low <= high else f"is a range whose start {low} is greater than its end {high}"
    if not NAMED_PORT.match(port):
        return "is not a port number, range 'a:b' or port name"
    problem = port_name_problem(port)
    if problem and re.fullmatch(r"\d+-\d+", port):
        problem += f" (a range is written {port.replace('-', ':')})"
    return problem


def parse_rule_net(net) -> tuple[int | None, str | None]:
    """(IP version, problem) of a rule's net: a CIDR with its prefix length and no host bits set."""
    if not isinstance(net, str):
        return None, "is not a CIDR string"
    address, slash, prefix = net.partition("/")
    if not slash:
        return None, f"is an address, not a CIDR: write {net}/{128 if ':' in net else 32}"
    if not prefix.isdigit() or "%" in address:
        return None, "is not a CIDR"
    try:
        interface = ipaddress.ip_interface(net)
    except ValueError:
        return None, "is not a CIDR"
    if interface.ip != interface.network.network_address:
        return interface.version, f"has host bits set: the network is {interface.network}"
    return interface.version, None


def set_net_problem(net) -> str | None:
    """A network set's net: a CIDR or an address (v3.28 does not require the host bits to be clear)."""
    if not isinstance(net, str) or "%" in net:
        return "is not a CIDR or IP address"
    address, slash, prefix = net.partition("/")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return "is not a CIDR or IP address"
    if slash and (not prefix.isdigit() or int(prefix) > (128 if ":" in address else 32)):
        return "is not a CIDR or IP address"
    return None


def protocol_value(value):
    """The protocol as calicoctl decodes it: a name, or a number for a number or a string of digits."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def protocol_problem(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return "is not a protocol"
    value = protocol_value(value)
    if isinstance(value, int):
        return None if 1 <= value <= 255 else "is not a protocol number 1-255"
    if value not in PROTOCOLS:
        return f"is not one of {', '.join(PROTOCOLS)} (case-sensitive) or a number 1-255"
    return None


def selector_checked(problems: Problems, field: str, value) -> bool:
    problem = selector_problem(value)
    if problem:
        problems.add(field, value, problem)
    return problem is None


def no_global(problems: Problems, field: str, value) -> None:
    """global() is only for a rule's namespaceSelector."""
    if isinstance(value, str) and "global()" in value.replace(" ", ""):
        problems.add(field, value, "uses global(), which only a rule's source or destination namespaceSelector "
                                   "may use")


# --- metadata ---------------------------------------------------------------------------------

def name_errors(problems: Problems, kind: str, name) -> None:
    if not isinstance(name, str) or not name:
        problems.note("metadata.name", "is required (a string)")
        return
    if kind == "GlobalNetworkPolicy":
        ok, rule = LABEL_NAME.match(name), f"lowercase alphanumerics or '-', no dots (regex {LABEL})"
    elif kind == "NetworkPolicy":
        ok = LABEL_NAME.match(name) or K8S_POLICY_NAME.match(name)
        rule = f"lowercase alphanumerics or '-', no dots (regex {LABEL})"
    else:
        ok, rule = SUBDOMAIN_NAME.match(name), f"lowercase alphanumerics, '-' or '.' (regex {SUBDOMAIN})"
    if not ok:
        problems.add("metadata.name", name, f"must be {rule}")
    limit = NAME_LIMIT
    if KINDS[kind][2] and not name.startswith(("knp.", "ossg.")):
        limit -= len(STORAGE_PREFIX)  # stored as default.<name>, which must fit Kubernetes' limit
    if len(name) > limit:
        problems.add("metadata.name", name[:20] + "...", f"is {len(name)} characters, {len(name) - limit} over "
                                                         f"the {limit} that fit the stored name")


def metadata_errors(problems: Problems, kind: str, meta: dict) -> None:
    problems.unknown("metadata", meta, META_FIELDS)
    name_errors(problems, kind, meta.get("name"))
    namespace, namespaced = meta.get("namespace"), KINDS[kind][1]
    if namespaced and not namespace:
        problems.note("metadata.namespace", f"is required for a {kind}")
    elif not namespaced and namespace:
        problems.add("metadata.namespace", namespace, f"is not allowed: {kind} is cluster-wide")
    elif namespace and (not isinstance(namespace, str) or len(namespace) > 63 or not LABEL_NAME.match(namespace)):
        problems.add("metadata.namespace", namespace, "is not a namespace name (a DNS label)")
    labels = meta.get("labels") or {}
    if problems.of_type("metadata.labels", labels, dict):
        for key, value in labels.items():
            if qualified_name_problem(key):
                problems.add("metadata.labels key", key, qualified_name_problem(key))
            if label_value_problem(value):
                problems.add(f"metadata.labels.{key}", value, label_value_problem(value))
        if kind in ("GlobalNetworkSet", "NetworkSet") and "projectcalico.org/namespace" in labels:
            problems.note("metadata.labels", "must not use 'projectcalico.org/namespace': Calico sets it itself")
    annotation_errors(problems, "metadata.annotations", meta.get("annotations") or {})


def annotation_errors(problems: Problems, field: str, annotations) -> None:
    if not problems.of_type(field, annotations, dict):
        return
    size = 0
    for key, value in annotations.items():
        problem = qualified_name_problem(key.lower() if isinstance(key, str) else key)
        if problem:
            problems.add(f"{field} key", key, problem)
        if not isinstance(value, str):
            problems.add(f"{field}.{key}", value, "must be a string")
        size += len(str(key)) + len(str(value))
    if size > ANNOTATIONS_LIMIT:
        problems.note(field, f"total {size} bytes, over the {ANNOTATIONS_LIMIT} allowed")


# --- policies ---------------------------------------------------------------------------------

def policy_errors(problems: Problems, kind: str, spec: dict) -> None:
    if "order" in spec and spec["order"] is not None:
        problems.of_type("spec.order", spec["order"], (int, float))
    for field in ("selector", "serviceAccountSelector", "namespaceSelector"):
        if spec.get(field) is not None and selector_checked(problems, f"spec.{field}", spec[field]):
            no_global(problems, f"spec.{field}", spec[field])
    if spec.get("tier") is not None and problems.of_type("spec.tier", spec["tier"], str):
        if not LABEL_NAME.match(spec["tier"]):
            problems.add("spec.tier", spec["tier"], f"is not a tier name (regex {LABEL})")
    types = spec.get("types") or []
    if problems.of_type("spec.types", types, list):
        for value in types:
            if value not in ("Ingress", "Egress"):
                problems.add("spec.types", value, "is not Ingress or Egress (case-sensitive)")
        for value in sorted({t for t in types if types.count(t) > 1 and isinstance(t, str)}):
            problems.add("spec.types", value, "is given more than once")
    hints = spec.get("performanceHints") or []
    if problems.of_type("spec.performanceHints", hints, list):
        for value in hints:
            if value not in PERFORMANCE_HINTS:
                problems.add("spec.performanceHints", value, f"is not one of {', '.join(PERFORMANCE_HINTS)}")
        if len(set(map(str, hints))) != len(hints):
            problems.add("spec.performanceHints", hints, "has repeated values")
    for flag in ("doNotTrack", "preDNAT", "applyOnForward"):
        if spec.get(flag) is not None:
            problems.of_type(f"spec.{flag}", spec[flag], bool)
    if spec.get("preDNAT") is True:
        if spec.get("applyOnForward") is not True:
            problems.note("spec.applyOnForward", "must be true: preDNAT policies need spec.applyOnForward: true")
        if spec.get("egress") or "Egress" in types:
            problems.note("spec.egress", "is not allowed: preDNAT policies apply to ingress only: remove egress "
                                         "rules and the Egress type")
        if spec.get("doNotTrack") is True:
            problems.note("spec.preDNAT", "and spec.doNotTrack cannot both be true: preDNAT and doNotTrack "
                                          "cannot both be set")
    if spec.get("doNotTrack") is True and spec.get("applyOnForward") is not True:
        problems.note("spec.applyOnForward", "must be true: doNotTrack policies need spec.applyOnForward: true")
    for direction in ("ingress", "egress"):
        rules = spec.get(direction) or []
        if not problems.of_type(f"spec.{direction}", rules, list):
            continue
        for number, rule in enumerate(rules):
            field = f"spec.{direction}[{number}]"
            if problems.of_type(field, rule, dict):
                rule_errors(problems, field, rule, direction, kind)


def rule_errors(problems: Problems, field: str, rule: dict, direction: str, kind: str) -> None:
    problems.unknown(field, rule, RULE_FIELDS)
    action = rule.get("action")
    if action not in ACTIONS:
        problems.add(f"{field}.action", action, f"is not one of {', '.join(ACTIONS)} (case-sensitive)")
    protocols = {}
    for name in ("protocol", "notProtocol"):
        if rule.get(name) is not None:
            problem = protocol_problem(rule[name])
            if problem:
                problems.add(f"{field}.{name}", rule[name], problem)
            else:
                protocols[name] = protocol_value(rule[name])
    protocol = protocols.get("protocol")
    version = rule.get("ipVersion")
    if version is not None and version not in (4, 6) or isinstance(version, bool):
        problems.add(f"{field}.ipVersion", version, "must be 4 or 6")
        version = None
    for name in ("icmp", "notICMP"):
        if rule.get(name) is not None:
            icmp_errors(problems, f"{field}.{name}", rule[name], protocol)
    for name, family, wanted in (("ICMP", "ICMP", 4), ("ICMPv6", "ICMPv6", 6)):
        if name in protocols.values() and version is not None and version != wanted:
            problems.add(f"{field}.ipVersion", version, f"must be {wanted} with protocol {family}")
    sides = {}
    for side in ("source", "destination"):
        entity = rule.get(side) if rule.get(side) is not None else {}
        if problems.of_type(f"{field}.{side}", entity, dict):
            sides[side] = entity
            entity_errors(problems, f"{field}.{side}", entity, protocol)
    nets_errors(problems, field, sides, version)
    services_errors(problems, field, sides, direction, kind)
    http = rule.get("http")
    if http is not None:
        http_errors(problems, f"{field}.http", http, rule, direction)
    if rule.get("metadata") is not None and problems.of_type(f"{field}.metadata", rule["metadata"], dict):
        problems.unknown(f"{field}.metadata", rule["metadata"], {"annotations"})
        annotation_errors(problems, f"{field}.metadata.annotations", rule["metadata"].get("annotations") or {})


def icmp_errors(problems: Problems, field: str, icmp, protocol) -> None:
    if not problems.of_type(field, icmp, dict):
        return
    problems.unknown(field, icmp, {"type", "code"})
    for name, high in (("type", 254), ("code", 255)):
        value = icmp.get(name)
        if value is not None and problems.of_type(f"{field}.{name}", value, int) and not 0 <= value <= high:
            problems.add(f"{field}.{name}", value, f"is not an ICMP {name} 0-{high}")
    if icmp.get("code") is not None and icmp.get("type") is None:
        problems.add(f"{field}.code", icmp["code"], "needs an ICMP type: the kernel matches a code only with its "
                                                    "type")
    if protocol not in ("ICMP", "ICMPv6"):
        problems.note(field, f"needs protocol ICMP or ICMPv6 (protocol is {text(protocol) if protocol else 'not set'})")


def entity_errors(problems: Problems, field: str, entity: dict, protocol) -> None:
    problems.unknown(field, entity, ENTITY_FIELDS)
    for name in ("selector", "notSelector", "namespaceSelector"):
        if entity.get(name) is not None:
            selector_checked(problems, f"{field}.{name}", entity[name])
    if isinstance(entity.get("selector"), str):
        no_global(problems, f"{field}.selector", entity["selector"])
    namespace_selector = entity.get("namespaceSelector")
    if isinstance(namespace_selector, str) and not selector_problem(namespace_selector) \
            and global_use(namespace_selector) == "combined":
        problems.add(f"{field}.namespaceSelector", namespace_selector, "combines global() with other selectors: "
                                                                       "global() must stand alone")
    for name in ("ports", "notPorts"):
        ports = entity.get(name)
        if not ports or not problems.of_type(f"{field}.{name}", ports, list):
            continue
        if protocol not in PORT_PROTOCOLS:
            problems.note(f"{field}.{name}", f"need protocol TCP, UDP or SCTP (protocol is "
                                             f"{text(protocol) if protocol else 'not set'})")
        for port in ports:
            if port_problem(port):
                problems.add(f"{field}.{name}", port, port_problem(port))
    accounts = entity.get("serviceAccounts")
    if accounts is not None and problems.of_type(f"{field}.serviceAccounts", accounts, dict):
        problems.unknown(f"{field}.serviceAccounts", accounts, {"names", "selector"})
        names = accounts.get("names") or []
        if problems.of_type(f"{field}.serviceAccounts.names", names, list):
            for name in names:
                problems.of_type(f"{field}.serviceAccounts.names", name, str)
        if accounts.get("selector") is not None:
            selector_checked(problems, f"{field}.serviceAccounts.selector", accounts["selector"])


def nets_errors(problems: Problems, field: str, sides: dict, version) -> None:
    """Nets are CIDRs without host bits; one rule is IPv4 or IPv6, matching its ipVersion."""
    seen: set[int] = set()
    for side, entity in sides.items():
        for name in ("nets", "notNets"):
            nets = entity.get(name) or []
            if not problems.of_type(f"{field}.{side}.{name}", nets, list):
                continue
            versions = set()
            for net in nets:
                net_version, problem = parse_rule_net(net)
                if problem:
                    problems.add(f"{field}.{side}.{name}", net, problem)
                if net_version and not (problem and "host bits" not in problem):
                    versions.add(net_version)
            if version is not None and versions - {version}:
                problems.add(f"{field}.{side}.{name}", nets, f"do not match the rule's ipVersion {version}")
            if versions and len(versions | seen) > 1:
                problems.add(f"{field}.{side}.{name}", nets, "mixes IPv4 and IPv6 nets in one rule; use one rule "
                                                             "per IP version")
            seen |= versions


def services_errors(problems: Problems, field: str, sides: dict, direction: str, kind: str) -> None:
    for side, entity in sides.items():
        services = entity.get("services")
        if services is None or not problems.of_type(f"{field}.{side}.services", services, dict):
            continue
        where = f"{field}.{side}.services"
        problems.unknown(where, services, {"name", "namespace"})
        if not services.get("name"):
            problems.note(f"{where}.name", "is required")
        for name in ("name", "namespace"):
            value = services.get(name)
            if value and (not isinstance(value, str) or not SUBDOMAIN_NAME.match(value)):
                problems.add(f"{where}.{name}", value, "is not a Kubernetes name")
        for other in ("namespaceSelector", "selector", "notSelector", "serviceAccounts", "nets", "notNets"):
            if entity.get(other):
                problems.note(where, f"cannot be combined with {side}.{other} in one rule")
        if side == "destination":
            for other in ("ports", "notPorts"):
                if entity.get(other):
                    problems.note(where, f"cannot be combined with destination.{other}: a service's ports "
                                         "come from its endpoints")
        if (direction, side) == ("egress", "source"):
            problems.note(where, "is not allowed in an egress rule's source")
        elif (direction, side) == ("ingress", "destination"):
            problems.note(where, "is not allowed in an ingress rule's destination")
        elif kind == "GlobalNetworkPolicy" and not services.get("namespace"):
            problems.note(f"{where}.namespace", "is required in a GlobalNetworkPolicy")


def http_errors(problems: Problems, field: str, http, rule: dict, direction: str) -> None:
    if not problems.of_type(field, http, dict):
        return
    problems.unknown(field, http, {"methods", "paths"})
    if rule.get("protocol") is not None and rule.get("protocol") != "TCP":
        problems.add(f"{field.rsplit('.', 1)[0]}.protocol", rule["protocol"], "must be TCP or unset with http")
    if rule.get("action") != "Allow":
        problems.note(field, "is only allowed in Allow rules")
    if direction == "egress":
        problems.note(field, "is not allowed in egress rules")
    methods = http.get("methods") or []
    if problems.of_type(f"{field}.methods", methods, list) and len(set(map(str, methods))) != len(methods):
        problems.add(f"{field}.methods", methods, "has duplicates")
    paths = http.get("paths") or []
    if not problems.of_type(f"{field}.paths", paths, list):
        return
    for number, path in enumerate(paths):
        where = f"{field}.paths[{number}]"
        if not problems.of_type(where, path, dict):
            continue
        problems.unknown(where, path, {"exact", "prefix"})
        if path.get("exact") and path.get("prefix"):
            problems.note(where, "sets both exact and prefix: set one")
            continue
        value = path.get("exact") or path.get("prefix")
        if not value:
            problems.note(where, "needs exact or prefix")
        elif not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "? #"):
            problems.add(where, value, "must start with '/' and contain no '?', '#' or space")


# --- other kinds ------------------------------------------------------------------------------

def network_set_errors(problems: Problems, spec: dict) -> None:
    nets = spec.get("nets") or []
    if problems.of_type("spec.nets", nets, list):
        for net in nets:
            if set_net_problem(net):
                problems.add("spec.nets", net, set_net_problem(net))


def host_endpoint_errors(problems: Problems, spec: dict) -> None:
    node = spec.get("node")
    if not node:
        problems.note("spec.node", "is required")
    elif not isinstance(node, str) or not SUBDOMAIN_NAME.match(node):
        problems.add("spec.node", node, "is not a node name")
    interface, ips = spec.get("interfaceName"), spec.get("expectedIPs") or []
    if not interface and not ips:
        problems.note("spec", "needs interfaceName or expectedIPs (or both)")
    if interface and (not isinstance(interface, str) or (interface != "*" and not INTERFACE.match(interface))):
        problems.add("spec.interfaceName", interface, "is not '*' or an interface name (15 characters at most: "
                                                      "alphanumerics, '_', '.' or '-')")
    if problems.of_type("spec.expectedIPs", ips, list):
        for ip in ips:
            try:
                ipaddress.ip_address(ip if isinstance(ip, str) and "%" not in ip else "")
            except ValueError:
                problems.add("spec.expectedIPs", ip, "is not an IP address")
    profiles = spec.get("profiles") or []
    if problems.of_type("spec.profiles", profiles, list):
        for profile in profiles:
            if not isinstance(profile, str) or not SUBDOMAIN_NAME.match(profile):
                problems.add("spec.profiles", profile, "is not a profile name")
    ports = spec.get("ports") or []
    if not problems.of_type("spec.ports", ports, list):
        return
    for number, port in enumerate(ports):
        where = f"spec.ports[{number}]"
        if not problems.of_type(where, port, dict):
            continue
        problems.unknown(where, port, {"name", "protocol", "port"})
        name = port.get("name")
        if not isinstance(name, str) or port_name_problem(name):
            problems.add(f"{where}.name", name, port_name_problem(name) if isinstance(name, str) else "is required")
        protocol = port.get("protocol")
        if protocol_problem(protocol) or protocol_value(protocol) not in PORT_PROTOCOLS:
            problems.add(f"{where}.protocol", protocol, "must be TCP, UDP or SCTP")
        number_ = port.get("port")
        if isinstance(number_, bool) or not isinstance(number_, int) or not 1 <= number_ <= 65535:
            problems.add(f"{where}.port", number_, "is not a port 1-65535")


# --- entry points -----------------------------------------------------------------------------

def one_resource_errors(resource, index: int) -> list[str]:
    """Every problem Calico has with one v3 resource, each naming the field and the value."""
    if not isinstance(resource, dict):
        return [f"resource #{index + 1}: must be a mapping (a Calico resource), got {text(resource)}"]
    kind = resource.get("kind")
    meta = resource.get("metadata") if isinstance(resource.get("metadata"), dict) else {}
    problems = Problems(f"resource #{index + 1} ({kind} {meta.get('name')})")
    if resource.get("apiVersion") == "v1" and kind == "policy":
        return [f"{problems.where}: this is the Calico v1 format (apiVersion v1, kind policy) of older docs such as "
                f"IKS's; Calico v3 reads it as {json.dumps(from_v1_policy(resource), separators=(',', ':'))}"]
    if resource.get("apiVersion") != V3:
        problems.add("apiVersion", resource.get("apiVersion"), f"must be {V3}")
        return problems.errors
    if kind not in KINDS:
        problems.add("kind", kind, f"must be one of {', '.join(KINDS)}")
        return problems.errors
    problems.unknown("the resource", resource, {"apiVersion", "kind", "metadata", "spec"})
    if not problems.of_type("metadata", resource.get("metadata"), dict):
        return problems.errors
    metadata_errors(problems, kind, meta)
    spec = resource.get("spec") if resource.get("spec") is not None else {}
    if not problems.of_type("spec", spec, dict):
        return problems.errors
    problems.unknown("spec", spec, SPEC_FIELDS[kind])
    if KINDS[kind][2]:
        policy_errors(problems, kind, spec)
    elif kind == "HostEndpoint":
        host_endpoint_errors(problems, spec)
    else:
        network_set_errors(problems, spec)
    return problems.errors


def write_errors(resource: dict, index: int) -> list[str]:
    """What this collection does not write although Calico may accept it."""
    kind, meta = resource.get("kind"), resource.get("metadata") or {}
    where = f"resource #{index + 1} ({kind} {meta.get('name')})"
    errors = []
    if kind == "NetworkPolicy" and str(meta.get("name", "")).startswith(("knp.", "ossg.")):
        errors.append(f"{where}: metadata.name '{meta['name']}' is the Calico view of a Kubernetes NetworkPolicy "
                      f"(knp.) or an OpenStack security group (ossg.): change that object, not its Calico view")
    tier = (resource.get("spec") or {}).get("tier")
    if KINDS.get(kind, (0, 0, False))[2] and tier not in (None, "default"):
        errors.append(f"{where}: spec.tier '{tier}' is not supported: this collection stores policies in the "
                      f"default tier only")
    return errors


def resource_errors(resources: list) -> list[str]:
    """Every problem Calico (or this collection) has with the resources, before anything is read or written."""
    errors = []
    for index, resource in enumerate(resources):
        found = one_resource_errors(resource, index)
        errors += found or write_errors(resource, index)
    seen = set()
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        meta = resource.get("metadata") if isinstance(resource.get("metadata"), dict) else {}
        key = (resource.get("kind"), meta.get("namespace"), meta.get("name"))
        if key in seen:
            errors.append(f"{key[0]} {key[2]} is given twice")
        seen.add(key)
    if not resources:
        errors.append("no resources given (definition)")
    return errors


def parse_version(version: str) -> tuple[int, ...] | None:
    found = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    return tuple(int(part or 0) for part in found.groups()) if found else None


def version_errors(resources: list[dict], version: str) -> list[str]:
    """Fields the cluster's Calico release does not have (its v3 API lacks them, so calicoctl refuses them and
    the CRD drops them); nothing when the version is unknown."""
    have = parse_version(version)
    if have is None:
        return []
    errors = []
    for index, resource in enumerate(resources):
        spec = resource.get("spec") or {}
        for field, (since, path) in FIELD_SINCE.items():
            if field in spec and KINDS[resource["kind"]][2] and have < since:
                errors.append(f"resource #{index + 1} ({resource['kind']} {resource['metadata']['name']}): {path} "
                              f"{text(spec[field])} is not known to Calico {version}, the version of this cluster "
                              f"(ClusterInformation default): it appeared in v{'.'.join(map(str, since))}")
    return errors


def enforced(policies: list[dict]) -> tuple[list[dict], list[tuple[dict, list[str]]]]:
    """The live policies Felix enforces, and those it ignores as invalid (with why): Felix treats a policy
    that fails validation as missing."""
    valid, invalid = [], []
    for index, policy in enumerate(policies):
        errors = one_resource_errors(policy, index)
        if errors:
            invalid.append((policy, errors))
        else:
            valid.append(policy)
    return valid, invalid
