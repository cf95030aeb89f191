# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""strongSwan IPsec VPN in the cluster: options (mirroring the IKS strongSwan chart's values) ->
validated swanctl.conf, strongswan.conf, the secrets section and Kubernetes objects.

The VPN pod runs charon in the foreground; charon runs ``swanctl --load-all`` (strongswan.conf start-scripts)
and logs on stderr (the container log). The pre-shared key goes into a Secret, never a ConfigMap. A checksum of the configuration
sits in the pod template, so a changed configuration rolls the VPN pod (update in place, never reinstall).
A routes DaemonSet sends every node's traffic for the remote subnets to the VPN pod.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets as secrets_module

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.apply import ensure_objects

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
CHECKSUM_ANNOTATION = "secure-cluster.containers-workload/config-checksum"
LOAD_ALL = "swanctl --load-all --noprompt"
LOG_SUBSYSTEMS = {"default", "any", "dmn", "mgr", "ike", "chd", "job", "cfg", "knl", "net", "asn", "enc", "tnc",
                  "imc", "imv", "pts", "tls", "esp", "lib"}

# ipsec.conf (the chart's values) -> swanctl.conf
VERSIONS = {"ikev2": 2, "ikev1": 1, "ike": 0}
START_ACTIONS = {"add": "none", "start": "start", "route": "trap"}
CLOSE_ACTIONS = {"none": "none", "clear": "none", "hold": "trap", "restart": "start"}
DPD_ACTIONS = {"none": "clear", "clear": "clear", "hold": "trap", "restart": "restart"}
# swanctl.conf settings ipsec.additional_options may set (strongSwan 5.9 swanctl.conf(5)); the others are
# rendered from options of their own.
CONNECTION_KEYS = {"local_port", "remote_port", "vips", "aggressive", "pull", "dscp", "encap", "mobike",
                   "dpd_delay", "dpd_timeout", "fragmentation", "childless", "send_certreq", "send_cert",
                   "reauth_time", "rand_time", "if_id_in", "if_id_out"}
CHILD_KEYS = {"ah_proposals", "sha256_96", "rand_time", "rekey_bytes", "life_bytes", "rand_bytes", "rekey_packets",
              "life_packets", "rand_packets", "updown", "hostaccess", "mode", "policies", "policies_fwd_out",
              "ipcomp", "inactivity", "reqid", "priority", "interface", "mark_in", "mark_in_sa", "mark_out",
              "set_mark_in", "set_mark_out", "label", "label_mode", "tfc_padding", "replay_window", "hw_offload",
              "copy_df", "copy_ecn", "copy_dscp"} - {"rand_time"}

# What the VPN image can do. strongx509: docker.io/strongx509/strongswan, the strongSwan maintainer's image
# (github.com/strongX509/docker, strongswan/Dockerfile): Ubuntu 22.04, strongSwan 5.9.14 built from source
# with --disable-defaults and only the plugins below, IKEv2 only, swanctl/vici (no stroke, no ipsec starter),
# iproute2 and ping, no iptables, no CMD. debian: the image extensions/strongswan/Containerfile builds from
# Debian bookworm packages (strongSwan 5.9.8, IKEv1 and IKEv2, iptables).
FLAVORS = {
    "strongx509": {
        "charon": "/usr/libexec/ipsec/charon",
        "plugins": ["random", "nonce", "x509", "constraints", "pubkey", "pem", "openssl", "kernel-netlink",
                    "resolve", "socket-default", "vici", "updown", "eap-identity", "eap-md5", "eap-dynamic",
                    "eap-tls"],
        "ikev1": False,
        "iptables": False,
        # Algorithms of plugins the build leaves out (openssl provides the rest).
        "missing_algorithms": {"serpent128", "serpent192", "serpent256", "twofish128", "twofish192", "twofish256",
                               "aesxcbc", "aescmac", "prfaesxcbc", "prfaescmac"},
        "describe": "strongSwan 5.9.14 built with --disable-defaults --enable-ikev2 (IKEv2 only, no iptables)",
    },
    "debian": {
        "charon": "/usr/lib/ipsec/charon",
        "ikev1": True,
        "iptables": True,
        "missing_algorithms": set(),
        "describe": "Debian bookworm strongSwan 5.9.8 packages (extensions/strongswan/Containerfile)",
    },
}


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
    """What strongSwan cannot take as an identity. Anything else is carried exactly: swanctl.conf gets it
    quoted (:func:`quoted`), so braces, '#', '=', quotes and spaces (a DN) are parts of the identity."""
    if not value:
        return "must not be empty (an IP address, FQDN, @name, email or DN)"
    if value != value.strip():
        return "must not begin or end with white space (the peer would have to send it too)"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "must not contain control characters (newlines, tabs)"
    return None


