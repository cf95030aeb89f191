"""Fixtures for integration tests: real local clusters from tests/cluster, and the audit log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UP = REPO / "tests" / "cluster" / "up"
DOWN = REPO / "tests" / "cluster" / "down"
SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")


FIGURE = "figure"  # a user property: one line of the figures `make test` prints at the end


@pytest.fixture
def figure(record_property):
    """Record a line for the session's summary. A line printed by the test would not show when pytest-xdist
    runs it in a worker: the property travels with the test's report to the controller, which prints it."""
    return lambda line: record_property(FIGURE, line)


def pytest_terminal_summary(terminalreporter):
    for key in ("passed", "failed"):
        for report in terminalreporter.stats.get(key, []):
            for name, value in getattr(report, "user_properties", []):
                if name == FIGURE and report.when == "call":
                    terminalreporter.write_line(value)


@dataclass
class Cluster:
    name: str
    env: dict

    @property
    def kubeconfig(self) -> str:
        return self.env["KUBECONFIG"]

    @property
    def server(self) -> str:
        return self.env["CLUSTER_SERVER"]

    def audit_events(self, user_agent_prefix: str, since: int = 0) -> list[dict]:
        """Audit events (ResponseComplete stage) whose user agent starts with the prefix."""
        events = []
        with open(self.env["AUDIT_LOG"], encoding="utf-8") as handle:
            for line in handle.readlines()[since:]:
                event = json.loads(line)
                if event.get("stage") == "ResponseComplete" and event.get("userAgent", "").startswith(user_agent_prefix):
                    events.append(event)
        return events

    def audit_mark(self) -> int:
        with open(self.env["AUDIT_LOG"], encoding="utf-8") as handle:
            return sum(1 for unused in handle)

    def writes_since(self, mark: int, user_agent_prefix: str = "secure_cluster/") -> list[dict]:
        """Requests that change the cluster. Self-reviews (SelfSubjectAccessReview, SelfSubjectRulesReview,
        SelfSubjectReview: the up-front rights checks) are POSTs that persist nothing, so they are not writes; nor
        are dry runs (the audit's tamper probes)."""
        return [e for e in self.audit_events(user_agent_prefix, mark)
                if e["verb"] in ("create", "update", "patch", "delete", "deletecollection")
                and (e.get("objectRef") or {}).get("resource") not in SELF_REVIEWS
                and "dryRun=All" not in e.get("requestURI", "")]

    def client(self):
        from kubernetes import config
        return config.new_client_from_config(config_file=self.kubeconfig)


def read_env(path: str) -> dict:
    """The exports of a .clusters/NAME/env file."""
    out = subprocess.run(["bash", "-c", f"set -a; source '{path}'; env -0"], capture_output=True, check=True)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


def cluster_up(name: str, *args: str) -> Cluster:
    result = subprocess.run([str(UP), name, *args], capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"tests/cluster/up {name} failed:\n{result.stderr[-3000:]}")
    env_path = result.stdout.strip().splitlines()[-1]
    return Cluster(name, read_env(env_path))


def cluster_down(name: str) -> None:
    subprocess.run([str(DOWN), name], capture_output=True, check=True)


def demo_cluster_up(name: str) -> Cluster:
    """What `make demo` starts: a 9-node IKS-profile cluster with the demo app (playbooks/demo/shop.yml)."""
    cluster = cluster_up(name, "--nodes", "9", "--profile", "iks")
    subprocess.run([cluster.env["KUBECTL"], "--kubeconfig", cluster.kubeconfig, "apply", "-f",
                    str(REPO / "playbooks" / "demo" / "shop.yml")], check=True, capture_output=True)
    return cluster


LOCKDOWN = "deny-kube-node-port-services"  # nodeport_lockdown_name's default
REMOVED_TAINT = ("dedicated", "edge", "NoExecute")


def drift_by_hand(cluster) -> str:
    """Remove the NoExecute edge taint from one edge node and delete the lockdown policy, as a person would."""
    from kubernetes import client
    api = cluster.client()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    node = next(n for n in core.list_node(label_selector="dedicated=edge").items)
    kept = [t for t in node.spec.taints if (t.key, t.value, t.effect) != REMOVED_TAINT]
    assert len(kept) < len(node.spec.taints)
    core.patch_node(node.metadata.name, {"spec": {"taints": [{"key": t.key, "value": t.value, "effect": t.effect}
                                                             for t in kept]}})
    policies = custom.list_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies")["items"]
    lockdown = next(p["metadata"]["name"] for p in policies if p["metadata"]["name"].endswith(LOCKDOWN))
    custom.delete_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies", lockdown)
    return node.metadata.name


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def closed_port() -> int:
    """A local port nothing listens on (bound, then closed again): an API server that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def module_cluster(prefix: str, *args: str):
    """A fixture of one cluster for the test module: a demo cluster (demo_cluster_up), or cluster_up's with args;
    named prefix and a unique suffix, taken down after the module's last test."""
    @pytest.fixture(scope="module")
    def fixture():
        name = unique(prefix)
        yield cluster_up(name, *args) if args else demo_cluster_up(name)
        cluster_down(name)
    return fixture


