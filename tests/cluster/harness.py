"""A real local Kubernetes control plane for tests.

etcd, kube-apiserver (audit log on, loopback only, generated certificates),
kube-controller-manager, kube-scheduler and kwok (fake kubelets) built from the
upstream Go modules by ``tests/cluster/build``.  Each cluster lives in
``.clusters/NAME`` with its own ports, so several can run side by side.

    up NAME [--nodes N] [--profile iks|generic]   last line: path of .clusters/NAME/env
    down NAME                                     ends only the processes up started
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

import profiles

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLUSTERS = Path(os.environ.get("SECURE_CLUSTER_CLUSTERS_DIR", REPO / ".clusters"))
# The settings a cluster gets from its profile: pod and service ranges match what the provider uses.
NETWORKS = {
    "iks": {"pods": "172.30.0.0/16", "services": "172.21.0.0/16"},
    "generic": {"pods": "10.244.0.0/16", "services": "10.96.0.0/16"},
}


class HarnessError(Exception):
    """A step of up/down failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- processes -------------------------------------------------------------------------------

def process_start_time(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot, or None when it is gone.

    Recorded with each pid so ``down`` never signals an unrelated process that reused it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def is_ours(proc: dict) -> bool:
    return process_start_time(proc["pid"]) == proc["start_time"]


def start_process(cluster_dir: Path, state: dict, name: str, argv: list[str]) -> None:
    logfile = open(cluster_dir / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=cluster_dir)
    state["processes"].append({"name": name, "pid": proc.pid, "start_time": process_start_time(proc.pid)})
    save_state(cluster_dir, state)


def stop_processes(state: dict, grace: float = 15.0) -> None:
    """Stop the recorded processes in reverse start order: SIGTERM, then SIGKILL after a grace period."""
    for proc in reversed(state.get("processes", [])):
        if not is_ours(proc):
            continue
        os.kill(proc["pid"], signal.SIGTERM)
        deadline = time.monotonic() + grace
        while is_ours(proc) and time.monotonic() < deadline:
            reap(proc["pid"])
            time.sleep(0.1)
        if is_ours(proc):
            os.kill(proc["pid"], signal.SIGKILL)
            while is_ours(proc):
                reap(proc["pid"])
                time.sleep(0.05)


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def save_state(cluster_dir: Path, state: dict) -> None:
    tmp = cluster_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(cluster_dir / "state.json")


def load_state(cluster_dir: Path) -> dict | None:
    try:
        return json.loads((cluster_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; held together so they are distinct."""
    socks = []
    try:
        for unused in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --- certificates ----------------------------------------------------------------------------

def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise HarnessError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate, an admin client certificate and the service-account key, with
    the extensions kubeadm gives them (client-go's certutil): the CA is a critical CA:TRUE with the key usages
    digitalSignature, keyEncipherment and keyCertSign; each leaf has its key usages, extended key usage and the
    CA's key identifier, so even Python 3.13's strict X.509 checks accept the chain."""
    pki.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout", "ca.key",
            "-out", "ca.crt", "-subj", "/CN=secure-cluster-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign", cwd=pki)
    leaf = "keyUsage=critical,digitalSignature,keyEncipherment\nauthorityKeyIdentifier=keyid\n"
    (pki / "san.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n" + leaf)
    (pki / "client.cnf").write_text("extendedKeyUsage=clientAuth\n" + leaf)
    for name, subject, ext in (("apiserver", "/CN=kube-apiserver", "san.cnf"),
                               ("admin", "/O=system:masters/CN=secure-cluster-admin", "client.cnf")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subject, cwd=pki)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "30", "-out", f"{name}.crt", "-extfile", ext, cwd=pki)
    openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def write_kubeconfig(path: Path, pki: Path, server: str, name: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}],
        "users": [{"name": f"{name}-admin", "user": {"client-certificate": str(pki / "admin.crt"),
                                                     "client-key": str(pki / "admin.key")}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


# --- talking to the API server ---------------------------------------------------------------

class Api:
    """Just enough of a REST client for the harness: JSON over mutual TLS, no extra dependencies."""

    def __init__(self, server: str, pki: Path):
        self.server = server
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
            payload = resp.read()
        return json.loads(payload) if payload.startswith(b"{") else payload.decode()

    def get(self, path: str):
        return self.request("GET", path)

    def create(self, obj: dict) -> None:
        """Create an object; one that already exists is left alone (re-running up is a no-op)."""
        try:
            self.request("POST", collection_path(obj), obj)
        except urllib.error.HTTPError as err:
            if err.code != 409:
                raise HarnessError(f"creating {obj['kind']} {obj['metadata']['name']}: "
                                   f"HTTP {err.code} {err.read().decode(errors='replace')[:300]}") from None

    def create_status(self, obj: dict) -> None:
        """Set the status of a freshly created object (nodes: capacity and addresses)."""
        self.request("PATCH", collection_path(obj) + "/" + obj["metadata"]["name"] + "/status",
                     {"status": obj["status"]}, content_type="application/merge-patch+json")


PLURALS = {"Namespace": "namespaces", "Node": "nodes", "Deployment": "deployments",
           "CustomResourceDefinition": "customresourcedefinitions", "ServiceAccount": "serviceaccounts",
           "GlobalNetworkPolicy": "globalnetworkpolicies", "HostEndpoint": "hostendpoints",
           "ConfigMap": "configmaps", "Service": "services", "ClusterInformation": "clusterinformations",
           "FelixConfiguration": "felixconfigurations", "IPPool": "ippools", "ClusterRole": "clusterroles",
           "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings"}


def collection_path(obj: dict) -> str:
    group_version = obj["apiVersion"]
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    namespace = obj["metadata"].get("namespace")
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{ns}/{PLURALS[obj['kind']]}"


def wait_for(what: str, check, timeout: float = 120.0, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError, KeyError) as err:
            last_error = err
        time.sleep(interval)
    raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}"
                       + (f" (last error: {last_error})" if last_error else ""))