def quoted(value: str) -> str:
    """A swanctl.conf value as strongSwan's settings parser reads a quoted string (settings_lexer.l): inside
    double quotes a backslash takes the next character as it is, so only backslashes and quotes are escaped,
    and '{', '}', '#' and '=' lose their meaning."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Kubernetes names made from ``name``: Services need DNS-1035 labels (at most 63 characters), the longest
# being '<name>-strongswan-routes'.
NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LONGEST_SUFFIX = "-strongswan-routes"


def name_error(name: str) -> str | None:
    if not NAME.match(name or "") or len(name) + len(LONGEST_SUFFIX) > 63:
        return (f"name '{name}' must be lower-case letters, digits and '-', start with a letter and be at most "
                f"{63 - len(LONGEST_SUFFIX)} characters (the VPN's Service names are '<name>-strongswan...')")
    return None


def param_errors(params: dict) -> list[str]:
    """Every problem with the options (state present), as messages naming the value and what to use instead."""
    if params.get("state", "present") != "present":
        return []
    errors: list[str] = []
    ipsec, local, remote = params["ipsec"], params["local"], params["remote"]
    if name_error(params.get("name") or ""):
        errors.append(name_error(params.get("name") or ""))
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
        if name not in LOG_SUBSYSTEMS:
            errors.append(f"logging subsystem '{name}' is not one of {', '.join(sorted(LOG_SUBSYSTEMS))}")
        if not isinstance(level, int) or not -1 <= level <= 4:
            errors.append(f"logging level of '{name}' must be an integer from -1 to 4 (got {level!r})")
    for name in ("ike", "knl"):
        if (params.get("logging") or {}).get(name, 1) < 1:
            errors.append(f"logging level of '{name}' must be at least 1: the VPN pod's log must show IKE "
                          f"negotiation and kernel (route, policy) decisions")
    errors.extend(psk_errors(params))
    errors.extend(swanctl_errors(params))
    return errors


def swanctl_errors(params: dict) -> list[str]:
    """What swanctl.conf or the chosen image cannot express."""
    errors = []
    ipsec = params["ipsec"]
    flavor_name = params.get("image_flavor") or "strongx509"
    flavor = FLAVORS[flavor_name]
    image = f"the image {params.get('image')} (image_flavor {flavor_name}: {flavor['describe']})"
    if ipsec.get("keyexchange") == "ikev1" and not flavor["ikev1"]:
        errors.append(f"ipsec.keyexchange=ikev1: {image} cannot do IKEv1; use ikev2, or an image built from "
                      f"extensions/strongswan/Containerfile with image_flavor=debian")
    if params.get("enable_pod_snat") and not flavor["iptables"]:
        errors.append(f"enable_pod_snat needs iptables in the VPN pod and {image} has none; use an image built "
                      f"from extensions/strongswan/Containerfile with image_flavor=debian, or put the pod network "
                      f"in local.subnet")
    for option in ("ike", "esp"):
        missing = sorted(set(re.split(r"[-,!]", ipsec.get(option) or "")) & flavor["missing_algorithms"])
        if missing:
            errors.append(f"ipsec.{option} uses {', '.join(missing)}, which {image} does not have")
    for option, table in (("closeaction", CLOSE_ACTIONS), ("dpdaction", DPD_ACTIONS)):
        if ipsec.get(option) not in table:
            errors.append(f"ipsec.{option} '{ipsec.get(option)}' is not one of {', '.join(table)}")
    keyingtries = str(ipsec.get("keyingtries"))
    if keyingtries != "%forever" and not keyingtries.isdigit():
        errors.append(f"ipsec.keyingtries '{keyingtries}' is not a number or %forever")
    times = {o: seconds(ipsec[o]) for o in ("ikelifetime", "lifetime", "margintime")
             if ipsec.get(o) and LIFETIME.match(str(ipsec[o]))}
    for option in ("ikelifetime", "lifetime"):
        if option in times and "margintime" in times and times["margintime"] >= times[option]:
            errors.append(f"ipsec.margintime {ipsec['margintime']} must be shorter than ipsec.{option} "
                          f"{ipsec[option]} (rekeying starts margintime before the lifetime ends)")
    for key, value in sorted((ipsec.get("additional_options") or {}).items()):
        if key not in CONNECTION_KEYS | CHILD_KEYS:
            errors.append(f"ipsec.additional_options '{key}' is not a swanctl.conf connection or child setting "
                          f"this module passes through (ipsec.conf options no longer apply); use one of "
                          f"{', '.join(sorted(CONNECTION_KEYS | CHILD_KEYS))}")
        elif not re.match(r"^[-A-Za-z0-9_.,/:%@ ]+$", str(value)):
            errors.append(f"ipsec.additional_options '{key}' value '{value}' must be a plain swanctl.conf value")
    if not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", params.get("cluster_domain") or ""):
        errors.append(f"cluster_domain '{params.get('cluster_domain')}' is not a DNS domain (e.g. cluster.local)")
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


def seconds(duration) -> int:
    """'3h' -> 10800 (ipsec.conf and swanctl.conf durations: plain seconds or s/m/h/d)."""
    text = str(duration)
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:], None)
    return int(text[:-1]) * unit if unit else int(text)


def swanctl_proposals(text: str) -> str:
    """ipsec.conf proposals -> swanctl.conf: '!' (strict) drops it; without '!' strongSwan's defaults follow."""
    if not text:
        return "default"
    proposals = [p.strip() for p in text.rstrip("!").split(",")]
    return ", ".join(proposals if text.endswith("!") else proposals + ["default"])


