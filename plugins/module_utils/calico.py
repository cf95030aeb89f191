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
import time

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import KubeError

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


class CalicoError(ValueError):
    """A resource Calico would reject (or this collection refuses); nothing was written."""


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
    """A light check of Calico's selector syntax: balanced quotes, parentheses and set braces, no operator
    without an operand."""
    if not isinstance(selector, str):
        return "must be a string"
    stack = []
    quote = None
    for char in selector:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "({":
            stack.append(char)
        elif char in ")}":
            if not stack or stack.pop() != {")": "(", "}": "{"}[char]:
                return f"has an unbalanced '{char}'"
    if quote:
        return "has an unterminated quote"
    if stack:
        return f"has an unclosed '{stack[-1]}'"
    if re.search(r"(&&|\|\|)\s*($|\)|&&|\|\|)", selector) or re.match(r"^\s*(&&|\|\|)", selector):
        return "has an operator without an operand"
    return None


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


def validate(resource: dict, index: int) -> list[str]:
    """Every problem with one resource, each naming the field."""
    kind = resource.get("kind")
    name = (resource.get("metadata") or {}).get("name")
    where = f"resource #{index + 1} ({kind} {name})"
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
    for field in ("labels", "annotations"):
        if v3_meta.get(field):
            meta[field] = v3_meta[field]
    return {"apiVersion": V3, "kind": obj["kind"], "metadata": meta, "spec": obj.get("spec") or {}}


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


def check_all(resources: list[dict]) -> None:
    errors = [e for i, r in enumerate(resources) for e in validate(r, i)]
    seen = set()
    for r in resources:
        key = (r.get("kind"), (r.get("metadata") or {}).get("namespace"), (r.get("metadata") or {}).get("name"))
        if key in seen:
            errors.append(f"{key[0]} {key[2]} is given twice")
        seen.add(key)
    if not resources:
        errors.append("no resources given (definition)")
    if errors:
        raise CalicoError("; ".join(errors))


def apply(kube, resources: list[dict], state: str, check_mode: bool) -> list[dict]:
    """Create, replace or delete each resource as needed; one GET each, a write only when it differs."""
    results = []
    for resource in resources:
        desired = with_defaults(resource)
        kind, meta = desired["kind"], desired["metadata"]
        path = crd_path(kind, meta.get("namespace"), meta["name"])
        live = kube.get_or_none(path)
        before = from_crd(live) if live else None
        if state == "absent":
            changed = live is not None
            if changed and not check_mode:
                try:
                    kube.request("DELETE", path)
                except KubeError as exc:
                    if exc.status != 404:
                        raise
            results.append(result(desired, changed, before, None))
            continue
        if live is not None and same(desired, before):
            results.append(result(desired, False, before, before))
            continue
        if not check_mode:
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if live is not None:
                created = json.loads((live["metadata"].get("annotations") or {}).get(METADATA_ANNOTATION)
                                     or "{}").get("creationTimestamp") or created
            body = to_crd(desired, created)
            if live is None:
                kube.request("POST", crd_path(kind, meta.get("namespace")), body=body)
            else:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                kube.request("PUT", path, body=body, retry_conflict=False)
        results.append(result(desired, True, before, desired))
    return results


def result(desired: dict, changed: bool, before, after) -> dict:
    meta = desired["metadata"]
    return {"kind": desired["kind"], "name": meta["name"], "namespace": meta.get("namespace", ""),
            "changed": changed, "before": before, "after": after}
