"""The VPN pod strongswan_vpn deploys works end to end against a real strongSwan peer.

Nothing here renders configuration for the cluster side. After the module ran against the local cluster, the
test reads the Deployment, ConfigMap, Secret and routes DaemonSet back and executes them (pod_exec.py): the
VPN container's command with each volume at its mountPath, in a network namespace standing for the VPN pod,
with the plugin set of the image (its strongswan.d) plus kernel-libipsec (this kernel has no ESP transform);
the routes DaemonSet's command in the namespace standing for the node. The on-prem gateway is a separate
charon with a configuration written here by hand (ipsec.conf through the starter, as an administrator would).

    pod 172.30.1.5 --\\                                   /-- on-prem gateway 10.250.0.2 (charon)
                      node (forwards; MASQUERADEs pods     |   host 192.168.100.1 (remote.subnet)
    VPN pod          --/   to the outside, like Calico) --/
    172.30.0.10 (charon from the Deployment's command)

Addresses follow Calico's layout: each pod has a /32 on eth0 and a default route via 169.254.1.1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import run_module, wait_until
from pod_exec import Container

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

NODE_OUT, ONPREM_GW = "10.250.0.1", "10.250.0.2"
VPN_POD_IP, OTHER_POD_IP, POD_NET, SERVICE_NET = "172.30.0.10", "172.30.1.5", "172.30.0.0/16", "172.21.0.0/16"
ONPREM_SUBNET, ONPREM_HOST = "192.168.100.0/24", "192.168.100.1"
IKE, ESP = "aes256-sha256-modp2048!", "aes256-sha256!"
ECHO_PORT = 7007

# docker.io/strongx509/strongswan:5.9.14 (github.com/strongX509/docker, strongswan/Dockerfile at the commit
# "Upgrade to strongswan-5.9.14"): ./configure --disable-defaults --enable-charon --enable-ikev2 and these
# plugins; charon installed as /usr/libexec/ipsec/charon.
IMAGE_PLUGINS = {"random", "nonce", "x509", "constraints", "pubkey", "pem", "openssl", "kernel-netlink", "resolve",
                 "socket-default", "vici", "updown", "eap-identity", "eap-md5", "eap-dynamic", "eap-tls"}
# Debian bookworm does not build eap-dynamic (an EAP method selector; PSK never uses it).
NOT_IN_DEBIAN = {"eap-dynamic"}
# Debian's 5.9.8 openssl plugin does not offer KDF_PRF here (charon: "KDF_PRF with PRF_HMAC_SHA2_256 not
# supported", "key derivation failed"); the image's 5.9.14 openssl plugin does (its maintainer's README shows
# IKE SAs with exactly IMAGE_PLUGINS). strongSwan's kdf plugin implements the same RFC 7296 prf/prf+ on top
# of openssl's HMAC, so it stands in. kernel-libipsec: this kernel has no ESP transform.
STAND_INS = {"kdf", "kernel-libipsec"}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


class OnPrem:
    """The on-prem gateway: its own namespace, /etc/netns files and a charon started by the ipsec starter."""

    STRONGSWAN_CONF = """charon {{
  plugins {{
    include strongswan.d/charon/*.conf
    kernel-libipsec {{
      load = yes
    }}
  }}
  filelog {{
    onprem {{
      path = {log}
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }}
  }}
}}
include strongswan.d/*.conf
"""

    def __init__(self, name: str, workdir: Path):
        self.name, self.etc, self.log = name, Path("/etc/netns") / name, workdir / "onprem.log"

    def start(self, psk: str, local_ts: str, ike: str = IKE, esp: str = ESP) -> None:
        conf = f"""config setup
conn to-cloud
    keyexchange=ikev2
    authby=secret
    left={ONPREM_GW}
    leftsubnet={ONPREM_SUBNET}
    leftid=on-prem
    right=%any
    rightsubnet={local_ts}
    rightid=ibm-cloud
    ike={ike}
    esp={esp}
    auto=add
"""
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "ipsec.conf").write_text(conf)
        (self.etc / "ipsec.secrets").write_text(f'on-prem ibm-cloud : PSK "{psk}"\n')
        (self.etc / "ipsec.secrets").chmod(0o600)
        (self.etc / "strongswan.conf").write_text(self.STRONGSWAN_CONF.format(log=self.log))
        sh("ip", "netns", "exec", self.name, "unshare", "-m", "sh", "-c",
           "mount -t tmpfs tmpfs /run && mkdir -p /run/strongswan && ipsec start")
        assert wait_until(lambda: "to-cloud" in self.ipsec("statusall"), 15), self.log_text()[-2000:]

    def pids(self) -> dict[str, int]:
        found = {}
        for pid in sh("ip", "netns", "pids", self.name, check=False).stdout.split():
            try:
                found[Path(f"/proc/{pid}/comm").read_text().strip()] = int(pid)
            except OSError:
                pass
        return found

    def ipsec(self, *args: str) -> str:
        charon = self.pids().get("charon")
        if not charon:
            return ""
        return sh("nsenter", "-t", str(charon), "-m", "-n", "ipsec", *args, check=False).stdout

    def stop(self) -> None:
        for comm in ("starter", "charon"):
            pid = self.pids().get(comm)
            if pid:
                os.kill(pid, signal.SIGTERM)
                for unused in range(50):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.etc, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Network:
    """Namespaces for the node, the VPN pod, another pod and the on-prem gateway (names start with 15)."""

    def __init__(self, workdir: Path):
        tag = uuid.uuid4().hex[:6]
        self.node, self.vpn, self.pod = f"15n{tag}", f"15v{tag}", f"15p{tag}"
        self.onprem = OnPrem(f"15o{tag}", workdir)
        self.vpn_dev, self.pod_dev, self.out_dev = f"cv{tag}", f"cp{tag}", f"out{tag}"
        self.processes: list = []
        for ns in (self.node, self.vpn, self.pod, self.onprem.name):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Pods: a /32 on eth0 and a default route via 169.254.1.1 on the node's side of the veth (Calico).
        for ns, dev, address in ((self.vpn, self.vpn_dev, VPN_POD_IP), (self.pod, self.pod_dev, OTHER_POD_IP)):
            sh("ip", "link", "add", dev, "netns", self.node, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", ns, "addr", "add", f"{address}/32", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
            sh("ip", "-n", ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")
            sh("ip", "-n", self.node, "addr", "add", "169.254.1.1/32", "dev", dev)
            sh("ip", "-n", self.node, "link", "set", dev, "up")
            sh("ip", "-n", self.node, "route", "add", address, "dev", dev, "scope", "link")
        sh("ip", "link", "add", self.out_dev, "netns", self.node, "type", "veth", "peer", "name", "eth0",
           "netns", self.onprem.name)
        for ns, dev, address in ((self.node, self.out_dev, NODE_OUT), (self.onprem.name, "eth0", ONPREM_GW)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.onprem.name, "addr", "add", f"{ONPREM_HOST}/32", "dev", "lo")
        # kernel-libipsec (this kernel only) installs a CHILD SA's route only with a local address inside each
        # local traffic selector; the pod's kernel-netlink does not need one. An address of the service
        # network on the VPN pod's lo satisfies it (the pod network has the pod's own address).
        sh("ip", "-n", self.vpn, "addr", "add", "172.21.0.1/32", "dev", "lo")
        # What a Kubernetes node gives its pods: forwarding on (pod namespaces inherit it), and pods' traffic
        # to the outside masqueraded behind the node (Calico's natOutgoing). No route to the on-prem subnet.
        for ns in (self.node, self.vpn):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", self.node, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", POD_NET, "-o",
           self.out_dev, "-j", "MASQUERADE")

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.onprem.stop()
        for ns in (self.node, self.vpn, self.pod, self.onprem.name):
            sh("ip", "netns", "del", ns, check=False)

    def echo_server(self, workdir: Path) -> None:
        """A UDP service on the on-prem host that answers with the source address it saw."""
        code = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.bind(('{ONPREM_HOST}', {ECHO_PORT}))\n"
                "while True:\n    data, peer = s.recvfrom(100)\n    s.sendto(peer[0].encode(), peer)\n")
        self.processes.append(Background(["ip", "netns", "exec", self.onprem.name, sys.executable, "-c", code]))

    def ask_onprem(self, ns: str) -> str:
        """From namespace ``ns``: the address the on-prem host saw, or '' when nothing came back."""
        code = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(2)\n"
                f"s.sendto(b'hello', ('{ONPREM_HOST}', {ECHO_PORT}))\n"
                "try:\n    print(s.recv(100).decode())\nexcept OSError as exc:\n    print('')\n")
        return sh("ip", "netns", "exec", ns, sys.executable, "-c", code, check=False).stdout.strip()


class Background:
    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


@pytest.fixture
def network(tmp_path):
    if not (shutil.which("ipsec") and shutil.which("swanctl") and shutil.which("iptables")):
        pytest.fail("strongSwan (starter, charon, swanctl) or iptables missing: `make deps` installs them")
    net = Network(tmp_path)
    yield net
    net.close()


def image_tree(workdir: Path, flavor: str) -> list[tuple[str, str]]:
    """Bind mounts that make the host's Debian strongSwan look like the image: its plugin set (strongswan.d,
    plus kernel-libipsec), its /etc/swanctl tree, and for strongx509 charon at /usr/libexec/ipsec."""
    root = workdir / f"image-{flavor}"
    plugins_dir = root / "strongswan.d" / "charon"
    plugins_dir.mkdir(parents=True)
    for conf in Path("/etc/strongswan.d").glob("*.conf"):
        shutil.copy(conf, root / "strongswan.d" / conf.name)
    for conf in Path("/etc/strongswan.d/charon").glob("*.conf"):
        plugin = conf.stem
        if flavor == "debian" or plugin in IMAGE_PLUGINS | STAND_INS:
            shutil.copy(conf, plugins_dir / conf.name)
    (plugins_dir / "kernel-libipsec.conf").write_text("kernel-libipsec {\n    load = yes\n}\n")
    swanctl = root / "swanctl"
    for sub in ("conf.d", "x509", "x509ca", "x509aa", "x509ocsp", "x509crl", "x509ac", "pubkey", "private", "rsa",
                "ecdsa", "bliss", "pkcs8", "pkcs12"):
        (swanctl / sub).mkdir(parents=True)
    (swanctl / "swanctl.conf").write_text("# the image's default (empty)\n")
    mounts = [(str(root / "strongswan.d"), "/etc/strongswan.d"), (str(swanctl), "/etc/swanctl")]
    if flavor == "strongx509":
        (root / "libexec" / "ipsec").mkdir(parents=True)
        mounts += [(str(root / "libexec"), "/usr/libexec"), ("/usr/lib/ipsec", "/usr/libexec/ipsec")]
    return mounts


def deploy(cluster, psk: str, **options) -> dict:
    """Run strongswan_vpn against the cluster and read back what it stored (then remove it)."""
    from kubernetes import client
    namespace = f"vpn-{uuid.uuid4().hex[:6]}"
    args = {"name": "interop", "namespace": namespace, "preshared_secret": psk,
            "local": {"subnet": options.pop("local_subnet", [POD_NET, SERVICE_NET]),
                      "id": options.pop("local_id", "ibm-cloud")},
            "remote": {"subnet": options.pop("remote_subnet", [ONPREM_SUBNET]), "id": options.pop("remote_id", "on-prem"),
                       "gateway": ONPREM_GW,
                       "private_ip_to_ping": ONPREM_HOST},
            "ipsec": {"ike": IKE, "esp": ESP, "auto": "start", **options.pop("ipsec", {})}, **options}
    result = run_module(cluster, "strongswan_vpn", args)
    assert not result.get("failed"), result
    assert psk not in str(result)
    api = cluster.client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    plain = api.sanitize_for_serialization
    stored = {
        "deployment": plain(apps.read_namespaced_deployment("interop-strongswan", namespace)),
        "routes": plain(apps.read_namespaced_daemon_set("interop-strongswan-routes", namespace)),
        "configmaps": {"interop-strongswan-config": plain(core.read_namespaced_config_map(
            "interop-strongswan-config", namespace))},
        "secrets": {"interop-strongswan-secrets": plain(core.read_namespaced_secret(
            "interop-strongswan-secrets", namespace))},
        "pod_host": f"interop-strongswan-pod.{namespace}.svc.cluster.local",
    }
    removed = run_module(cluster, "strongswan_vpn", {"state": "absent", "name": "interop", "namespace": namespace})
    assert "DaemonSet" in {o["kind"] for o in removed["objects"]}
    return stored


def start_vpn_pod(net: Network, stored: dict, workdir: Path, flavor: str) -> Container:
    pod_spec = stored["deployment"]["spec"]["template"]["spec"]
    vpn = Container(net.vpn, pod_spec, pod_spec["containers"][0], stored["configmaps"], stored["secrets"],
                    workdir, {"status.podIP": VPN_POD_IP}, image_tree(workdir, flavor), "vpn-pod")
    net.processes.append(vpn)
    return vpn


def start_routes_pod(net: Network, stored: dict, workdir: Path) -> Container:
    """The routes DaemonSet's pod on the node. Cluster DNS is stood in for by /etc/hosts: the headless
    Service's name answers with the VPN pod's address, as CoreDNS would."""
    hosts = workdir / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{VPN_POD_IP} {stored['pod_host']}\n")
    pod_spec = stored["routes"]["spec"]["template"]["spec"]
    assert pod_spec["hostNetwork"] is True
    routes = Container(net.node, pod_spec, pod_spec["containers"][0], stored["configmaps"], stored["secrets"],
                       workdir, {}, [(str(hosts), "/etc/hosts")], "routes-pod")
    net.processes.append(routes)
    return routes


def established(vpn: Container) -> bool:
    sas = vpn.exec(["swanctl", "--list-sas"]).stdout
    return "ESTABLISHED" in sas and "INSTALLED" in sas


def probe(vpn: Container, stored: dict, kind: str = "readinessProbe") -> subprocess.CompletedProcess:
    """Run the exec probe of the Deployment's container inside the VPN pod."""
    return vpn.exec(stored["deployment"]["spec"]["template"]["spec"]["containers"][0][kind]["exec"]["command"])


def loaded_plugins(log: str) -> set[str]:
    found = re.search(r"loaded plugins: (.*)", log)
    return set(found.group(1).split()) - {"charon"} if found else set()


@pytest.mark.parametrize("flavor", ["strongx509"])
def test_the_deployed_vpn_pod_carries_other_pods_traffic_through_the_tunnel(iks_cluster, network, tmp_path, flavor):
    net, psk = network, secrets.token_urlsafe(32)
    stored = deploy(iks_cluster, psk, image_flavor=flavor)
    net.onprem.start(psk, local_ts=f"{POD_NET},{SERVICE_NET}")
    net.echo_server(tmp_path)
    vpn = start_vpn_pod(net, stored, tmp_path, flavor)

    assert wait_until(lambda: established(vpn), 40), (
        f"--- VPN pod log ---\n{vpn.log_text()[-4000:]}\n--- on-prem ---\n{net.onprem.log_text()[-3000:]}")
    log = vpn.log_text()
    # The image's plugins (and the stand-ins above), no others: no stroke, no IKEv1 helpers.
    assert loaded_plugins(log) == IMAGE_PLUGINS - NOT_IN_DEBIAN | STAND_INS, log[:3000]
    assert "executing start script 'load-all' (swanctl --load-all --noprompt)" in log
    assert "loaded connection 'k8s-conn'" in log and "loaded ike secret" in log
    assert psk not in log
    assert vpn.running() and "NAT" in log  # behind the node's masquerade: NAT-T, like a pod behind its node

    # Readiness: the Deployment's probe pings remote.private_ip_to_ping through the tunnel.
    ready = probe(vpn, stored)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert probe(vpn, stored, "livenessProbe").returncode == 0

    # Another pod: no way to the on-prem network until the routes DaemonSet's pod runs on the node.
    assert net.ask_onprem(net.pod) == ""
    routes = start_routes_pod(net, stored, tmp_path)
    assert wait_until(lambda: ONPREM_SUBNET in sh("ip", "-n", net.node, "route").stdout, 20), routes.log_text()
    route = sh("ip", "-n", net.node, "route", "show", ONPREM_SUBNET).stdout
    assert f"via {VPN_POD_IP} dev {net.vpn_dev}" in route, route
    # The on-prem host sees the pod's own address (local.subnet includes the pod network, no SNAT) ...
    assert wait_until(lambda: net.ask_onprem(net.pod), 10) == OTHER_POD_IP
    ping = sh("ip", "netns", "exec", net.pod, "ping", "-c", "2", "-W", "2", ONPREM_HOST, check=False)
    assert ping.returncode == 0, ping.stdout
    # ... through the tunnel: the CHILD SA counted the packets both ways.
    sas = vpn.exec(["swanctl", "--list-sas"]).stdout
    assert re.search(r"in .*\b[1-9]\d* bytes", sas) and re.search(r"out .*\b[1-9]\d* bytes", sas), sas

    # The DaemonSet's pod removes its routes when it stops (pod deleted with state=absent).
    routes.stop()
    assert ONPREM_SUBNET not in sh("ip", "-n", net.node, "route").stdout
    assert "removed" in routes.log_text()
    assert net.ask_onprem(net.pod) == ""


def test_pod_snat_gives_pods_the_vpn_pods_address(iks_cluster, network, tmp_path):
    """enable_pod_snat (image built from extensions/strongswan/Containerfile): local.subnet without the pod
    network; the on-prem side accepts the pod network but sees only the VPN pod's address."""
    net, psk = network, secrets.token_urlsafe(32)
    stored = deploy(iks_cluster, psk, image_flavor="debian", enable_pod_snat=True, local_subnet=[SERVICE_NET])
    net.onprem.start(psk, local_ts=f"{SERVICE_NET},{POD_NET}")
    net.echo_server(tmp_path)
    vpn = start_vpn_pod(net, stored, tmp_path, "debian")
    assert wait_until(lambda: established(vpn), 40), vpn.log_text()[-4000:]
    sas = vpn.exec(["swanctl", "--list-sas"]).stdout
    assert f"{VPN_POD_IP}/32" in sas and f"{OTHER_POD_IP}" not in sas, sas
    routes = start_routes_pod(net, stored, tmp_path)
    assert wait_until(lambda: ONPREM_SUBNET in sh("ip", "-n", net.node, "route").stdout, 20), routes.log_text()
    assert wait_until(lambda: net.ask_onprem(net.pod), 10) == VPN_POD_IP
    assert probe(vpn, stored).returncode == 0


def test_a_wrong_psk_fails_with_the_reason_in_the_vpn_pods_log(iks_cluster, network, tmp_path):
    net = network
    stored = deploy(iks_cluster, secrets.token_urlsafe(32))
    net.onprem.start(secrets.token_urlsafe(32), local_ts=f"{POD_NET},{SERVICE_NET}")
    vpn = start_vpn_pod(net, stored, tmp_path, "strongx509")
    reason = wait_until(lambda: re.search(r"received AUTHENTICATION_FAILED notify error", vpn.log_text()), 30)
    assert reason, vpn.log_text()[-3000:]
    print(f"VPN pod log: {reason.group(0)}")
    assert not established(vpn)
    assert probe(vpn, stored).returncode != 0


def test_a_proposal_mismatch_fails_with_the_reason_in_the_vpn_pods_log(iks_cluster, network, tmp_path):
    net, psk = network, secrets.token_urlsafe(32)
    stored = deploy(iks_cluster, psk)
    net.onprem.start(psk, local_ts=f"{POD_NET},{SERVICE_NET}", ike="aes128-sha1-modp1536!")
    vpn = start_vpn_pod(net, stored, tmp_path, "strongx509")
    reason = wait_until(lambda: re.search(r"received NO_PROPOSAL_CHOSEN notify error", vpn.log_text()), 30)
    assert reason, vpn.log_text()[-3000:]
    print(f"VPN pod log: {reason.group(0)}")
    assert "received proposals unacceptable" in net.onprem.log_text()
    assert not established(vpn)
    assert probe(vpn, stored).returncode != 0


# Values strongswan_vpn accepts that swanctl.conf's syntax gives a meaning of its own ('}' ends a section, '#'
# starts a comment, '"' a string, '=' a setting): each must reach charon exactly as given.
EDGE_IDENTITIES = [
    ("cluster}", "on-prem{"),
    ("C=US, O=Example # Corp, CN=cluster", "peer@example.com"),
    ('say "hi" = \\ back', "@#0a0b"),
]


@pytest.mark.parametrize("local_id, remote_id", EDGE_IDENTITIES)
def test_identities_with_swanctl_syntax_reach_charon_exactly(iks_cluster, network, tmp_path, local_id, remote_id):
    """The module's swanctl.conf and secrets, loaded by the real swanctl --load-all into the real charon."""
    stored = deploy(iks_cluster, secrets.token_urlsafe(32), local_id=local_id, remote_id=remote_id,
                    remote_subnet=["192.168.100.0/255.255.255.0", "10.9.0.1"])
    vpn = start_vpn_pod(network, stored, tmp_path, "strongx509")
    assert wait_until(lambda: "loaded ike secret" in vpn.log_text(), 20), vpn.log_text()[-3000:]
    log = vpn.log_text()
    assert "loaded connection 'k8s-conn'" in log, log[-3000:]
    assert not re.search(r"load-all: .*(fail|error|invalid|unexpected)", log, re.I), log[-3000:]
    conns = vpn.exec(["swanctl", "--list-conns"]).stdout
    shown = re.findall(r"^\s+id: (.*)$", conns, re.M)
    assert shown[:2] == [local_id, remote_id] or remote_id.startswith("@#"), conns
    assert shown[0] == local_id, conns
    assert "remote: 192.168.100.0/24 10.9.0.1/32" in conns, conns
