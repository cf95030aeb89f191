"""strongSwan options -> validated swanctl.conf, strongswan.conf, secrets and Kubernetes objects."""

import base64
import copy
import hashlib

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.vpn import strongswan
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.apply import mask_secrets

PSK = "Zt4q9V1mXr7LcW2pK8sY5nB3"
SALT = "5f0c2a9e3b7d41c8a6e2f1b0d9c8e7a6"
BASE = {
    "name": "vpn", "namespace": "strongswan", "create_namespace": True, "image": "strongswan:5.9",
    "image_flavor": "strongx509", "routes": True, "routes_node_selector": {}, "cluster_domain": "cluster.local",
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
    ({"remote__id": ""}, "remote.id '' must not be empty"),
    ({"remote__id": "on-prem "}, "remote.id 'on-prem ' must not begin or end with white space"),
    ({"local__id": "cluster\nid-remote = x"}, "must not contain control characters"),
    ({"local__id": "cluster\tx"}, "must not contain control characters"),
    ({"name": "VPN_1"}, "name 'VPN_1' must be lower-case letters, digits and '-'"),
    ({"name": "v" * 46}, "at most 45 characters"),
    ({"ipsec__lifetime": "1 hour"}, "ipsec.lifetime '1 hour' is not a duration"),
    ({"remote__private_ip_to_ping": "10.1.1.1"}, "remote.private_ip_to_ping 10.1.1.1 is not in remote.subnet"),
    ({"logging": {"ike": 0, "knl": 2}}, "logging level of 'ike' must be at least 1"),
    ({"preshared_secret": "strongswan-preshared-secret"}, "preshared_secret is the chart's placeholder value"),
    ({"preshared_secret": "short"}, "preshared_secret is only 5 characters"),
    ({"load_balancer_ip": "10.0.0.300"}, "load_balancer_ip '10.0.0.300' is not an IP address"),
    ({"ipsec__keyexchange": "ikev1", "local__subnet": ["172.30.0.0/16"]}, "cannot do IKEv1; use ikev2"),
    ({"enable_pod_snat": True}, "enable_pod_snat needs iptables in the VPN pod"),
    ({"ipsec__esp": "serpent256-sha256"}, "ipsec.esp uses serpent256, which the image strongswan:5.9"),
    ({"ipsec__closeaction": "restart-now"}, "ipsec.closeaction 'restart-now' is not one of none, clear, hold, restart"),
    ({"ipsec__margintime": "2h", "ipsec__lifetime": "1h"}, "ipsec.margintime 2h must be shorter than ipsec.lifetime"),
    ({"ipsec__keyingtries": "often"}, "ipsec.keyingtries 'often' is not a number"),
    ({"ipsec__additional_options": {"leftfirewall": "yes"}}, "'leftfirewall' is not a swanctl.conf connection"),
    ({"logging": {"ike": 2, "knl": 2, "kernel": 1}}, "logging subsystem 'kernel' is not one of"),
    ({"cluster_domain": "Cluster_Local"}, "cluster_domain 'Cluster_Local' is not a DNS domain"),
])
def test_each_bad_setting_is_reported_with_the_value_and_the_fix(changes, message):
    errors = strongswan.param_errors(params(**changes))
    assert any(message in e for e in errors), errors


def test_pod_snat_lets_local_subnet_omit_the_pod_network():
    snat = params(local__subnet=["172.21.0.0/16"], enable_pod_snat=True, image_flavor="debian")
    assert strongswan.param_errors(snat) == []


def test_the_debian_flavor_can_do_ikev1():
    ikev1 = params(ipsec__keyexchange="ikev1", local__subnet=["172.30.0.0/16"], image_flavor="debian")
    assert strongswan.param_errors(ikev1) == []


def test_force_accepts_a_short_psk_but_never_a_malformed_one():
    assert strongswan.param_errors(params(preshared_secret="short", force=True)) == []
    assert strongswan.param_errors(params(preshared_secret='bad"quote', force=True))


def test_strict_proposals_with_aead_ciphers_are_valid():
    assert strongswan.proposal_errors("ipsec.ike", "aes256gcm16-prfsha384-ecp384!", ike=True) == []
    assert strongswan.proposal_errors("ipsec.esp", "aes256gcm16-noesn,chacha20poly1305!", ike=False) == []


def test_swanctl_conf_maps_the_chart_values():
    conf = strongswan.render_swanctl_conf(params(remote__gateway="203.0.113.5", ipsec__auto="start",
                                                 ipsec__additional_options={"mobike": "no", "inactivity": "300"}))
    for line in ("connections {", "  k8s-conn {", "    version = 2", "    remote_addrs = 203.0.113.5",
                 "    proposals = aes256-sha256-modp2048",  # '!' (strict): no defaults appended
                 "    rekey_time = 10260s", "    over_time = 540s",  # 3h - 9m, 9m
                 "    keyingtries = 0", "    unique = replace", "    dpd_delay = 30s", "    mobike = no",
                 '      id = "ibm-cloud"', '      id = "on-prem"', "      auth = psk",
                 "        local_ts = 172.30.0.0/16, 172.21.0.0/16", "        remote_ts = 192.168.100.0/24",
                 "        esp_proposals = aes256-sha256", "        rekey_time = 3060s", "        life_time = 3600s",
                 "        start_action = start", "        close_action = start", "        dpd_action = restart",
                 "        inactivity = 300", "include conf.d/*.conf"):
        assert f"{line}\n" in conf, (line, conf)
    assert PSK not in conf
    assert "    proposals = aes256-sha256-modp2048, default\n" in strongswan.render_swanctl_conf(
        params(ipsec__ike="aes256-sha256-modp2048"))
    assert "version = 0\n" in strongswan.render_swanctl_conf(params(ipsec__keyexchange="ike"))
    assert "start_action = trap\n" in strongswan.render_swanctl_conf(params(ipsec__auto="route"))
    snat = strongswan.render_swanctl_conf(params(enable_pod_snat=True, local__subnet=["172.21.0.0/16"]))
    assert "local_ts = 172.21.0.0/16, dynamic\n" in snat


