# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""strongSwan IPsec VPN in the cluster: options (mirroring the IKS strongSwan chart's values) ->
validated ipsec.conf, ipsec.secrets and Kubernetes objects.

The pre-shared key goes into a Secret, never a ConfigMap. A checksum of the configuration sits in the
pod template, so a changed configuration rolls the VPN pod (update in place, never reinstall).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets as secrets_module

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.k8s_apply import ensure_objects

PLACEHOLDER_PSK = "strongswan-preshared-secret"
MIN_PSK_LENGTH = 20
CONNECTION = "k8s-conn"
APP_LABEL = "strongswan"

ENCRYPTION = {"3des", "cast128", "blowfish128", "blowfish192", "blowfish256", "null",
              "aes128", "aes192", "aes256", "aes128ctr", "aes192ctr", "aes256ctr",
              "camellia128", "camellia192", "camellia256", "serpent128", "serpent192", "serpent256",
              "twofish128", "twofish192", "twofish256"}
AEAD = {f"aes{bits}{mode}{icv}" for bits in (128, 192, 256) for mode in ("gcm", "ccm") for icv in (8, 12, 16, 64, 96, 128)}
AEAD |= {"aes128gcm", "aes192gcm", "aes256gcm", "chacha20poly1305"}
INTEGRITY = {"md5", "md5_128", "sha1", "sha1_160", "sha256", "sha256_96", "sha384", "sha512", "aesxcbc",
             "aescmac", "aes128gmac", "aes192gmac", "aes256gmac"}
PRF = {"prfmd5", "prfsha1", "prfsha256", "prfsha384", "prfsha512", "prfaesxcbc", "prfaescmac"}
DH = {"modp768", "modp1024", "modp1536", "modp2048", "modp3072", "modp4096", "modp6144", "modp8192",
      "modp1024s160", "modp2048s224", "modp2048s256", "ecp192", "ecp224", "ecp256", "ecp384", "ecp521",
      "ecp224bp", "ecp256bp", "ecp384bp", "ecp512bp", "curve25519", "x25519", "curve448", "x448"}
ESN = {"esn", "noesn"}
WEAK = {"3des", "md5", "md5_128", "modp768", "modp1024", "des", "null"}
LIFETIME = re.compile(r"^\d+[smhd]?$")


def subnets(value) -> list[str]:
    """Subnets from a list or a comma-separated string (the chart takes a string)."""
    if isinstance(value, str):
        value = value.split(",")
    return [s.strip() for s in value or [] if s.strip()]


def parse_networks(label: str, values: list[str], errors: list[str]) -> list:
    networks = []
    for text in values:
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError:
            try:
                fixed = ipaddress.ip_network(text, strict=False)
                errors.append(f"{label} '{text}' is not a network address: use '{fixed}'")
            except ValueError:
                errors.append(f"{label} '{text}' is not a valid CIDR (expected e.g. 10.10.0.0/24)")
    return networks


def proposal_errors(label: str, text: str, ike: bool) -> list[str]:
    """strongSwan proposal syntax: comma-separated 'alg-alg-...' lists, optionally ending in '!' (strict)."""
    errors = []
    for proposal in [p.strip() for p in text.rstrip("!").split(",")]:
        if not proposal:
            errors.append(f"{label} '{text}' has an empty proposal")
            continue
        tokens = proposal.split("-")
        unknown = [t for t in tokens if t not in ENCRYPTION | AEAD | INTEGRITY | PRF | DH | ESN]
        if unknown:
            errors.append(f"{label} proposal '{proposal}' has unknown algorithm(s) {', '.join(unknown)}")
            continue
        if not any(t in ENCRYPTION | AEAD for t in tokens):
            errors.append(f"{label} proposal '{proposal}' has no encryption algorithm")
        if any(t in ENCRYPTION for t in tokens) and not any(t in INTEGRITY for t in tokens):
            errors.append(f"{label} proposal '{proposal}' needs an integrity algorithm (e.g. sha256) "
                          f"with a non-AEAD cipher")
        if ike and not any(t in DH for t in tokens):
            errors.append(f"{label} proposal '{proposal}' needs a Diffie-Hellman group (e.g. modp2048 or ecp256)")
        if ike and any(t in ESN for t in tokens):
            errors.append(f"{label} proposal '{proposal}': esn/noesn apply to ESP only")
    return errors


