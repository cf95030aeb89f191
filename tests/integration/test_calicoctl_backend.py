"""calico_policy on the calicoctl backend gives what the api backend gives: the same plan, changed, diff and
stored object.

calicoctl is a real calicoctl when SECURE_CLUSTER_CALICOCTL names one (then everything runs against the local
cluster), else tests/calicoctl/replay.py, which replays only what a real calicoctl v3.28.5 was recorded doing
against this project's IKS-profile cluster: each test names the recorded runs it expects, in order, and any other
invocation fails it. Where a test needs a calicoctl run that was never recorded, it is skipped in replay mode
saying which."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest

from conftest import run_module, run_playbook
from test_calico_policy import role_play, stored

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "calicoctl"))

import replay  # noqa: E402  pylint: disable=wrong-import-position

REAL = os.environ.get("SECURE_CLUSTER_CALICOCTL")
TRANSCRIPTS = replay.load_transcripts()
SEED = replay.documents(TRANSCRIPTS["apply seed create"]["stdin"])[0]
SEED_NAME = "GlobalNetworkPolicy/deny-kube-node-port-services"


class Calicoctl:
    """The calicoctl of this run: ``path``; ``expect`` names the recorded runs the next invocations must be
    (replay only; a real calicoctl just runs); ``check`` fails on anything unrecorded."""

    def __init__(self, replayed: replay.Replay | None):
        self.replayed = replayed
        self.path = REAL or replayed.calicoctl

    @property
    def real(self) -> bool:
        return self.replayed is None

    def expect(self, *names: str) -> None:
        if self.replayed is not None:
            self.replayed.check()
            self.replayed.expect(*names)

    def check(self) -> None:
        if self.replayed is not None:
            self.replayed.check()


@pytest.fixture
def calicoctl(iks_cluster, tmp_path, monkeypatch):
    replayed = None
    if not REAL:
        replayed = replay.Replay(tmp_path / "replay", {"<kubeconfig>": iks_cluster.kubeconfig, "<dir>": str(tmp_path)})
        for key, value in replayed.env.items():
            monkeypatch.setenv(key, value)
    tool = Calicoctl(replayed)
    yield tool
    tool.check()
    run_module(iks_cluster, "calico_policy", {"definition": SEED, "state": "absent", "backend": "api"})


def module(cluster, calicoctl_tool, args: dict, check_mode=False) -> dict:
    return run_module(cluster, "calico_policy", {"backend": "calicoctl", "calicoctl_path": calicoctl_tool.path,
                                                 **args}, check_mode=check_mode, diff=True)


def without_timestamp(obj: dict) -> dict:
    """A stored object without what differs between any two writes (the creation time, server-set metadata)."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    annotations = meta.get("annotations") or {}
    v3_meta = json.loads(annotations.pop("projectcalico.org/metadata", "{}"))
    v3_meta.pop("creationTimestamp", None)
    if v3_meta:
        annotations["projectcalico.org/metadata"] = v3_meta
    for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        meta.pop(field, None)
    if not annotations:
        meta.pop("annotations", None)
    return out


def test_the_seed_through_calicoctl_plans_diffs_and_stores_as_the_api_backend(iks_cluster, calicoctl):
    through_api = run_module(iks_cluster, "calico_policy", {"definition": SEED, "backend": "api"}, diff=True)
    assert through_api["changed"], through_api
    # What the api backend stored is what the recorded calicoctl stored.
    assert without_timestamp(stored(iks_cluster, "default.deny-kube-node-port-services")) == \
        without_timestamp(TRANSCRIPTS["apply seed create"]["stored_crd"])
    run_module(iks_cluster, "calico_policy", {"definition": SEED, "state": "absent", "backend": "api"})

    calicoctl.expect("version", "get gnp empty list yaml", "apply seed create")
    through_calicoctl = module(iks_cluster, calicoctl, {"definition": SEED})
    assert through_calicoctl["backend"] == "calicoctl", through_calicoctl
    for field in ("changed", "resources", "diff", "order"):
        assert through_calicoctl[field] == through_api[field], field
    assert through_calicoctl["calico"]["version"] == through_api["calico"]["version"] == "v3.28.5"
    assert through_calicoctl["api_calls"]["writes"] == 1
    if calicoctl.real:
        assert without_timestamp(stored(iks_cluster, "default.deny-kube-node-port-services")) == \
            without_timestamp(TRANSCRIPTS["apply seed create"]["stored_crd"])


def test_a_second_run_through_calicoctl_writes_nothing(iks_cluster, calicoctl):
    if calicoctl.real:
        module(iks_cluster, calicoctl, {"definition": SEED})
    calicoctl.expect("version", "get gnp list yaml")  # recorded with the seed stored
    again = module(iks_cluster, calicoctl, {"definition": SEED})
    assert not again["changed"] and again["api_calls"]["writes"] == 0, again
    assert "diff" not in again or again["diff"] == {"before": {}, "after": {}}


def test_check_mode_runs_no_calicoctl_write_command(iks_cluster, calicoctl):
    calicoctl.expect("version", "get gnp empty list yaml")
    planned = module(iks_cluster, calicoctl, {"definition": SEED}, check_mode=True)
    assert planned["changed"] and planned["api_calls"]["writes"] == 0, planned
    assert planned["diff"]["after"][SEED_NAME]["spec"]["preDNAT"] is True
    assert stored(iks_cluster, "default.deny-kube-node-port-services") is None


def test_an_invalid_policy_costs_no_calicoctl_call(iks_cluster, calicoctl):
    calicoctl.expect()
    bad = replay.documents(TRANSCRIPTS["apply invalid icmp type 255"]["stdin"])[0]
    failed = module(iks_cluster, calicoctl, {"definition": bad})
    assert failed.get("failed") and "icmp" in failed["msg"].lower(), failed


