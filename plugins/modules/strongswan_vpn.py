#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: strongswan_vpn
short_description: Install, update or remove a strongSwan IPsec VPN in the cluster
version_added: 1.0.0
description:
  - Runs strongSwan in the cluster to connect it to an on-prem network, like the IKS C(iks-charts/strongswan)
    Helm chart, whose values the options mirror (C(ipsec.*), C(local.*), C(remote.*), C(preshared.secret)
    is O(preshared_secret), C(loadBalancerIP) is O(load_balancer_ip), and so on).
  - Renders C(swanctl.conf) and C(strongswan.conf) into a ConfigMap and the C(secrets) section with the PSK
    into a B(Secret) (the chart keeps the PSK in a ConfigMap; this module does not). The chart values map onto
    swanctl.conf (strongSwan 6 removed C(ipsec.conf) and the C(ipsec) starter).
  - The VPN Deployment is pinned to edge nodes with the edge tolerations and only the C(NET_ADMIN) capability;
    its C(command) runs charon in the foreground with its log as the container log (kubectl logs), and charon runs C(swanctl --load-all).
    O(remote.private_ip_to_ping) is its readiness probe.
  - A routes DaemonSet routes every node's traffic for O(remote.subnet) to the VPN pod, so all pods reach the
    on-prem network (unless O(routes=false)). A LoadBalancer Service for UDP 500 and 4500 (private or public
    through the provider's annotation) and a headless Service for the VPN pod's address complete it.
  - Options the image cannot do (IKEv1 or O(enable_pod_snat) on the default IKEv2-only image without
    iptables) are refused with the reason; see O(image_flavor).
  - A configuration change updates the objects in place, and a checksum annotation rolls the VPN pod; the
    VPN is never uninstalled to apply a change. O(state=absent) deletes every object, the routes DaemonSet
    included (its pods remove their routes when they stop), and waits until they are gone.
  - Validates everything before the first write, with messages that say what to use instead.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  state:
    description: Whether the VPN should be installed.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Release name; objects are called C(<name>-strongswan).
      - Lower-case letters, digits and C(-), starting with a letter, at most 45 characters (the VPN's Service
        names must be DNS labels).
    type: str
    default: vpn
  namespace:
    description: Namespace of the VPN objects.
    type: str
    default: strongswan
  create_namespace:
    description: Create (and with O(state=absent), delete) the namespace.
    type: bool
    default: true
  image:
    description:
      - strongSwan container image for the VPN pod and the routes DaemonSet.
      - The default is the strongSwan maintainer's image (github.com/strongX509/docker), strongSwan 5.9.14
        with swanctl, IKEv2 only, iproute2, no iptables.
      - C(extensions/strongswan/Containerfile) in this collection builds an equivalent image from Debian
        packages (with IKEv1 and iptables) for your own registry; use it with O(image_flavor=debian).
    type: str
    default: docker.io/strongx509/strongswan:5.9.14
  image_flavor:
    description:
      - What O(image) contains. C(strongx509) for the default image (charon at C(/usr/libexec/ipsec/charon),
        IKEv2 only, no iptables); C(debian) for an image built from C(extensions/strongswan/Containerfile)
        (charon at C(/usr/lib/ipsec/charon), IKEv1 and IKEv2, iptables).
      - Options the flavor cannot do are refused before anything is written.
    type: str
    choices: [strongx509, debian]
    default: strongx509
  ipsec:
    description: IPsec connection settings (chart values C(ipsec.*)).
    type: dict
    default: {}
    suboptions:
      keyexchange:
        description: C(ikev2), C(ikev1) or C(ike) (either).
        type: str
        default: ikev2
      ike:
        description: IKE proposals, strongSwan syntax, for example C(aes256-sha256-modp2048!). Empty means strongSwan's defaults.
        type: str
        default: ""
      esp:
        description: ESP proposals, strongSwan syntax, for example C(aes256-sha256!).
        type: str
        default: ""
      auto:
        description: C(add) waits for the on-prem side to connect; C(start) initiates (needs O(remote.gateway)); C(route) on traffic.
        type: str
        default: add
      closeaction:
        description: What to do when the peer closes the CHILD SA (C(none), C(clear), C(hold), C(restart)).
        type: str
        default: restart
      dpdaction:
        description: What to do when dead peer detection times out (C(none) turns DPD off, C(clear), C(hold), C(restart)).
        type: str
        default: restart
      ikelifetime:
        description: IKE SA lifetime.
        type: str
        default: 3h
      lifetime:
        description: CHILD SA lifetime.
        type: str
        default: 1h
      margintime:
        description: Time before expiry when rekeying starts.
        type: str
        default: 9m
      keyingtries:
        description: Attempts to negotiate a connection.
        type: str
        default: "%forever"
      additional_options:
        description:
          - "More swanctl.conf settings, as a mapping, for example C({mobike: no}). Connection settings go into
            the connection, CHILD SA settings (such as C(inactivity) or C(replay_window)) into its child."
          - Settings rendered from other options, and C(ipsec.conf) option names, are refused.
        type: dict
        default: {}
  local:
    description: The cluster side (chart values C(local.*)).
    type: dict
    default: {}
    suboptions:
      subnet:
        description: Cluster subnets the on-prem network reaches; must include the pod network unless O(enable_pod_snat).
        type: list
        elements: str
        default: [172.30.0.0/16, 172.21.0.0/16]
      id:
        description:
          - IKE identity of the cluster side (an IP address, FQDN, C(@name), email or DN such as
            C(C=US, O=Example, CN=cluster)).
          - Written to swanctl.conf quoted as strongSwan's parser reads quoted strings, so every character is part
            of the identity; empty values, white space at either end and control characters are refused.
        type: str
        default: ibm-cloud
  remote:
    description: The on-prem side (chart values C(remote.*)). Required with O(state=present).
    type: dict
    suboptions:
      gateway:
        description: Public address of the on-prem VPN endpoint, or C(%any) to accept any (only with O(ipsec.auto=add)).
        type: str
        default: "%any"
      subnet:
        description: On-prem subnets to reach.
        type: list
        elements: str
        required: true
      id:
        description: IKE identity of the on-prem side; the rules of O(local.id) apply.
        type: str
        default: on-prem
      private_ip_to_ping:
        description:
          - An on-prem address in O(remote.subnet). The VPN pod's readiness probe pings it through the tunnel,
            so the pod is ready only while the tunnel carries traffic.
          - Without it, the pod is ready while its IKE SA is established.
        type: str
  preshared_secret:
    description:
      - The pre-shared key. Stored in a Secret, never logged, masked in diffs and results.
      - At least 20 characters; the chart's placeholder C(strongswan-preshared-secret) is refused (unless O(force)).
      - Required with O(state=present).
    type: str
  cluster_pod_subnet:
    description: The cluster's pod network, for the checks (IKS default).
    type: str
    default: 172.30.0.0/16
  cluster_service_subnet:
    description: The cluster's service network, for the checks (IKS default).
    type: str
    default: 172.21.0.0/16
  enable_pod_snat:
    description:
      - Pods reach the on-prem network with the VPN pod's address (SNAT in the VPN pod), so O(local.subnet)
        need not include the pod network; the tunnel's local traffic selectors add the VPN pod's own address.
      - Needs iptables in the image (O(image_flavor=debian)).
    type: bool
    default: false
  routes:
    description:
      - Deploy the routes DaemonSet (host network, C(NET_ADMIN)) that routes O(remote.subnet) to the VPN pod on
        every node, so every pod's traffic to the on-prem network enters the tunnel. It finds the VPN pod
        through the headless Service C(<name>-strongswan-pod) and follows it when it moves.
    type: bool
    default: true
  routes_node_selector:
    description: Nodes the routes DaemonSet runs on (all nodes by default); it has the O(tolerations) of the VPN pod.
    type: dict
    default: {}
  cluster_domain:
    description: The cluster's DNS domain, for the name of the VPN pod the routes DaemonSet resolves.
    type: str
    default: cluster.local
  enable_service_source_ip:
    description: Keep the client's source IP (C(externalTrafficPolicy=Local) on the Service).
    type: bool
    default: false
  load_balancer_ip:
    description: Portable IP address for the VPN Service.
    type: str
  private:
    description: Expose the VPN Service on a private IP (provider annotation) instead of a public one.
    type: bool
    default: false
  provider:
    description: Cloud provider, for the Service annotation.
    type: str
    choices: [ibm, aws, gcp, azure, digitalocean, none]
    default: ibm
  node_selector:
    description:
      - Where the VPN pod runs; by default on the edge nodes (the collection's edge marker, which playbooks set
        with C(secure_cluster_edge_labels)).
    type: dict
    default:
      dedicated: edge
  tolerations:
    description:
      - Tolerations of the VPN pod; by default those of the edge taints (C(secure_cluster_edge_taints) in
        playbooks).
    type: list
    elements: dict
    default:
      - {key: dedicated, operator: Equal, value: edge, effect: NoSchedule}
      - {key: dedicated, operator: Equal, value: edge, effect: NoExecute}
  privileged:
    description: Run the VPN pod privileged instead of with only C(NET_ADMIN).
    type: bool
    default: false
  logging:
    description: charon log levels (container log) per subsystem (C(default), C(ike), C(knl), C(cfg), ...); C(ike) and C(knl) must be at least 1.
    type: dict
    default: {ike: 2, knl: 2, cfg: 1}
  force:
    description: Accept a short pre-shared key or the chart's placeholder.
    type: bool
    default: false
  validate_only:
    description:
      - Only check the options, with the same rules as a real run, and connect to nothing. The pattern's
        up-front checks use it, so a VPN option the module would refuse stops the run before the first step.
    type: bool
    default: false
  wait_timeout:
    description: With O(state=absent), seconds to wait for the objects to be gone.
    type: int
    default: 120
extends_documentation_fragment:
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The pre-shared key is masked.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Connect the cluster to the on-prem network (on-prem initiates)
  containers_workload.secure_cluster.strongswan_vpn:
    local:
      subnet: [172.30.0.0/16, 172.21.0.0/16]
      id: ibm-cloud
    remote:
      subnet: [192.168.100.0/24]
      id: on-prem
    preshared_secret: "{{ vault_vpn_psk }}"
    ipsec:
      ike: aes256-sha256-modp2048!
      esp: aes256-sha256!
    private: true

- name: The cluster initiates; pods leave with the VPN pod's address (image built from extensions/strongswan)
  containers_workload.secure_cluster.strongswan_vpn:
    image: registry.example.com/strongswan:5.9.8-debian
    image_flavor: debian
    enable_pod_snat: true
    local:
      subnet: [172.21.0.0/16]
    remote:
      gateway: 198.51.100.7
      subnet: [192.168.100.0/24]
      private_ip_to_ping: 192.168.100.1
    preshared_secret: "{{ vault_vpn_psk }}"
    ipsec:
      auto: start

- name: Remove the VPN (waits until its objects are gone)
  containers_workload.secure_cluster.strongswan_vpn:
    state: absent
"""

RETURN = r"""
objects:
  description: The objects created, updated or deleted (kind/namespace/name), and whether each changed.
  returned: unless validate_only
  type: list
  elements: dict
  sample: [{kind: ConfigMap, namespace: strongswan, name: vpn-strongswan-config, changed: true},
           {kind: DaemonSet, namespace: strongswan, name: vpn-strongswan-routes, changed: true}]
swanctl_conf:
  description: The rendered swanctl.conf (the secrets section, in the Secret, is not part of it).
  returned: when state is present, unless validate_only
  type: str
strongswan_conf:
  description: The rendered strongswan.conf (plugins, logging to the container log, start script C(swanctl --load-all)).
  returned: when state is present, unless validate_only
  type: str
warnings_weak_algorithms:
  description: Weak algorithms found in the proposals (they are allowed, with a warning).
  returned: when state is present, unless validate_only
  type: list
  elements: str
validated:
  description: The options passed the module's checks (nothing else was done).
  returned: with validate_only
  type: bool
  sample: true
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.vpn import strongswan
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import EDGE_LABELS, EDGE_TAINTS, edge_tolerations
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "name": {"type": "str", "default": "vpn"},
    "namespace": {"type": "str", "default": "strongswan"},
    "create_namespace": {"type": "bool", "default": True},
    "image": {"type": "str", "default": "docker.io/strongx509/strongswan:5.9.14"},
    "image_flavor": {"type": "str", "default": "strongx509", "choices": list(strongswan.FLAVORS)},
    "ipsec": {"type": "dict", "default": {}, "options": {
        "keyexchange": {"type": "str", "default": "ikev2", "no_log": False},
        "ike": {"type": "str", "default": ""},
        "esp": {"type": "str", "default": ""},
        "auto": {"type": "str", "default": "add"},
        "closeaction": {"type": "str", "default": "restart"},
        "dpdaction": {"type": "str", "default": "restart"},
        "ikelifetime": {"type": "str", "default": "3h"},
        "lifetime": {"type": "str", "default": "1h"},
        "margintime": {"type": "str", "default": "9m"},
        "keyingtries": {"type": "str", "default": "%forever", "no_log": False},
        "additional_options": {"type": "dict", "default": {}},
    }},
    "local": {"type": "dict", "default": {}, "options": {
        "subnet": {"type": "list", "elements": "str", "default": ["172.30.0.0/16", "172.21.0.0/16"]},
        "id": {"type": "str", "default": "ibm-cloud"},
    }},
    "remote": {"type": "dict", "options": {
        "gateway": {"type": "str", "default": "%any"},
        "subnet": {"type": "list", "elements": "str", "required": True},
        "id": {"type": "str", "default": "on-prem"},
        "private_ip_to_ping": {"type": "str"},
    }},
    "preshared_secret": {"type": "str", "no_log": True},
    "cluster_pod_subnet": {"type": "str", "default": "172.30.0.0/16"},
    "cluster_service_subnet": {"type": "str", "default": "172.21.0.0/16"},
    "enable_pod_snat": {"type": "bool", "default": False},
    "enable_service_source_ip": {"type": "bool", "default": False},
    "routes": {"type": "bool", "default": True},
    "routes_node_selector": {"type": "dict", "default": {}},
    "cluster_domain": {"type": "str", "default": "cluster.local"},
    "load_balancer_ip": {"type": "str"},
    "private": {"type": "bool", "default": False},
    "provider": {"type": "str", "default": "ibm", "choices": list(providers.PROVIDERS)},
    "node_selector": {"type": "dict", "default": EDGE_LABELS},
    "tolerations": {"type": "list", "elements": "dict", "default": edge_tolerations(EDGE_TAINTS)},
    "privileged": {"type": "bool", "default": False},
    "logging": {"type": "dict", "default": {"ike": 2, "knl": 2, "cfg": 1}},
    "force": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 120},
    "validate_only": {"type": "bool", "default": False},
}


def main() -> None:
    run_module("strongswan_vpn", ARGUMENT_SPEC, strongswan.run, errors=strongswan.param_errors,
               required_if=[("state", "present", ("remote", "preshared_secret"))])


if __name__ == "__main__":
    main()
