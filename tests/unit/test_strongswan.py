"""strongSwan options -> validated ipsec.conf, ipsec.secrets and Kubernetes objects."""

import base64
import copy
import hashlib

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import strongswan
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.k8s_apply import mask_secrets

PSK = "Zt4q9V1mXr7LcW2pK8sY5nB3"
SALT = "5f0c2a9e3b7d41c8a6e2f1b0d9c8e7a6"
BASE = {
    "name": "vpn", "namespace": "strongswan", "create_namespace": True, "image": "strongswan:5.9",
    "ipsec": {"keyexchange": "ikev2", "ike": "aes256-sha256-modp2048!", "esp": "aes256-sha256!", "auto": "add",
              "closeaction": "restart", "dpdaction": "restart", "ikelifetime": "3h", "lifetime": "1h",
              "margintime": "9m", "keyingtries": "%forever", "additional_options": {}},
    "local": {"subnet": ["172.30.0.0/16", "172.21.0.0/16"], "id": "ibm-cloud"},
    "remote": {"gateway": "%any", "subnet": ["192.168.100.0/24"], "id": "on-prem", "private_ip_to_ping": None},
    "preshared_secret": PSK, "cluster_pod_subnet": "172.30.0.0/16", "cluster_service_subnet": "172.21.0.0/16",
    "enable_pod_snat": False, "enable_service_source_ip": False, "load_balancer_ip": None, "private": True,
    "provider": "ibm", "node_selector": {"dedicated": "edge"}, "tolerations": [], "privileged": False,
    "logging": {"ike": 2, "knl": 2, "cfg": 1}, "force": False,
}


def params(**changes):
    out = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        target = out
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return out


def test_good_settings_validate_cleanly():
    assert strongswan.param_errors(params()) == []


@pytest.mark.parametrize("changes, message", [
    ({"local__subnet": ["10.85.247.249/29", "172.30.0.0/16"]},
     "local.subnet '10.85.247.249/29' is not a network address: use '10.85.247.248/29'"),
    ({"remote__subnet": ["192.168.100.0/33"]}, "remote.subnet '192.168.100.0/33' is not a valid CIDR"),
    ({"remote__subnet": ["172.30.0.0/24"]}, "overlaps remote.subnet 172.30.0.0/24"),
    ({"remote__subnet": ["172.21.5.0/24"]}, "overlaps the cluster's service range 172.21.0.0/16"),
    ({"local__subnet": ["172.21.0.0/16"]}, "does not include the pod network 172.30.0.0/16"),
    ({"ipsec__keyexchange": "ikev1"}, "IKEv1 allows only one local and one remote subnet"),
    ({"ipsec__keyexchange": "ikev3"}, "ipsec.keyexchange 'ikev3' is not one of ikev1, ikev2, ike"),
    ({"ipsec__ike": "aes256-sha256"}, "needs a Diffie-Hellman group"),
    ({"ipsec__ike": "aes256-sha512-modp2049"}, "unknown algorithm(s) modp2049"),
    ({"ipsec__esp": "aes256"}, "needs an integrity algorithm"),
    ({"ipsec__esp": "sha256-modp2048"}, "has no encryption algorithm"),
    ({"ipsec__ike": "aes256gcm16-prfsha256-ecp256,"}, "has an empty proposal"),
    ({"ipsec__auto": "start"}, "remote.gateway must be the on-prem VPN endpoint's address, not %any"),
    ({"ipsec__auto": "always"}, "ipsec.auto 'always' is not one of add"),
    ({"remote__id": "on prem"}, "remote.id 'on prem' must be non-empty without spaces"),
    ({"ipsec__lifetime": "1 hour"}, "ipsec.lifetime '1 hour' is not a duration"),
    ({"remote__private_ip_to_ping": "10.1.1.1"}, "remote.private_ip_to_ping 10.1.1.1 is not in remote.subnet"),
    ({"logging": {"ike": 0, "knl": 2}}, "logging level of 'ike' must be at least 1"),
    ({"preshared_secret": "strongswan-preshared-secret"}, "preshared_secret is the chart's placeholder value"),
    ({"preshared_secret": "short"}, "preshared_secret is only 5 characters"),
    ({"load_balancer_ip": "10.0.0.300"}, "load_balancer_ip '10.0.0.300' is not an IP address"),
])
def test_each_bad_setting_is_reported_with_the_value_and_the_fix(changes, message):
    errors = strongswan.param_errors(params(**changes))
    assert any(message in e for e in errors), errors