def id_error(value: str) -> str | None:
    if not value or re.search(r"[\s\"']", value):
        return "must be non-empty without spaces or quotes (an IP address, FQDN, @name or email)"
    return None


def param_errors(params: dict) -> list[str]:
    """Every problem with the options (state present), as messages naming the value and what to use instead."""
    if params.get("state", "present") != "present":
        return []
    errors: list[str] = []
    ipsec, local, remote = params["ipsec"], params["local"], params["remote"]
    local_nets = parse_networks("local.subnet", subnets(local.get("subnet")), errors)
    remote_nets = parse_networks("remote.subnet", subnets(remote.get("subnet")), errors)
    pod_nets = parse_networks("cluster_pod_subnet", subnets(params.get("cluster_pod_subnet")), errors)
    service_nets = parse_networks("cluster_service_subnet", subnets(params.get("cluster_service_subnet")), errors)
    if not local_nets and not subnets(local.get("subnet")):
        errors.append("local.subnet is empty: list the cluster subnets the remote network may reach")
    if not remote_nets and not subnets(remote.get("subnet")):
        errors.append("remote.subnet is empty: list the on-prem subnets to reach through the tunnel")
    for lnet in local_nets:
        for rnet in remote_nets:
            if lnet.version == rnet.version and lnet.overlaps(rnet):
                errors.append(f"local.subnet {lnet} overlaps remote.subnet {rnet}; traffic cannot be routed "
                              f"into the tunnel")
    for rnet in remote_nets:
        for cnet, what in [(n, "pod") for n in pod_nets] + [(n, "service") for n in service_nets]:
            if rnet.version == cnet.version and rnet.overlaps(cnet):
                errors.append(f"remote.subnet {rnet} overlaps the cluster's {what} range {cnet}; choose "
                              f"non-overlapping on-prem subnets or NAT them")
    if not params.get("enable_pod_snat"):
        for pod_net in pod_nets:
            if not any(pod_net.version == n.version and pod_net.subnet_of(n) for n in local_nets):
                errors.append(f"local.subnet ({', '.join(map(str, local_nets)) or 'empty'}) does not include the "
                              f"pod network {pod_net}: add it, or set enable_pod_snat so pods leave with the "
                              f"VPN pod's address")
    keyexchange = ipsec.get("keyexchange")
    if keyexchange not in ("ikev1", "ikev2", "ike"):
        errors.append(f"ipsec.keyexchange '{keyexchange}' is not one of ikev1, ikev2, ike")
    if keyexchange == "ikev1" and (len(subnets(local.get("subnet"))) > 1 or len(subnets(remote.get("subnet"))) > 1):
        errors.append("IKEv1 allows only one local and one remote subnet per connection; use ikev2, or one "
                      "subnet on each side")
    for option, is_ike in (("ike", True), ("esp", False)):
        if ipsec.get(option):
            errors.extend(proposal_errors(f"ipsec.{option}", ipsec[option], is_ike))
    auto = ipsec.get("auto")
    if auto not in ("add", "start", "route"):
        errors.append(f"ipsec.auto '{auto}' is not one of add (wait for the peer), start (initiate), route")
    gateway = remote.get("gateway") or "%any"
    if auto in ("start", "route") and gateway == "%any":
        errors.append(f"ipsec.auto={auto} initiates the tunnel, so remote.gateway must be the on-prem VPN "
                      f"endpoint's address, not %any")
    if gateway != "%any":
        try:
            ipaddress.ip_address(gateway)
        except ValueError:
            if not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$", gateway):
                errors.append(f"remote.gateway '{gateway}' is not an IP address, a host name or %any")
    for side, values in (("local", local), ("remote", remote)):
        problem = id_error(values.get("id") or "")
        if problem:
            errors.append(f"{side}.id '{values.get('id')}' {problem}")
    for option in ("ikelifetime", "lifetime", "margintime"):
        if ipsec.get(option) and not LIFETIME.match(str(ipsec[option])):
            errors.append(f"ipsec.{option} '{ipsec[option]}' is not a duration like 3h, 60m or 3600")
    if params.get("load_balancer_ip"):
        try:
            ipaddress.ip_address(params["load_balancer_ip"])
        except ValueError:
            errors.append(f"load_balancer_ip '{params['load_balancer_ip']}' is not an IP address")
    private_ip = remote.get("private_ip_to_ping")
    if private_ip:
        try:
            if not any(ipaddress.ip_address(private_ip) in n for n in remote_nets):
                errors.append(f"remote.private_ip_to_ping {private_ip} is not in remote.subnet")
        except ValueError:
            errors.append(f"remote.private_ip_to_ping '{private_ip}' is not an IP address")
    for name, level in (params.get("logging") or {}).items():
        if not isinstance(level, int) or not -1 <= level <= 4:
            errors.append(f"logging level of '{name}' must be an integer from -1 to 4 (got {level!r})")
    for name in ("ike", "knl"):
        if (params.get("logging") or {}).get(name, 1) < 1:
            errors.append(f"logging level of '{name}' must be at least 1: the VPN pod sets up routes from the "
                          f"'{name}' messages charon logs")
    errors.extend(psk_errors(params))
    return errors