def canonical(value) -> list[str]:
    """Validated subnets as strongSwan reads traffic selectors: address/prefix length (Python also accepts
    '10.0.0.0/255.0.0.0' and bare addresses, which swanctl.conf would not read the same way)."""
    return [str(ipaddress.ip_network(text, strict=True)) for text in subnets(value)]


def local_ts(params: dict) -> list[str]:
    """The cluster side's traffic selectors: local.subnet, plus the VPN pod's own address with pod SNAT."""
    return canonical(params["local"]["subnet"]) + (["dynamic"] if params.get("enable_pod_snat") else [])


def render_swanctl_conf(params: dict) -> str:
    """swanctl.conf for the cluster side: the chart's ipsec.* / local.* / remote.* values as one connection.

    The secrets section lives in the Secret (conf.d/secrets.conf), included at the end.
    """
    ipsec, local, remote = params["ipsec"], params["local"], params["remote"]
    margin = seconds(ipsec["margintime"])
    conn = {
        "version": VERSIONS[ipsec["keyexchange"]],
        "local_addrs": "%any",
        "remote_addrs": remote.get("gateway") or "%any",
        "proposals": swanctl_proposals(ipsec.get("ike") or ""),
        "rekey_time": f"{seconds(ipsec['ikelifetime']) - margin}s",
        "over_time": f"{margin}s",
        "keyingtries": 0 if ipsec["keyingtries"] == "%forever" else int(ipsec["keyingtries"]),
        "unique": "replace",
    }
    if ipsec["dpdaction"] != "none":
        conn["dpd_delay"] = "30s"
    child = {
        "local_ts": ", ".join(local_ts(params)),
        "remote_ts": ", ".join(canonical(remote["subnet"])),
        "esp_proposals": swanctl_proposals(ipsec.get("esp") or ""),
        "rekey_time": f"{seconds(ipsec['lifetime']) - margin}s",
        "life_time": f"{seconds(ipsec['lifetime'])}s",
        "start_action": START_ACTIONS[ipsec["auto"]],
        "close_action": CLOSE_ACTIONS[ipsec["closeaction"]],
        "dpd_action": DPD_ACTIONS[ipsec["dpdaction"]],
    }
    for key, value in sorted((ipsec.get("additional_options") or {}).items()):
        (child if key in CHILD_KEYS else conn)[key] = value
    lines = ["# Rendered by containers_workload.secure_cluster.strongswan_vpn; changes here are overwritten.",
             "connections {", f"  {CONNECTION} {{"]
    lines += [f"    {k} = {v}" for k, v in conn.items()]
    lines += ["    local {", "      auth = psk", f"      id = {quoted(local['id'])}", "    }",
              "    remote {", "      auth = psk", f"      id = {quoted(remote['id'])}", "    }",
              "    children {", f"      {CONNECTION} {{"]
    lines += [f"        {k} = {v}" for k, v in child.items()]
    lines += ["      }", "    }", "  }", "}", "# secrets { ... } from the Secret", "include conf.d/*.conf"]
    return "\n".join(lines) + "\n"