def test_pod_snat_lets_local_subnet_omit_the_pod_network():
    assert strongswan.param_errors(params(local__subnet=["172.21.0.0/16"], enable_pod_snat=True)) == []


def test_force_accepts_a_short_psk_but_never_a_malformed_one():
    assert strongswan.param_errors(params(preshared_secret="short", force=True)) == []
    assert strongswan.param_errors(params(preshared_secret='bad"quote', force=True))


def test_strict_proposals_with_aead_ciphers_are_valid():
    assert strongswan.proposal_errors("ipsec.ike", "aes256gcm16-prfsha384-ecp384!", ike=True) == []
    assert strongswan.proposal_errors("ipsec.esp", "aes256gcm16-noesn,chacha20poly1305!", ike=False) == []


def test_ipsec_conf_has_the_connection_as_the_chart_values_describe():
    conf = strongswan.render_ipsec_conf(params(remote__gateway="203.0.113.5", ipsec__auto="start"))
    for line in ("conn k8s-conn", "keyexchange=ikev2", "authby=secret", "leftsubnet=172.30.0.0/16,172.21.0.0/16",
                 "leftid=ibm-cloud", "right=203.0.113.5", "rightsubnet=192.168.100.0/24", "rightid=on-prem",
                 "auto=start", "ike=aes256-sha256-modp2048!", "esp=aes256-sha256!", 'charondebug="cfg 1, ike 2, knl 2"'):
        assert f"{line}\n" in conf
    assert PSK not in conf


def test_psk_lives_in_a_secret_and_never_in_the_configmap():
    objs = {o["kind"]: o for o in strongswan.objects(params(), SALT)}
    assert PSK not in str(objs["ConfigMap"])
    secret = base64.b64decode(objs["Secret"]["data"]["ipsec.secrets"]).decode()
    assert secret == f'ibm-cloud on-prem : PSK "{PSK}"\n'
    assert PSK not in str(mask_secrets(objs["Secret"]))


def test_vpn_pod_runs_on_edge_nodes_with_net_admin_only():
    deployment = next(o for o in strongswan.objects(params(), SALT) if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"dedicated": "edge"}
    assert pod["containers"][0]["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}}
    privileged = next(o for o in strongswan.objects(params(privileged=True), SALT) if o["kind"] == "Deployment")
    assert privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] == {"privileged": True}


def test_a_config_change_changes_the_pod_checksum_so_the_pod_rolls():
    def checksum(p, salt=SALT):
        deployment = next(o for o in strongswan.objects(p, salt) if o["kind"] == "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"][
            "secure-cluster.containers-workload/config-checksum"]
    assert checksum(params()) == checksum(params())
    assert checksum(params()) != checksum(params(remote__subnet=["192.168.200.0/24"]))
    assert checksum(params()) != checksum(params(preshared_secret=PSK + "x"))
    # Keyed by the salt kept in the Secret: the annotation alone does not let anyone test PSK guesses.
    assert checksum(params()) != checksum(params(), salt="another-salt")
    objs = {o["kind"]: o for o in strongswan.objects(params(), SALT)}
    conf = objs["ConfigMap"]["data"]["ipsec.conf"]
    secrets = base64.b64decode(objs["Secret"]["data"]["ipsec.secrets"]).decode()
    assert checksum(params()) != hashlib.sha256(f"{conf}\0{secrets}".encode()).hexdigest()
    assert strongswan.checksum_salt(objs["Secret"]) == SALT
    assert strongswan.checksum_salt(None) != strongswan.checksum_salt(None)


@pytest.mark.parametrize("provider, private, annotations", [
    ("ibm", True, {"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": "private"}),
    ("ibm", False, {"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": "public"}),
    ("aws", True, {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}),
    ("gcp", True, {"networking.gke.io/load-balancer-type": "Internal"}),
    ("azure", True, {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
    ("aws", False, {}),
])
def test_service_is_private_or_public_through_the_providers_annotation(provider, private, annotations):
    svc = next(o for o in strongswan.objects(params(provider=provider, private=private), SALT) if o["kind"] == "Service")
    assert svc["metadata"].get("annotations", {}) == annotations
    assert [(p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [(500, "UDP"), (4500, "UDP")]