def psk_errors(params: dict) -> list[str]:
    psk = params.get("preshared_secret") or ""
    if not psk:
        return ["preshared_secret is required"]
    if "\n" in psk or '"' in psk:
        return ["preshared_secret must not contain newlines or double quotes"]
    if params.get("force"):
        return []
    if psk == PLACEHOLDER_PSK:
        return ["preshared_secret is the chart's placeholder value; generate a random one "
                "(e.g. openssl rand -base64 32)"]
    if len(psk) < MIN_PSK_LENGTH:
        return [f"preshared_secret is only {len(psk)} characters; use at least {MIN_PSK_LENGTH} random "
                f"characters (or force=true)"]
    return []


def weak_algorithms(params: dict) -> list[str]:
    tokens = set()
    for option in ("ike", "esp"):
        tokens |= set(re.split(r"[-,!]", params["ipsec"].get(option) or ""))
    return sorted(tokens & WEAK)


def render_ipsec_conf(params: dict) -> str:
    """ipsec.conf for the cluster side of the tunnel."""
    ipsec, local, remote = params["ipsec"], params["local"], params["remote"]
    logging = params.get("logging") or {}
    lines = [
        "# Rendered by containers_workload.secure_cluster.strongswan_vpn; changes here are overwritten.",
        "config setup",
        f'    charondebug="{", ".join(f"{k} {v}" for k, v in sorted(logging.items()))}"',
        "    uniqueids=yes",
        "",
        f"conn {CONNECTION}",
        f"    keyexchange={ipsec['keyexchange']}",
        "    authby=secret",
        "    left=%any",
        f"    leftsubnet={','.join(subnets(local['subnet']))}",
        f"    leftid={local['id']}",
        f"    right={remote.get('gateway') or '%any'}",
        f"    rightsubnet={','.join(subnets(remote['subnet']))}",
        f"    rightid={remote['id']}",
        f"    auto={ipsec['auto']}",
    ]
    for option in ("ike", "esp", "closeaction", "dpdaction", "ikelifetime", "lifetime", "margintime", "keyingtries"):
        if ipsec.get(option):
            lines.append(f"    {option}={ipsec[option]}")
    for key, value in sorted((ipsec.get("additional_options") or {}).items()):
        lines.append(f"    {key}={value}")
    return "\n".join(lines) + "\n"


def render_ipsec_secrets(params: dict) -> str:
    """ipsec.secrets: the PSK for the pair of IDs."""
    return f'{params["local"]["id"]} {params["remote"]["id"]} : PSK "{params["preshared_secret"]}"\n'


SALT_KEY = "checksum-salt"


