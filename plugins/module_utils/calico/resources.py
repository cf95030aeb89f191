# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico resources: Calico's defaulting, and storage the way calicoctl stores them with the Kubernetes
datastore (validation is in calico.validation).

calicoctl (Calico v3.28, the version pinned by the test cluster) writes a projectcalico.org/v3 resource as a
crd.projectcalico.org/v1 object: policy names get the tier prefix ``default.``, the v3 metadata (labels,
annotations, creationTimestamp) goes into the ``projectcalico.org/metadata`` annotation, and the spec is
written as calicoctl marshals libcalico-go's Go types: ``types`` defaulted from the rules present, every rule
with ``source`` and ``destination`` (plain structs, so ``{}`` when empty), empty strings, lists and false flags
left out (``omitempty``), single ports and protocol numbers as numbers.
"""

from __future__ import annotations

import copy
import json

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import SecureClusterError

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
PROTOCOLS = ("TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite")


class CalicoError(SecureClusterError):
    """A resource Calico would reject (or this collection refuses)."""


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


# --- conversion ------------------------------------------------------------------------------

def with_defaults(resource: dict) -> dict:
    """The resource as calicoctl stores it: policy ``types`` defaulted from the rules present (libcalico-go's
    defaultPolicyTypesField), the spec in calicoctl's form (:func:`canonical_spec`)."""
    out = copy.deepcopy(resource)
    spec = out.setdefault("spec", {})
    if KINDS[out["kind"]][2] and not spec.get("types"):
        if not spec.get("egress"):
            spec["types"] = ["Ingress"]
        elif not spec.get("ingress"):
            spec["types"] = ["Egress"]
        else:
            spec["types"] = ["Ingress", "Egress"]
    out["spec"] = canonical_spec(out["kind"], spec)
    return out


def omit_empty(mapping: dict) -> dict:
    """Go's ``omitempty``: no empty strings or lists, no false flags, no nulls (empty structs stay)."""
    return {k: v for k, v in mapping.items() if v is not None and v is not False and v != "" and v != []}


def canonical_port(port):
    """numorstring.Port marshalled: a single port as a number, a range as 'a:b', a name as itself."""
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        low, colon, high = port.partition(":")
        if colon and low.isdigit() and high.isdigit() and int(low) == int(high):
            return int(low)
    return port


def canonical_protocol(protocol):
    """numorstring.Protocol marshalled: a number for a number or a string of digits."""
    return int(protocol) if isinstance(protocol, str) and protocol.isdigit() else protocol


def canonical_rule(rule):
    if not isinstance(rule, dict):
        return rule
    out = omit_empty(rule)
    for field in ("protocol", "notProtocol"):
        if field in out:
            out[field] = canonical_protocol(out[field])
    for side in ("source", "destination"):
        entity = out.get(side) if out.get(side) is not None else {}
        if isinstance(entity, dict):
            entity = omit_empty(entity)
            for field in ("ports", "notPorts"):
                if isinstance(entity.get(field), list):
                    entity[field] = [canonical_port(p) for p in entity[field]]
        out[side] = entity
    return out


def canonical_spec(kind: str, spec: dict) -> dict:
    """The spec as calicoctl writes it (Go's JSON marshalling of libcalico-go's v3 types)."""
    if not isinstance(spec, dict):
        return spec
    out = omit_empty(spec)
    if isinstance(out.get("order"), float) and out["order"].is_integer():
        out["order"] = int(out["order"])
    for direction in ("ingress", "egress"):
        if isinstance(out.get(direction), list):
            out[direction] = [canonical_rule(rule) for rule in out[direction]]
    if kind == "HostEndpoint" and isinstance(out.get("ports"), list):
        out["ports"] = [{**port, "protocol": canonical_protocol(port.get("protocol"))}
                        if isinstance(port, dict) and "protocol" in port else port for port in out["ports"]]
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
    """Semantic equality of two v3 resources, each taken in calicoctl's form; an empty ``source: {}`` equals
    a missing one, so objects written with or without them (by earlier releases) compare equal."""
    return normalise(comparable(desired)) == normalise(comparable(live_v3))


def comparable(resource: dict) -> dict:
    kind = resource.get("kind")
    if kind not in KINDS:
        return resource
    return {**resource, "spec": canonical_spec(kind, resource.get("spec") or {})}


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
