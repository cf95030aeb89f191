# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico resources: validation that mirrors libcalico-go's, Calico's defaulting, and storage the way
calicoctl stores them with the Kubernetes datastore.

calicoctl (Calico v3.28, the version pinned by the test cluster) writes a projectcalico.org/v3 resource as a
crd.projectcalico.org/v1 object: policy names get the tier prefix ``default.``, the v3 metadata (labels,
annotations, creationTimestamp) goes into the ``projectcalico.org/metadata`` annotation, and the spec is kept
as is after defaulting (``types`` from the rules present).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.selector import selector_problem
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.errors import SecureClusterError

V3 = "projectcalico.org/v3"
CRD = "crd.projectcalico.org/v1"
METADATA_ANNOTATION = "projectcalico.org/metadata"
KINDS = {  # kind -> (plural, namespaced, policy)
    "GlobalNetworkPolicy": ("globalnetworkpolicies", False, True),
    "NetworkPolicy": ("networkpolicies", True, True),
    "GlobalNetworkSet": ("globalnetworksets", False, False),
    "NetworkSet": ("networksets", True, False),
    "HostEndpoint": ("hostendpoints", False, False),
}
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
ACTIONS = ("Allow", "Deny", "Log", "Pass")
PROTOCOLS = ("TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite")
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP", 6, 17, 132)
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class CalicoError(SecureClusterError):
    """A resource Calico would reject (or this collection refuses)."""


# --- validation ------------------------------------------------------------------------------

def port_error(port) -> str | None:
    if isinstance(port, bool):
        return "is not a port"
    if isinstance(port, int):
        return None if 0 <= port <= 65535 else "is out of range 0-65535"
    text = str(port)
    if ":" in text:
        low, high = text.split(":", 1)
        if not (low.isdigit() and high.isdigit()):
            return "is not a range like 20000:32767"
        if int(low) > int(high):
            return f"is a range whose start {low} is greater than its end {high}"
        if int(high) > 65535:
            return "is out of range 0-65535"
        return None
    if text.isdigit():
        return None if int(text) <= 65535 else "is out of range 0-65535"
    return None if PORT_NAME.match(text) and len(text) <= 15 else "is not a port number, range or port name"


def selector_error(selector) -> str | None:
    """Calico's selector grammar, parsed as libcalico-go parses it (calico.selector)."""
    return selector_problem(selector)


def nets_versions(nets, where: str, errors: list[str]) -> set[int]:
    versions = set()
    for net in nets or []:
        try:
            versions.add(ipaddress.ip_network(net, strict=False).version)
        except (ValueError, TypeError):
            errors.append(f"{where}: '{net}' is not a valid CIDR")
    return versions


def rule_errors(rule: dict, where: str) -> list[str]:
    errors = []
    if not isinstance(rule, dict):
        return [f"{where}: must be a mapping"]
    unknown = sorted(set(rule) - RULE_FIELDS)
    if unknown:
        errors.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    if rule.get("action") not in ACTIONS:
        errors.append(f"{where}.action '{rule.get('action')}' is not one of {', '.join(ACTIONS)} (case-sensitive)")
    for field in ("protocol", "notProtocol"):
        value = rule.get(field)
        if value is not None and value not in PROTOCOLS and not (isinstance(value, int) and 1 <= value <= 255):
            errors.append(f"{where}.{field} '{value}' is not one of {', '.join(PROTOCOLS)} or 1-255 (case-sensitive)")
    if rule.get("ipVersion") not in (None, 4, 6):
        errors.append(f"{where}.ipVersion must be 4 or 6")
    versions = set()
    for side in ("source", "destination"):
        entity = rule.get(side) or {}
        if not isinstance(entity, dict):
            errors.append(f"{where}.{side}: must be a mapping")
            continue
        unknown = sorted(set(entity) - ENTITY_FIELDS)
        if unknown:
            errors.append(f"{where}.{side}: unknown field(s) {', '.join(unknown)}")
        for field in ("nets", "notNets"):
            versions |= nets_versions(entity.get(field), f"{where}.{side}.{field}", errors)
        for field in ("selector", "notSelector", "namespaceSelector"):
            if field in entity and selector_error(entity[field]):
                errors.append(f"{where}.{side}.{field} '{entity[field]}' {selector_error(entity[field])}")
        for field in ("ports", "notPorts"):
            if entity.get(field):
                if rule.get("protocol") not in PORT_PROTOCOLS:
                    errors.append(f"{where}.{side}.{field}: ports need protocol TCP, UDP or SCTP "
                                  f"(protocol is {rule.get('protocol') or 'not set'})")
                for port in entity[field]:
                    if port_error(port):
                        errors.append(f"{where}.{side}.{field}: '{port}' {port_error(port)}")
    if len(versions) > 1:
        errors.append(f"{where}: mixes IPv4 and IPv6 nets; use one rule per IP version")
    if rule.get("ipVersion") and versions and versions != {rule["ipVersion"]}:
        errors.append(f"{where}: ipVersion {rule['ipVersion']} does not match its nets")
    return errors