def render_secrets_conf(params: dict) -> str:
    """The swanctl.conf secrets section: the PSK (base64, so no quoting issue) for the pair of IDs."""
    psk = base64.b64encode(params["preshared_secret"].encode()).decode()
    return "\n".join(["secrets {", f"  ike-{CONNECTION} {{", f"    id-local = {quoted(params['local']['id'])}",
                      f"    id-remote = {quoted(params['remote']['id'])}", f"    secret = 0s{psk}", "  }", "}"]) + "\n"


def render_strongswan_conf(params: dict) -> str:
    """strongswan.conf: the image's plugins, logs on stderr (unbuffered), and swanctl --load-all once charon is up."""
    levels = {"default": 1, **(params.get("logging") or {})}
    lines = ["# Rendered by containers_workload.secure_cluster.strongswan_vpn; changes here are overwritten.",
             "charon {",
             "  # The plugins the image has (one strongswan.d/charon/<plugin>.conf each).",
             "  load_modular = yes",
             "  plugins {", "    include strongswan.d/charon/*.conf", "  }",
             "  # Logs on the container's output: kubectl logs shows them. stderr, because charon leaves stdout",
             "  # block-buffered when it is not a terminal (flush_line applies to files only).",
             "  filelog {", "    stderr {"]
    lines += [f"      {name} = {level}" for name, level in sorted(levels.items())]
    lines += ["      ike_name = yes", "      flush_line = yes", "    }", "  }",
              "  # Run by charon once it listens on its vici socket: loads swanctl.conf and the secrets.",
              "  start-scripts {", f"    load-all = {LOAD_ALL}", "  }",
              "}", "include strongswan.d/*.conf"]
    return "\n".join(lines) + "\n"


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


# The routes DaemonSet's script (POSIX sh, iproute2 and getent: both images have them). It runs on every node
# (host network) and routes the remote subnets to the VPN pod: the pod's address comes from the DNS name of the
# VPN's headless Service, and the route copies the node's own route to that address (direct on the VPN pod's
# node, through the overlay elsewhere). It follows the VPN pod when it moves and removes its routes on exit.
ROUTES_SCRIPT = r"""route=""
remove() {
  if [ -n "$route" ]; then for net in $REMOTE_SUBNETS; do ip route del "$net" $route; done; fi
  route=""
}
trap 'remove; echo "routes to $REMOTE_SUBNETS removed"; exit 0' TERM INT
while :; do
  set -- $(getent ahostsv4 "$VPN_POD_HOST"); pod="${1:-}"; want=""
  if [ -n "$pod" ]; then
    gw="$pod"; dev=""
    set -- $(ip -4 route get "$pod")
    while [ $# -gt 1 ]; do case "$1" in via) gw="$2" ;; dev) dev="$2" ;; esac; shift; done
    if [ -n "$dev" ]; then want="via $gw dev $dev onlink"; fi
  fi
  if [ "$want" != "$route" ]; then
    remove
    if [ -n "$want" ]; then
      for net in $REMOTE_SUBNETS; do ip route replace "$net" $want; done
      route="$want"; echo "routing $REMOTE_SUBNETS $route (VPN pod $pod)"
    else
      echo "VPN pod $VPN_POD_HOST not found yet; no routes"
    fi
  fi
  sleep "$INTERVAL" & wait $!
done
"""


