"""The VPN configuration strongswan_vpn writes into the cluster works against a real strongSwan peer.

The cluster side's charon loads the ipsec.conf and ipsec.secrets read back from the ConfigMap and Secret the
module created; the on-prem side's charon uses a configuration written here, independently of our renderer.
Each side is a network namespace with its subnet's addresses on lo, joined by a veth pair. The kernel here
has no ESP transform, so both charons use the kernel-libipsec plugin (userspace ESP over a TUN device).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import run_module

CLUSTER_GW, ONPREM_GW = "10.250.0.1", "10.250.0.2"
CLUSTER_HOSTS = {"172.30.0.0/16": "172.30.0.1", "172.21.0.0/16": "172.21.0.1"}
ONPREM_SUBNET, ONPREM_HOST = "192.168.100.0/24", "192.168.100.1"
IKE, ESP = "aes256-sha256-modp2048!", "aes256-sha256!"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

STRONGSWAN_CONF = """charon {{
  load_modular = yes
  install_virtual_ip = no
  plugins {{
    include strongswan.d/charon/*.conf
    kernel-libipsec {{
      load = yes
    }}
  }}
  filelog {{
    test {{
      path = {log}
      default = 2
      flush_line = yes
    }}
  }}
}}
include strongswan.d/*.conf
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


class Side:
    """One IPsec gateway: a network namespace, its /etc/netns files, and its charon."""

    def __init__(self, name: str, workdir: Path):
        self.name, self.etc, self.log = name, Path("/etc/netns") / name, workdir / f"{name}.log"

    def configure(self, ipsec_conf: str, ipsec_secrets: str) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "ipsec.conf").write_text(ipsec_conf)
        (self.etc / "ipsec.secrets").write_text(ipsec_secrets)
        (self.etc / "ipsec.secrets").chmod(0o600)
        (self.etc / "strongswan.conf").write_text(STRONGSWAN_CONF.format(log=self.log))

    def start(self) -> None:
        # A private /run per charon, so two can run at once.
        sh("ip", "netns", "exec", self.name, "unshare", "-m", "sh", "-c",
           "mount -t tmpfs tmpfs /run && mkdir -p /run/strongswan && ipsec start")

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
        """End starter, then charon, by pid."""
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

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def network(tmp_path):
    """Two namespaces joined by a veth pair; subnet addresses on lo. Removed afterwards, charons stopped."""
    tag = uuid.uuid4().hex[:6]
    cluster, onprem = Side(f"sc-cl-{tag}", tmp_path), Side(f"sc-op-{tag}", tmp_path)
    for side in (cluster, onprem):
        sh("ip", "netns", "add", side.name)
        sh("ip", "-n", side.name, "link", "set", "lo", "up")
    sh("ip", "link", "add", f"vc{tag}", "netns", cluster.name, "type", "veth", "peer", "name", f"vo{tag}",
       "netns", onprem.name)
    for side, dev, addr in ((cluster, f"vc{tag}", CLUSTER_GW), (onprem, f"vo{tag}", ONPREM_GW)):
        sh("ip", "-n", side.name, "addr", "add", f"{addr}/24", "dev", dev)
        sh("ip", "-n", side.name, "link", "set", dev, "up")
    for host in CLUSTER_HOSTS.values():
        sh("ip", "-n", cluster.name, "addr", "add", f"{host}/32", "dev", "lo")
    sh("ip", "-n", onprem.name, "addr", "add", f"{ONPREM_HOST}/32", "dev", "lo")
    yield cluster, onprem
    for side in (cluster, onprem):
        side.stop()
        sh("ip", "netns", "del", side.name, check=False)
        shutil.rmtree(side.etc, ignore_errors=True)


@pytest.fixture(scope="module")
def strongswan_installed():
    if not shutil.which("ipsec"):
        pytest.fail("strongSwan is not installed: `make deps` installs strongswan-starter, strongswan-charon and "
                    "libcharon-extra-plugins")


def cluster_side_config(cluster, psk: str, **options) -> tuple[str, str]:
    """Run strongswan_vpn against the cluster and read back the ipsec.conf and ipsec.secrets it stored."""
    from kubernetes import client
    args = {"name": "interop", "namespace": f"vpn-{uuid.uuid4().hex[:6]}", "preshared_secret": psk,
            "local": {"subnet": list(CLUSTER_HOSTS), "id": "ibm-cloud"},
            "remote": {"subnet": [ONPREM_SUBNET], "id": "on-prem", **options.pop("remote", {})},
            "ipsec": {"ike": IKE, "esp": ESP, **options.pop("ipsec", {})}}
    result = run_module(cluster, "strongswan_vpn", args)
    assert not result.get("failed"), result
    assert psk not in str(result)
    core = client.CoreV1Api(cluster.client())
    conf = core.read_namespaced_config_map("interop-strongswan-config", args["namespace"]).data["ipsec.conf"]
    secret = core.read_namespaced_secret("interop-strongswan-secrets", args["namespace"]).data["ipsec.secrets"]
    run_module(cluster, "strongswan_vpn", {"state": "absent", "name": "interop", "namespace": args["namespace"]})
    return conf, base64.b64decode(secret).decode()


def onprem_config(psk: str, auto: str, ike: str = IKE, esp: str = ESP) -> tuple[str, str]:
    """The on-prem gateway, configured by hand the way its administrator would."""
    conf = f"""config setup
    charondebug="ike 2, knl 2, cfg 2"

conn to-cloud
    keyexchange=ikev2
    authby=secret
    left={ONPREM_GW}
    leftsubnet={ONPREM_SUBNET}
    leftid=on-prem
    right={CLUSTER_GW if auto == "start" else "%any"}
    rightsubnet={",".join(CLUSTER_HOSTS)}
    rightid=ibm-cloud
    ike={ike}
    esp={esp}
    auto={auto}
"""
    return conf, f'on-prem ibm-cloud : PSK "{psk}"\n'


def wait_for(check, timeout: float = 30.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()


def established(side: Side) -> bool:
    status = side.ipsec("status")
    return "ESTABLISHED" in status and "INSTALLED" in status


def sa_counters(side: Side) -> tuple[int, int]:
    """Bytes in and out of the CHILD SA, from `ipsec statusall`."""
    text = side.ipsec("statusall")
    bytes_in = sum(int(n) for n in re.findall(r"(\d+) bytes_i", text))
    bytes_out = sum(int(n) for n in re.findall(r"(\d+) bytes_o", text))
    return bytes_in, bytes_out


def start_both(cluster, onprem, cluster_conf, onprem_conf):
    cluster.configure(*cluster_conf)
    onprem.configure(*onprem_conf)
    # The responder first, so the initiator's first attempt finds it.
    responder, initiator = (onprem, cluster) if "auto=start" in cluster_conf[0] else (cluster, onprem)
    responder.start()
    # Wait until the responder has loaded its connection, or it answers "no IKE config found".
    assert wait_for(lambda: re.search(r"^\s*(to-cloud|k8s-conn):", responder.ipsec("statusall"), re.M), 15), \
        responder.log_text()[-2000:]
    initiator.start()


def assert_tunnel_carries_traffic(cluster: Side, onprem: Side) -> None:
    assert wait_for(lambda: established(cluster) and established(onprem)), (
        f"tunnel not established\n--- cluster ---\n{cluster.log_text()[-3000:]}\n--- on-prem ---\n"
        f"{onprem.log_text()[-3000:]}")
    ping = sh("ip", "netns", "exec", cluster.name, "ping", "-c", "3", "-W", "2", "-I",
              CLUSTER_HOSTS["172.30.0.0/16"], ONPREM_HOST, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    bytes_in, bytes_out = sa_counters(cluster)
    assert bytes_in > 0 and bytes_out > 0, cluster.ipsec("statusall")


@pytest.mark.usefixtures("strongswan_installed")
def test_cluster_initiates_the_tunnel_and_pings_cross_it(iks_cluster, network):
    cluster, onprem = network
    psk = secrets.token_urlsafe(32)
    start_both(cluster, onprem,
               cluster_side_config(iks_cluster, psk, ipsec={"auto": "start"}, remote={"gateway": ONPREM_GW}),
               onprem_config(psk, auto="add"))
    assert_tunnel_carries_traffic(cluster, onprem)


@pytest.mark.usefixtures("strongswan_installed")
def test_on_prem_initiates_and_the_cluster_side_accepts(iks_cluster, network):
    cluster, onprem = network
    psk = secrets.token_urlsafe(32)
    start_both(cluster, onprem, cluster_side_config(iks_cluster, psk, ipsec={"auto": "add"}),
               onprem_config(psk, auto="start"))
    assert_tunnel_carries_traffic(cluster, onprem)


@pytest.mark.usefixtures("strongswan_installed")
def test_a_wrong_psk_fails_authentication(iks_cluster, network):
    cluster, onprem = network
    start_both(cluster, onprem,
               cluster_side_config(iks_cluster, secrets.token_urlsafe(32), ipsec={"auto": "start"},
                                   remote={"gateway": ONPREM_GW}),
               onprem_config(secrets.token_urlsafe(32), auto="add"))
    reason = wait_for(lambda: re.search(r"AUTHENTICATION_FAILED|MAC mismatched|authentication of .* failed",
                                        cluster.log_text() + onprem.log_text()), 20)
    assert reason, cluster.log_text()[-3000:]
    print(f"failure reason: {reason.group(0)}")
    assert not established(cluster)


@pytest.mark.usefixtures("strongswan_installed")
def test_mismatched_proposals_fail_with_no_acceptable_proposal(iks_cluster, network):
    cluster, onprem = network
    psk = secrets.token_urlsafe(32)
    start_both(cluster, onprem,
               cluster_side_config(iks_cluster, psk, ipsec={"auto": "start"}, remote={"gateway": ONPREM_GW}),
               onprem_config(psk, auto="add", ike="aes128-sha1-modp1536!"))
    assert wait_for(lambda: "received proposals unacceptable" in onprem.log_text(), 20), onprem.log_text()[-3000:]
    received = re.search(r"received proposals: (.*)", onprem.log_text()).group(1)
    configured = re.search(r"configured proposals: (.*)", onprem.log_text()).group(1)
    assert "AES_CBC_256/HMAC_SHA2_256_128" in received and "AES_CBC_128/HMAC_SHA1_96" in configured
    print(f"failure reason: received {received}; configured {configured}; received proposals unacceptable")
    assert not established(cluster)