def checksum(salt: str, *parts: str) -> str:
    """A keyed checksum: whoever can read the Deployment but not the Secret cannot test PSK guesses against it."""
    return hmac.new(salt.encode(), "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def checksum_salt(live_secret: dict | None) -> str:
    """The salt kept in the VPN's Secret, or a new one for a new Secret (so re-runs give the same checksum)."""
    stored = ((live_secret or {}).get("data") or {}).get(SALT_KEY)
    return base64.b64decode(stored).decode() if stored else secrets_module.token_hex(16)


def secret_path(params: dict) -> str:
    return f"/api/v1/namespaces/{params['namespace']}/secrets/{params['name']}-strongswan-secrets"


def objects(params: dict, salt: str) -> list[dict]:
    """The Kubernetes objects of the VPN, in creation order. ``salt`` keys the pod's checksum annotation."""
    name, namespace = f"{params['name']}-strongswan", params["namespace"]
    labels = {"app": APP_LABEL, "release": params["name"], "app.kubernetes.io/managed-by": "secure_cluster"}
    conf, secrets = render_ipsec_conf(params), render_ipsec_secrets(params)
    meta = {"name": name, "namespace": namespace, "labels": labels}
    security = {"capabilities": {"add": ["NET_ADMIN"]}}
    if params["privileged"]:
        security = {"privileged": True}
    out = []
    if params["create_namespace"]:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})
    out += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": f"{name}-config"},
         "data": {"ipsec.conf": conf}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {**meta, "name": f"{name}-secrets"}, "type": "Opaque",
         "data": {"ipsec.secrets": base64.b64encode(secrets.encode()).decode(),
                  SALT_KEY: base64.b64encode(salt.encode()).decode()}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta), "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": APP_LABEL, "release": params["name"]}},
            "template": {
                "metadata": {"labels": labels, "annotations": {
                    "secure-cluster.containers-workload/config-checksum": checksum(salt, conf, secrets)}},
                "spec": {
                    "serviceAccountName": name,
                    "nodeSelector": params["node_selector"],
                    "tolerations": params["tolerations"],
                    "containers": [{
                        "name": "strongswan", "image": params["image"],
                        "ports": [{"name": "ike", "containerPort": 500, "protocol": "UDP"},
                                  {"name": "nat-t", "containerPort": 4500, "protocol": "UDP"}],
                        "securityContext": security,
                        "volumeMounts": [
                            {"name": "config", "mountPath": "/etc/ipsec.conf", "subPath": "ipsec.conf",
                             "readOnly": True},
                            {"name": "secrets", "mountPath": "/etc/ipsec.secrets", "subPath": "ipsec.secrets",
                             "readOnly": True}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}},
                                {"name": "secrets", "secret": {"secretName": f"{name}-secrets",
                                                               "defaultMode": 0o400}}],
                },
            },
        }},
        service(params, meta),
    ]
    return out


def object_refs(params: dict) -> list[dict]:
    """The VPN's objects by kind and name only, in creation order (for removal)."""
    name, namespace = f"{params['name']}-strongswan", params["namespace"]
    refs = [("v1", "ServiceAccount", name), ("v1", "ConfigMap", f"{name}-config"),
            ("v1", "Secret", f"{name}-secrets"), ("apps/v1", "Deployment", name), ("v1", "Service", name)]
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}] if params["create_namespace"] else []
    return out + [{"apiVersion": v, "kind": k, "metadata": {"name": n, "namespace": namespace}} for v, k, n in refs]


def service(params: dict, meta: dict) -> dict:
    spec = {"type": "LoadBalancer",
            "selector": {"app": APP_LABEL, "release": params["name"]},
            "ports": [{"name": "ike", "port": 500, "targetPort": 500, "protocol": "UDP"},
                      {"name": "nat-t", "port": 4500, "targetPort": 4500, "protocol": "UDP"}]}
    if params.get("load_balancer_ip"):
        spec["loadBalancerIP"] = params["load_balancer_ip"]
    if params.get("enable_service_source_ip"):
        spec["externalTrafficPolicy"] = "Local"
    annotations = providers.service_annotations(params["provider"], params["private"])
    metadata = dict(meta)
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def run(run) -> dict:
    """The strongswan_vpn module: apply the rendered objects (or delete them and wait until they are gone)."""
    params, kube = run.params, run.kube
    if params["state"] == "absent":
        return ensure_objects(kube, object_refs(params), "absent", run.check_mode, wait_timeout=params["wait_timeout"])
    salt = checksum_salt(kube.get_or_none(secret_path(params)))
    result = ensure_objects(kube, objects(params, salt), "present", run.check_mode)
    result["ipsec_conf"] = render_ipsec_conf(params)
    result["warnings_weak_algorithms"] = weak_algorithms(params)
    result["warnings"] = [f"proposal uses the weak algorithm '{weak}'" for weak in result["warnings_weak_algorithms"]]
    return result