def vpn_command(params: dict) -> list[str]:
    """The VPN container's command: charon in the foreground (it runs swanctl --load-all itself, see
    strongswan.conf); with pod SNAT, first the rule that gives the pods' packets the VPN pod's address."""
    charon = FLAVORS[params["image_flavor"]]["charon"]
    if not params.get("enable_pod_snat"):
        return [charon]
    rules = [f'iptables -t nat -A POSTROUTING -s {pod} -d {remote} -j SNAT --to-source "$POD_IP"'
             for pod in canonical(params["cluster_pod_subnet"]) for remote in canonical(params["remote"]["subnet"])]
    return ["/bin/sh", "-c", "set -e\n" + "\n".join(rules) + f"\nexec {charon}\n"]


def readiness_probe(params: dict) -> dict:
    """Ready when the tunnel carries traffic: a ping of remote.private_ip_to_ping, else an established IKE SA."""
    ping = params["remote"].get("private_ip_to_ping")
    command = (["ping", "-c", "1", "-W", "2", ping] if ping else
               ["/bin/sh", "-c", f"swanctl --list-sas --ike {CONNECTION} | grep -q ESTABLISHED"])
    return {"exec": {"command": command}, "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 5,
            "failureThreshold": 3}


def names(params: dict) -> dict:
    base = f"{params['name']}-strongswan"
    return {"base": base, "config": f"{base}-config", "secrets": f"{base}-secrets", "routes": f"{base}-routes",
            "pod_service": f"{base}-pod"}


def vpn_pod_host(params: dict) -> str:
    """The DNS name of the VPN pod (headless Service) the routes DaemonSet resolves."""
    return f"{names(params)['pod_service']}.{params['namespace']}.svc.{params['cluster_domain']}"


def objects(params: dict, salt: str) -> list[dict]:
    """The Kubernetes objects of the VPN, in creation order. ``salt`` keys the pod's checksum annotation."""
    n, namespace = names(params), params["namespace"]
    labels = {"app": APP_LABEL, "release": params["name"], "app.kubernetes.io/managed-by": "secure_cluster"}
    selector = {"app": APP_LABEL, "release": params["name"]}
    conf = {"strongswan.conf": render_strongswan_conf(params), "swanctl.conf": render_swanctl_conf(params)}
    secrets = render_secrets_conf(params)
    meta = {"name": n["base"], "namespace": namespace, "labels": labels}
    security = {"capabilities": {"add": ["NET_ADMIN"]}}
    if params["privileged"]:
        security = {"privileged": True}
    container = {
        "name": "strongswan", "image": params["image"], "command": vpn_command(params),
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "ike", "containerPort": 500, "protocol": "UDP"},
                  {"name": "nat-t", "containerPort": 4500, "protocol": "UDP"}],
        "securityContext": security,
        "readinessProbe": readiness_probe(params),
        "livenessProbe": {"exec": {"command": ["swanctl", "--stats"]}, "initialDelaySeconds": 10,
                          "periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/strongswan.conf", "subPath": "strongswan.conf", "readOnly": True},
            {"name": "config", "mountPath": "/etc/swanctl/swanctl.conf", "subPath": "swanctl.conf",
             "readOnly": True},
            {"name": "secrets", "mountPath": "/etc/swanctl/conf.d", "readOnly": True}],
    }
    out = []
    if params["create_namespace"]:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})
    out += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": n["config"]}, "data": conf},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {**meta, "name": n["secrets"]}, "type": "Opaque",
         "data": {"secrets.conf": base64.b64encode(secrets.encode()).decode(),
                  SALT_KEY: base64.b64encode(salt.encode()).decode()}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta), "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels, "annotations": {
                    CHECKSUM_ANNOTATION: checksum(salt, *(conf[k] for k in sorted(conf)), secrets)}},
                "spec": without_empty({
                    "serviceAccountName": n["base"],
                    "nodeSelector": params["node_selector"],
                    "tolerations": params["tolerations"],
                    "containers": [container],
                    "volumes": [{"name": "config", "configMap": {"name": n["config"]}},
                                {"name": "secrets", "secret": {
                                    "secretName": n["secrets"], "defaultMode": 0o400,
                                    "items": [{"key": "secrets.conf", "path": "secrets.conf"}]}}],
                }),
            },
        }},
        service(params, meta),
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": n["pod_service"]}, "spec": {
            "clusterIP": "None", "publishNotReadyAddresses": True, "selector": selector,
            "ports": [{"name": "ike", "port": 500, "targetPort": 500, "protocol": "UDP"}]}},
    ]
    if params["routes"]:
        out.append(routes_daemonset(params, labels))
    return out