@pytest.mark.parametrize("identity, written", [
    ("cluster}", '"cluster}"'),  # a brace no longer ends the section
    ("C=US, O=Example # Corp, CN=gw", '"C=US, O=Example # Corp, CN=gw"'),  # a DN: spaces, '#' and '='
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
])
def test_identities_are_written_as_strongswan_reads_quoted_strings(identity, written):
    changed = params(local__id=identity, remote__id=identity)
    assert strongswan.param_errors(changed) == []
    conf = strongswan.render_swanctl_conf(changed)
    secret = strongswan.render_secrets_conf(changed)
    assert f"      id = {written}\n" in conf
    assert f"    id-local = {written}\n" in secret and f"    id-remote = {written}\n" in secret


def test_subnets_are_written_in_the_form_strongswan_reads():
    changed = params(remote__subnet=["192.168.100.0/255.255.255.0", "10.9.0.1"])
    assert strongswan.param_errors(changed) == []
    assert "        remote_ts = 192.168.100.0/24, 10.9.0.1/32\n" in strongswan.render_swanctl_conf(changed)
    routes = next(o for o in strongswan.objects(changed, SALT) if o["kind"] == "DaemonSet")
    env = {e["name"]: e["value"] for e in routes["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["REMOTE_SUBNETS"] == "192.168.100.0/24 10.9.0.1/32"


def test_strongswan_conf_logs_to_the_container_and_loads_swanctl():
    conf = strongswan.render_strongswan_conf(params())
    assert "    stderr {\n" in conf and "      ike = 2\n" in conf and "      default = 1\n" in conf
    assert "    load-all = swanctl --load-all --noprompt\n" in conf
    assert "include strongswan.d/charon/*.conf" in conf


def test_psk_lives_in_a_secret_and_never_in_the_configmap():
    objs = {o["kind"]: o for o in strongswan.objects(params(), SALT)}
    assert PSK not in str(objs["ConfigMap"])
    secret = base64.b64decode(objs["Secret"]["data"]["secrets.conf"]).decode()
    assert f"secret = 0s{base64.b64encode(PSK.encode()).decode()}\n" in secret
    assert 'id-local = "ibm-cloud"\n' in secret and 'id-remote = "on-prem"\n' in secret
    assert PSK not in str(mask_secrets(objs["Secret"]))


def test_the_vpn_pod_runs_charon_with_the_config_mounted_where_the_image_reads_it():
    deployment = next(o for o in strongswan.objects(params(), SALT) if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/usr/libexec/ipsec/charon"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {
        "/etc/strongswan.conf", "/etc/swanctl/swanctl.conf", "/etc/swanctl/conf.d"}
    debian = next(o for o in strongswan.objects(params(image_flavor="debian", enable_pod_snat=True), SALT)
                  if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert debian["command"][:2] == ["/bin/sh", "-c"]
    assert ('iptables -t nat -A POSTROUTING -s 172.30.0.0/16 -d 192.168.100.0/24 -j SNAT --to-source "$POD_IP"'
            in debian["command"][2])
    assert debian["command"][2].endswith("exec /usr/lib/ipsec/charon\n")


def test_private_ip_to_ping_is_the_readiness_probe():
    def probe(p):
        deployment = next(o for o in strongswan.objects(p, SALT) if o["kind"] == "Deployment")
        return deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert probe(params(remote__private_ip_to_ping="192.168.100.7")) == ["ping", "-c", "1", "-W", "2",
                                                                         "192.168.100.7"]
    assert "ESTABLISHED" in probe(params())[-1]
    lb = next(o for o in strongswan.objects(params(), SALT) if o["kind"] == "Service")
    assert lb["spec"]["publishNotReadyAddresses"] is True  # IKE must reach a pod whose tunnel is down


def test_routes_daemonset_runs_everywhere_the_vpn_pod_tolerates_and_is_removed_with_it():
    tolerations = [{"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoExecute"}]
    objs = strongswan.objects(params(tolerations=tolerations, remote__subnet=["192.168.100.0/24", "10.9.0.0/16"]),
                              SALT)
    routes = next(o for o in objs if o["kind"] == "DaemonSet")
    pod = routes["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["tolerations"] == tolerations and "nodeSelector" not in pod
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["REMOTE_SUBNETS"] == "192.168.100.0/24 10.9.0.0/16"
    assert env["VPN_POD_HOST"] == "vpn-strongswan-pod.strongswan.svc.cluster.local"
    headless = next(o for o in objs if o["metadata"]["name"] == "vpn-strongswan-pod")
    assert headless["spec"]["clusterIP"] == "None"
    refs = {(o["kind"], o["metadata"]["name"]) for o in strongswan.object_refs(params())}
    assert {(o["kind"], o["metadata"]["name"]) for o in objs} == refs
    assert "DaemonSet" not in {o["kind"] for o in strongswan.objects(params(routes=False), SALT)}


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
    conf = objs["ConfigMap"]["data"]["swanctl.conf"]
    secrets = base64.b64decode(objs["Secret"]["data"]["secrets.conf"]).decode()
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