# --- up / down -------------------------------------------------------------------------------

def binaries() -> dict[str, Path]:
    """Build (or find cached) binaries; returns their locations."""
    subprocess.run([str(HERE / "build")], check=True, stdout=sys.stderr)
    dirs = dict(line.split("=", 1) for line in
                subprocess.run([str(HERE / "build"), "--print-dir"], check=True, capture_output=True,
                               text=True).stdout.split())
    return {
        "etcd": Path(dirs["ETCD_BIN"]) / "etcd",
        "kube-apiserver": Path(dirs["KUBE_BIN"]) / "kube-apiserver",
        "kube-controller-manager": Path(dirs["KUBE_BIN"]) / "kube-controller-manager",
        "kube-scheduler": Path(dirs["KUBE_BIN"]) / "kube-scheduler",
        "kubectl": Path(dirs["KUBE_BIN"]) / "kubectl",
        "kwok": Path(dirs["KWOK_BIN"]) / "kwok",
        "calico-crds": Path(dirs["CALICO_CRDS"]),
    }


def running(state: dict | None) -> bool:
    return bool(state) and state.get("ready") and all(is_ours(p) for p in state["processes"])


def up(name: str, nodes: int, profile: str) -> Path:
    cluster_dir = CLUSTERS / name
    env_file = cluster_dir / "env"
    state = load_state(cluster_dir)
    if running(state):
        log(f"cluster {name} is already running")
        return env_file
    if state:
        log(f"cluster {name} is stale or half-started; cleaning it up first")
        down(name)

    bins = binaries()
    cluster_dir.mkdir(parents=True)
    (cluster_dir / "logs").mkdir()
    etcd_client, etcd_peer, apiserver_port = free_ports(3)
    server = f"https://127.0.0.1:{apiserver_port}"
    networks = NETWORKS[profile]
    state = {"name": name, "profile": profile, "nodes": nodes, "server": server, "ready": False,
             "processes": [], "cluster_id": cluster_id(name)}
    save_state(cluster_dir, state)
    try:
        start_control_plane(cluster_dir, state, bins, etcd_client, etcd_peer, apiserver_port, networks)
        api = Api(server, cluster_dir / "pki")
        install_crds(api, bins["calico-crds"])
        # Profile objects live in default and kube-system too (RoleBindings, ALBs).
        wait_for("the default namespace", lambda: api.get("/api/v1/namespaces/default"))
        for obj in profiles.objects(profile, state["cluster_id"], nodes):
            api.create(obj)
            if obj["kind"] == "Node":
                api.create_status(obj)
        wait_for(f"{nodes} nodes Ready", lambda: ready_nodes(api) >= nodes)
        wait_for("the default ServiceAccount", lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default"))
        if profile == "iks":
            start_iks_api(cluster_dir, state)
        write_env(cluster_dir, state, profile, bins)
        state["ready"] = True
        save_state(cluster_dir, state)
    except BaseException:
        log(f"up {name} failed; logs are in {cluster_dir / 'logs'}; stopping what was started")
        stop_processes(state)
        raise
    log(f"cluster {name} is up: {server}, {nodes} nodes, profile {profile}")
    return env_file


def cluster_id(name: str) -> str:
    """A stable IKS-style cluster ID for a cluster name (IKS IDs are 20 lowercase alphanumerics)."""
    return "c" + hashlib.sha256(name.encode()).hexdigest()[:19]


def start_control_plane(cluster_dir: Path, state: dict, bins: dict, etcd_client: int, etcd_peer: int,
                        apiserver_port: int, networks: dict) -> None:
    pki = cluster_dir / "pki"
    make_pki(pki)
    kubeconfig = cluster_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, pki, f"https://127.0.0.1:{apiserver_port}", state["name"])
    (cluster_dir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
    etcd_url = f"http://127.0.0.1:{etcd_client}"

    start_process(cluster_dir, state, "etcd", [
        str(bins["etcd"]), "--name", "etcd", "--data-dir", str(cluster_dir / "etcd"),
        "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
        "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
        "--initial-cluster", f"etcd=http://127.0.0.1:{etcd_peer}",
        "--unsafe-no-fsync", "--quota-backend-bytes", str(2 * 1024**3), "--log-level", "warn",
    ])
    wait_for("etcd", lambda: urllib.request.urlopen(etcd_url + "/health", timeout=2).status == 200)

    start_process(cluster_dir, state, "kube-apiserver", [
        str(bins["kube-apiserver"]), "--etcd-servers", etcd_url,
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(apiserver_port),
        "--tls-cert-file", str(pki / "apiserver.crt"), "--tls-private-key-file", str(pki / "apiserver.key"),
        "--client-ca-file", str(pki / "ca.crt"),
        "--service-account-key-file", str(pki / "sa.pub"),
        "--service-account-signing-key-file", str(pki / "sa.key"),
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-cluster-ip-range", networks["services"],
        "--authorization-mode", "Node,RBAC", "--allow-privileged=true",
        "--audit-log-path", str(cluster_dir / "audit.log"),
        "--audit-policy-file", str(cluster_dir / "audit-policy.yaml"),
        "--audit-log-mode", "blocking", "--audit-log-maxsize", "200",
        "--endpoint-reconciler-type", "none",
    ])
    api = Api(f"https://127.0.0.1:{apiserver_port}", pki)

    def apiserver_ready() -> bool:
        try:
            return api.request("GET", "/readyz") == "ok"
        except urllib.error.HTTPError:
            return False
    wait_for("kube-apiserver /readyz", apiserver_ready, timeout=180)

    start_process(cluster_dir, state, "kube-controller-manager", [
        str(bins["kube-controller-manager"]), "--kubeconfig", str(kubeconfig),
        "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
        "--service-account-private-key-file", str(pki / "sa.key"), "--root-ca-file", str(pki / "ca.crt"),
        "--cluster-signing-cert-file", str(pki / "ca.crt"), "--cluster-signing-key-file", str(pki / "ca.key"),
        "--use-service-account-credentials", "--leader-elect=false", "--secure-port", "0",
        "--controllers", "*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle,-route",
        "--cluster-cidr", networks["pods"], "--service-cluster-ip-range", networks["services"],
        # kwok renews node leases from one process; on a loaded 2-core machine a renewal can be late, and the
        # default 50 s grace would taint the node unreachable (NoExecute) and evict its pods mid-test.
        "--node-monitor-grace-period", "5m",
    ])
    start_process(cluster_dir, state, "kube-scheduler", [
        str(bins["kube-scheduler"]), "--kubeconfig", str(kubeconfig),
        "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
        "--leader-elect=false", "--secure-port", "0",
    ])
    start_process(cluster_dir, state, "kwok", [
        str(bins["kwok"]), "--kubeconfig", str(kubeconfig),
        "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
        "--cidr", networks["pods"].replace(".0/", ".1/", 1), "--node-ip", "127.0.0.1",
        # Node heartbeats as a kubelet sends them (a Lease per node, renewed): without, the nodes' status is never
        # renewed, the node controller marks every node NotReady once the grace period is over (5 min into a
        # session), and pods stay unready for the rest of it (the ALB emulator then waits 60 s on every reset).
        "--node-lease-duration-seconds", "40",
    ])


def start_iks_api(cluster_dir: Path, state: dict) -> None:
    """The IBM Cloud API emulator (tests/iks_api), driving this cluster's ALB Deployments."""
    port_file = cluster_dir / "iks-api.port"
    state["iks_api_key"] = "emulated-" + hashlib.sha256(os.urandom(16)).hexdigest()[:32]
    start_process(cluster_dir, state, "iks-api", [
        sys.executable, str(REPO / "tests" / "iks_api" / "server.py"), "--cluster-dir", str(cluster_dir),
        "--server", state["server"], "--cluster-id", state["cluster_id"], "--cluster-name", state["name"],
        "--api-key", state["iks_api_key"], "--port-file", str(port_file)])
    wait_for("the IKS API emulator", port_file.exists, timeout=30)
    state["iks_api_url"] = f"http://127.0.0.1:{port_file.read_text().strip()}"
    save_state(cluster_dir, state)


def install_crds(api: Api, crd_dir: Path) -> None:
    """Install the Calico CRDs of the pinned Calico module and wait until they are served."""
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd:
                api.create(crd)
                names.append(crd["metadata"]["name"])

    def established() -> bool:
        for name in names:
            crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
            if conditions.get("Established") != "True":
                return False
        return True
    wait_for("Calico CRDs established", established)


def ready_nodes(api: Api) -> int:
    count = 0
    for node in api.get("/api/v1/nodes")["items"]:
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        taints = {t["key"] for t in node["spec"].get("taints", [])}
        if conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints:
            count += 1
    return count


def write_env(cluster_dir: Path, state: dict, profile: str, bins: dict) -> None:
    """The contract file: shell exports for the kubeconfig, calicoctl and the audit log."""
    calicoctl = shutil.which("calicoctl") or ""
    exports = {
        "KUBECONFIG": str(cluster_dir / "kubeconfig"),
        "K8S_AUTH_KUBECONFIG": str(cluster_dir / "kubeconfig"),
        "CALICOCTL": calicoctl,
        "KUBECTL": str(bins["kubectl"]),
        "DATASTORE_TYPE": "kubernetes",
        "AUDIT_LOG": str(cluster_dir / "audit.log"),
        "CLUSTER_NAME": state["name"],
        "CLUSTER_PROFILE": profile,
        "CLUSTER_SERVER": state["server"],
    }
    exports.update(profiles.extra_env(profile, state))
    lines = [f"export {key}={shell_quote(value)}" for key, value in exports.items()]
    (cluster_dir / "env").write_text("\n".join(lines) + "\n")


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def down(name: str) -> None:
    cluster_dir = CLUSTERS / name
    state = load_state(cluster_dir)
    if state:
        stop_processes(state)
    if cluster_dir.exists():
        shutil.rmtree(cluster_dir)
    log(f"cluster {name} is down")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tests/cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start (or find running) cluster NAME")
    p_up.add_argument("name")
    p_up.add_argument("--nodes", type=int, default=3)
    p_up.add_argument("--profile", choices=sorted(NETWORKS), default="iks")
    p_down = sub.add_parser("down", help="stop cluster NAME and remove its files")
    p_down.add_argument("name")
    args = parser.parse_args(argv)
    if not args.name.replace("-", "").replace("_", "").isalnum():
        parser.error(f"cluster name {args.name!r} may contain only letters, digits, '-' and '_'")
    try:
        if args.command == "up":
            if args.nodes < 1:
                parser.error("--nodes must be at least 1")
            print(up(args.name, args.nodes, args.profile))
        else:
            down(args.name)
    except (HarnessError, subprocess.CalledProcessError) as err:
        print(f"tests/cluster {args.command} {args.name}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