@pytest.fixture(scope="session")
def iks_cluster():
    """A 6-node IKS-profile cluster (2 per zone) shared by the session; tests leave it as they found it.
    SECURE_CLUSTER_SHARED_IKS names the env file of one already running (the matrix shares one across releases)."""
    if os.environ.get("SECURE_CLUSTER_SHARED_IKS"):
        env = read_env(os.environ["SECURE_CLUSTER_SHARED_IKS"])
        yield Cluster(Path(os.environ["SECURE_CLUSTER_SHARED_IKS"]).parent.name, env)
        return
    name = unique("it-iks")
    cluster = cluster_up(name, "--nodes", "6", "--profile", "iks")
    yield cluster
    cluster_down(name)


def user_kubeconfig(cluster: Cluster, user: str, workdir: Path) -> str:
    """A kubeconfig for the cluster that authenticates as ``user`` (a client certificate signed by the cluster's
    CA, CN=user): the identity has exactly the rights RBAC gives that user."""
    import yaml
    pki = Path(cluster.kubeconfig).parent / "pki"
    for step in (["req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{user}.key", "-out", f"{user}.csr",
                  "-subj", f"/CN={user}"],
                 ["x509", "-req", "-in", f"{user}.csr", "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
                  "-CAcreateserial", "-days", "1", "-out", f"{user}.crt"]):
        subprocess.run(["openssl", *step], cwd=workdir, check=True, capture_output=True)
    with open(cluster.kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["users"][0]["user"] = {"client-certificate": str(workdir / f"{user}.crt"),
                                  "client-key": str(workdir / f"{user}.key")}
    path = workdir / f"{user}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run_module(cluster: Cluster | None, name: str, args: dict, check_mode: bool = False,
               diff: bool = False) -> dict:
    """Run one of the collection's modules as Ansible does (a separate Python process reading its
    arguments from a file) and return its JSON result."""
    params = dict(args)
    if cluster is not None:
        params.setdefault("kubeconfig", cluster.kubeconfig)
    params.update({"_ansible_check_mode": check_mode, "_ansible_diff": diff})
    args_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"module-args-{uuid.uuid4().hex}.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
        env["PYTHONPATH"] = str(REPO / ".build")
        result = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.containers_workload.secure_cluster.plugins.modules.{name}",
             str(args_file)], capture_output=True, text=True, env=env, check=False, timeout=300)
    finally:
        args_file.unlink()
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"module {name} printed no JSON (rc={result.returncode}):\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}") from None


def run_playbook(cluster: Cluster, playbook: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ansible-playbook against a cluster and return the completed process."""
    env = {**os.environ, **cluster.env}
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build"))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), playbook, *args],
                            capture_output=True, text=True, env=env, check=False, cwd=REPO, timeout=900)
    if check and result.returncode:
        raise AssertionError(f"ansible-playbook {playbook} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return result


def wait_until(check, timeout: float = 60.0, interval: float = 0.5):
    """The first truthy value of check() within the timeout, else its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()


def report_play(cluster: Cluster, workdir: Path, *between: dict) -> Path:
    """Run the exposure_report role before and after the given tasks; returns the report directory."""
    reports = workdir / "reports"
    play = [{"name": "report", "hosts": "localhost", "gather_facts": False,
             "vars": {"exposure_report_dir": str(reports),
                      "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "tasks": [
                 {"ansible.builtin.include_role": {"name": "containers_workload.secure_cluster.exposure_report"},
                  "vars": {"exposure_report_phase": "before"}},
                 *between,
                 {"ansible.builtin.include_role": {"name": "containers_workload.secure_cluster.exposure_report"},
                  "vars": {"exposure_report_phase": "after"}}]}]
    (workdir / "play.yml").write_text(json.dumps(play))
    run_playbook(cluster, str(workdir / "play.yml"), "-i", "localhost,", "-c", "local")
    return reports


class Emulator:
    """The IBM Cloud API emulator's control routes (tests/iks_api/server.py): faults, state, call log."""

    def __init__(self, url: str):
        self.url = url

    def control(self, path: str, body=None):
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", method="POST" if body is not None or
                                         path != "calls" else "GET",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=90) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def writes(self) -> list[dict]:
        return [c for c in self.control("calls") if c["method"] != "GET" and c["path"] != "/identity/token"]

    def fault(self, path: str, method: str, *responses: dict) -> None:
        self.control("faults", {"path": path, "method": method, "responses": list(responses)})


@pytest.fixture
def emulator(iks_cluster):
    emu = Emulator(iks_cluster.env["IKS_API_URL"])
    emu.control("reset", {})
    yield emu
    emu.control("reset", {})