def one_resource_errors(resource: dict, index: int) -> list[str]:
    """Every problem with one resource, each naming the field."""
    kind = resource.get("kind")
    name = (resource.get("metadata") or {}).get("name")
    where = f"resource #{index + 1} ({kind} {name})"
    if resource.get("apiVersion") == "v1" and kind == "policy":
        return [f"{where}: this is the Calico v1 format (apiVersion v1, kind policy) of older docs such as IKS's; "
                f"Calico v3 reads it as {json.dumps(from_v1_policy(resource), separators=(',', ':'))}"]
    if resource.get("apiVersion") != V3:
        return [f"{where}: apiVersion must be {V3} (got {resource.get('apiVersion')})"]
    if kind not in KINDS:
        return [f"{where}: kind must be one of {', '.join(KINDS)}"]
    errors = []
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 253:
        errors.append(f"{where}: metadata.name must be lowercase alphanumerics, '-' or '.'")
    namespaced = KINDS[kind][1]
    if namespaced and not resource["metadata"].get("namespace"):
        errors.append(f"{where}: metadata.namespace is required")
    if not namespaced and resource["metadata"].get("namespace"):
        errors.append(f"{where}: {kind} is cluster-wide and takes no metadata.namespace")
    unknown = sorted(set(resource) - {"apiVersion", "kind", "metadata", "spec"})
    if unknown:
        errors.append(f"{where}: unknown top-level field(s) {', '.join(unknown)}")
    spec = resource.get("spec") or {}
    unknown = sorted(set(spec) - SPEC_FIELDS[kind])
    if unknown:
        errors.append(f"{where}: unknown spec field(s) {', '.join(unknown)}")
    if KINDS[kind][2]:
        errors.extend(policy_errors(spec, where))
    elif kind in ("GlobalNetworkSet", "NetworkSet"):
        nets_versions(spec.get("nets"), f"{where}: spec.nets", errors)
    else:
        for ip in spec.get("expectedIPs") or []:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                errors.append(f"{where}: spec.expectedIPs '{ip}' is not an IP address")
        if not spec.get("node"):
            errors.append(f"{where}: spec.node is required")
    return errors


V1_ACTIONS = {"allow": "Allow", "deny": "Deny", "log": "Log", "next-tier": "Pass", "pass": "Pass"}
V1_PROTOCOLS = {p.lower(): p for p in PROTOCOLS}