def test_the_seeds_v1_calicoctl_cfg_is_refused_before_calicoctl_runs(iks_cluster, calicoctl, tmp_path):
    calicoctl.expect()
    config = tmp_path / "etcd-v1.cfg"
    config.write_text(TRANSCRIPTS["etcd seed-004 v1 config form"]["config"].replace("<etcd>", "http://127.0.0.1:2379"))
    failed = module(iks_cluster, calicoctl, {"definition": SEED, "calicoctl_config": str(config)})
    assert failed.get("failed") and "unknown APIVersion 'v1'" in failed["msg"], failed
    assert "apiVersion: projectcalico.org/v3, kind: CalicoAPIConfig" in failed["msg"]


def test_exposure_info_reads_calico_through_calicoctl_as_through_the_api(iks_cluster, calicoctl):
    if not calicoctl.real:
        pytest.skip("needs `calicoctl get felixconfiguration default -o yaml` (Kubernetes datastore), which was "
                    "not recorded; set SECURE_CLUSTER_CALICOCTL to a calicoctl v3.28 to run it")
    through_api = run_module(iks_cluster, "exposure_info", {"backend": "api"})
    through_calicoctl = run_module(iks_cluster, "exposure_info", {"backend": "calicoctl",
                                                                  "calicoctl_path": calicoctl.path})
    assert through_calicoctl["calico_backend"]["backend"] == "calicoctl", through_calicoctl
    assert through_calicoctl["findings"] == through_api["findings"]


def test_the_nodeport_lockdown_role_takes_the_backend_per_host(iks_cluster, calicoctl, tmp_path):
    # The role's policy has no order, the recorded seed has 1100: applying it was not recorded, so in replay the
    # role runs in check mode (plan only) and removes the recorded seed; a real calicoctl also applies it.
    variables = {"secure_cluster_calico_backend": "calicoctl", "secure_cluster_calicoctl_path": calicoctl.path}
    calicoctl.expect("version", "get gnp empty list yaml")
    planned = run_playbook(iks_cluster, role_play(tmp_path, "nodeport_lockdown", variables), "-i", "localhost,",
                           "-c", "local", "--check")
    assert "changed=1" in planned.stdout, planned.stdout
    assert stored(iks_cluster, "default.deny-kube-node-port-services") is None
    if calicoctl.real:
        run_playbook(iks_cluster, role_play(tmp_path, "nodeport_lockdown", variables), "-i", "localhost,", "-c", "local")
        assert stored(iks_cluster, "default.deny-kube-node-port-services") is not None
    else:
        assert run_module(iks_cluster, "calico_policy", {"definition": SEED, "backend": "api"})["changed"]
    calicoctl.expect("version", "get gnp list yaml", "delete seed")
    removed = run_playbook(iks_cluster, role_play(tmp_path, "nodeport_lockdown",
                                                  {**variables, "nodeport_lockdown_state": "absent"}),
                           "-i", "localhost,", "-c", "local")
    assert "changed=1" in removed.stdout, removed.stdout
    if calicoctl.real:
        assert stored(iks_cluster, "default.deny-kube-node-port-services") is None


def test_calicoctl_reaches_the_cluster_of_the_modules_connection_not_the_home_kubeconfig(iks_cluster, calicoctl,
                                                                                         tmp_path, monkeypatch):
    """host + api_key + ca_cert and no kubeconfig, with another cluster in ~/.kube/config: calicoctl gets a
    kubeconfig written from the module's own connection (the replay matches it only when it reaches the
    recorded cluster), private to the user and gone when the module ends."""
    import kubernetes

    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: other\nclusters: [{name: other, cluster: "
        "{server: 'https://127.0.0.1:1'}}]\nusers: [{name: other, user: {token: other}}]\n"
        "contexts: [{name: other, context: {cluster: other, user: other}}]\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    name = "calicoctl-token-test"
    client = iks_cluster.client()
    core, rbac = kubernetes.client.CoreV1Api(client), kubernetes.client.RbacAuthorizationV1Api(client)
    core.create_namespaced_service_account("default", {"metadata": {"name": name}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]})
    try:
        token = core.create_namespaced_service_account_token(
            name, "default", {"spec": {"expirationSeconds": 600}}).status.token
        auth = {"host": iks_cluster.server, "api_key": token,
                "ca_cert": str(Path(iks_cluster.kubeconfig).parent / "pki" / "ca.crt")}
        calicoctl.expect("version", "get gnp empty list yaml")
        planned = run_module(None, "calico_policy", {"backend": "calicoctl", "calicoctl_path": calicoctl.path,
                                                     "definition": SEED, "expected_cluster": iks_cluster.server,
                                                     **auth}, check_mode=True)
        assert planned["changed"] and not planned.get("failed"), planned
        assert planned["api_calls"]["writes"] == 0
        assert token not in json.dumps(planned)
        assert list(scratch.glob("secure_cluster-kubeconfig-*")) == []  # removed when the module ended
        calicoctl.check()

        # A calicoctl.cfg of the Kubernetes datastore that points at another cluster: refused, calicoctl not run.
        calicoctl.expect()
        config = tmp_path / "kdd.cfg"
        config.write_text(TRANSCRIPTS["get with config file (kubernetes)"]["config"].replace(
            "<kubeconfig>", str(home / ".kube" / "config")))
        refused = run_module(None, "calico_policy", {"backend": "calicoctl", "calicoctl_path": calicoctl.path,
                                                     "calicoctl_config": str(config), "definition": SEED, **auth})
        assert refused.get("failed") and "points calicoctl at https://127.0.0.1:1" in refused["msg"], refused
    finally:
        rbac.delete_cluster_role_binding(name)
        core.delete_namespaced_service_account(name, "default")