def without_empty(spec: dict) -> dict:
    """The API server drops empty maps and lists; leaving them out keeps re-runs from seeing a difference."""
    return {k: v for k, v in spec.items() if v not in ({}, [], None)}


def routes_daemonset(params: dict, labels: dict) -> dict:
    n = names(params)
    routes_labels = {**labels, "app": f"{APP_LABEL}-routes"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": n["routes"], "namespace": params["namespace"], "labels": routes_labels},
            "spec": {
                "selector": {"matchLabels": {"app": f"{APP_LABEL}-routes", "release": params["name"]}},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": routes_labels}, "spec": without_empty({
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "serviceAccountName": n["base"],
                    "nodeSelector": params["routes_node_selector"],
                    "tolerations": params["tolerations"],
                    "terminationGracePeriodSeconds": 10,
                    "containers": [{
                        "name": "routes", "image": params["image"],
                        "command": ["/bin/sh", "-c", ROUTES_SCRIPT],
                        "env": [{"name": "VPN_POD_HOST", "value": vpn_pod_host(params)},
                                {"name": "REMOTE_SUBNETS", "value": " ".join(canonical(params["remote"]["subnet"]))},
                                {"name": "INTERVAL", "value": "10"}],
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                    }],
                })},
            }}


def object_refs(params: dict) -> list[dict]:
    """The VPN's objects by kind and name only, in creation order (for removal: all of them, routes included)."""
    n, namespace = names(params), params["namespace"]
    refs = [("v1", "ServiceAccount", n["base"]), ("v1", "ConfigMap", n["config"]), ("v1", "Secret", n["secrets"]),
            ("apps/v1", "Deployment", n["base"]), ("v1", "Service", n["base"]), ("v1", "Service", n["pod_service"]),
            ("apps/v1", "DaemonSet", n["routes"])]
    out = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}] if params["create_namespace"] else []
    return out + [{"apiVersion": v, "kind": k, "metadata": {"name": name, "namespace": namespace}} for v, k, name in refs]


def service(params: dict, meta: dict) -> dict:
    """The IKE endpoint. Not-ready pods stay behind it: readiness reports the tunnel, which IKE must reach first."""
    spec = {"type": "LoadBalancer",
            "selector": {"app": APP_LABEL, "release": params["name"]},
            "publishNotReadyAddresses": True,
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
    result["swanctl_conf"] = render_swanctl_conf(params)
    result["strongswan_conf"] = render_strongswan_conf(params)
    result["warnings_weak_algorithms"] = weak_algorithms(params)
    result["warnings"] = [f"proposal uses the weak algorithm '{weak}'" for weak in result["warnings_weak_algorithms"]]
    return result