def from_v1_policy(resource: dict) -> dict:
    """The projectcalico.org/v3 GlobalNetworkPolicy for a Calico v1 ``policy`` (what calicoctl convert gives)."""
    spec = copy.deepcopy(resource.get("spec") or {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            if isinstance(rule.get("action"), str):
                rule["action"] = V1_ACTIONS.get(rule["action"].lower(), rule["action"])
            for field in ("protocol", "notProtocol"):
                if isinstance(rule.get(field), str):
                    rule[field] = V1_PROTOCOLS.get(rule[field].lower(), rule[field])
            for side in ("source", "destination"):
                entity = rule.get(side) or {}
                for single, plural in (("net", "nets"), ("notNet", "notNets")):
                    if single in entity:
                        entity.setdefault(plural, []).append(entity.pop(single))
    if spec.get("preDNAT") or spec.get("doNotTrack"):
        spec["applyOnForward"] = True
    name = (resource.get("metadata") or {}).get("name")
    return with_defaults({"apiVersion": V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": name}, "spec": spec})


def policy_errors(spec: dict, where: str) -> list[str]:
    errors = []
    for field in ("selector", "serviceAccountSelector", "namespaceSelector"):
        if field in spec and selector_error(spec[field]):
            errors.append(f"{where}: spec.{field} '{spec[field]}' {selector_error(spec[field])}")
    for value in spec.get("types") or []:
        if value not in ("Ingress", "Egress"):
            errors.append(f"{where}: spec.types '{value}' is not Ingress or Egress (case-sensitive)")
    if spec.get("preDNAT"):
        if not spec.get("applyOnForward"):
            errors.append(f"{where}: preDNAT policies need spec.applyOnForward: true")
        if spec.get("egress") or "Egress" in (spec.get("types") or []):
            errors.append(f"{where}: preDNAT policies apply to ingress only: remove egress rules and the Egress type")
        if spec.get("doNotTrack"):
            errors.append(f"{where}: preDNAT and doNotTrack cannot both be set")
    if spec.get("doNotTrack") and not spec.get("applyOnForward"):
        errors.append(f"{where}: doNotTrack policies need spec.applyOnForward: true")
    for direction in ("ingress", "egress"):
        for number, rule in enumerate(spec.get(direction) or []):
            errors.extend(rule_errors(rule, f"{where}: spec.{direction}[{number}]"))
    return errors


# --- conversion ------------------------------------------------------------------------------

def with_defaults(resource: dict) -> dict:
    """The resource as Calico stores it: policy ``types`` defaulted from the rules present."""
    out = copy.deepcopy(resource)
    spec = out.setdefault("spec", {})
    if KINDS[out["kind"]][2] and not spec.get("types"):
        if not spec.get("egress"):
            spec["types"] = ["Ingress"]
        elif not spec.get("ingress"):
            spec["types"] = ["Egress"]
        else:
            spec["types"] = ["Ingress", "Egress"]
    return out


def storage_name(kind: str, name: str) -> str:
    """Policies live in the default tier: calicoctl stores them as default.<name>."""
    if KINDS[kind][2] and not name.startswith(("default.", "knp.", "ossg.")):
        return f"default.{name}"
    return name


def crd_path(kind: str, namespace: str | None, name: str | None = None) -> str:
    plural, namespaced, policy = KINDS[kind]
    scope = f"/namespaces/{namespace}" if namespaced else ""
    return f"/apis/{CRD}{scope}/{plural}" + (f"/{storage_name(kind, name)}" if name else "")


def to_crd(resource: dict, created: str) -> dict:
    """The crd.projectcalico.org/v1 object calicoctl would write for a (defaulted) v3 resource."""
    meta = resource["metadata"]
    v3_meta = {"creationTimestamp": created}
    for field in ("labels", "annotations"):
        if meta.get(field):
            v3_meta[field] = meta[field]
    crd_meta = {"name": storage_name(resource["kind"], meta["name"]),
                "annotations": {METADATA_ANNOTATION: json.dumps(v3_meta, separators=(",", ":"), sort_keys=False)}}
    # Labels and annotations Calico owns are also kept on the v1 object, as libcalico-go does.
    ours = {k: v for k, v in (meta.get("labels") or {}).items() if is_ours(k)}
    if ours:
        crd_meta["labels"] = ours
    crd_meta["annotations"].update({k: v for k, v in (meta.get("annotations") or {}).items() if is_ours(k)})
    if meta.get("namespace"):
        crd_meta["namespace"] = meta["namespace"]
    return {"apiVersion": CRD, "kind": resource["kind"], "metadata": crd_meta, "spec": resource.get("spec") or {}}


def from_crd(obj: dict) -> dict:
    """The v3 view of a stored object (what calicoctl get shows), without server-set fields."""
    annotations = obj["metadata"].get("annotations") or {}
    try:
        v3_meta = json.loads(annotations.get(METADATA_ANNOTATION) or "{}")
    except ValueError:
        v3_meta = {}
    name = obj["metadata"]["name"]
    if KINDS[obj["kind"]][2] and name.startswith("default."):
        name = name[len("default."):]
    meta = {"name": name}
    if obj["metadata"].get("namespace"):
        meta["namespace"] = obj["metadata"]["namespace"]
    # libcalico-go starts from the v1 labels and annotations and merges the annotation's values over them.
    labels = {**(obj["metadata"].get("labels") or {}), **(v3_meta.get("labels") or {})}
    annotations = {k: v for k, v in annotations.items() if k != METADATA_ANNOTATION}
    annotations.update(v3_meta.get("annotations") or {})
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": V3, "kind": obj["kind"], "metadata": meta, "spec": obj.get("spec") or {}}


def is_ours(key: str) -> bool:
    return "projectcalico.org/" in key or "operator.tigera.io/" in key


def same(desired: dict, live_v3: dict) -> bool:
    """Semantic equality of two v3 resources (Calico's defaults already filled in the desired one)."""
    return normalise(desired) == normalise(live_v3)


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


# --- applying --------------------------------------------------------------------------------

def resources_from(params: dict) -> list[dict]:
    definition = params.get("definition")
    if isinstance(definition, dict):
        return [definition]
    return [d for d in definition or [] if d]


def load_src(path: str) -> list[dict]:
    """The resources of a YAML file with one or more documents (as for calicoctl apply -f)."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise CalicoError("the Python library PyYAML is required to read 'src'") from None
    try:
        with open(path, encoding="utf-8") as handle:
            return [d for d in yaml.safe_load_all(handle) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise CalicoError(f"cannot read src '{path}': {exc}") from None


def resource_errors(resources: list[dict]) -> list[str]:
    """Every problem Calico (or this collection) has with the resources, before anything is read or written."""
    errors = [e for i, r in enumerate(resources) for e in one_resource_errors(r, i)]
    seen = set()
    for r in resources:
        key = (r.get("kind"), (r.get("metadata") or {}).get("namespace"), (r.get("metadata") or {}).get("name"))
        if key in seen:
            errors.append(f"{key[0]} {key[2]} is given twice")
        seen.add(key)
    if not resources:
        errors.append("no resources given (definition)")
    return errors
