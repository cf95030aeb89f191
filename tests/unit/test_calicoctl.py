"""The calicoctl backend builds calicoctl's command lines, reads its output and passes its errors on exactly as a
real calicoctl v3.28.5 was recorded doing (tests/calicoctl/replay.py replays only recorded runs; anything else
fails the test). The same behaviours against a real calicoctl and a real cluster: tests/integration/
test_calicoctl_backend.py (with SECURE_CLUSTER_CALICOCTL)."""

from __future__ import annotations

import copy
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "calicoctl"))

import replay  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico import (  # noqa: E402
    backend, calicoctl, policy, resources)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import InvalidInput  # noqa: E402
from ansible_collections.containers_workload.secure_cluster.plugins.modules.calico_policy import ARGUMENT_SPEC  # noqa: E402

TRANSCRIPTS = replay.load_transcripts()
SEED = replay.documents(TRANSCRIPTS["apply seed create"]["stdin"])[0]
ISOLATE = replay.documents(TRANSCRIPTS["apply namespaced policy"]["stdin"])[0]
ETCD_CONFIG = "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata:\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: {etcd}\n"


@pytest.fixture
def calicoctl_replay(tmp_path, monkeypatch):
    """A replaying calicoctl, with the recordings' placeholders mapped to this test's paths; every recorded run
    the test expects must be made, and nothing else."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    etcd = "http://127.0.0.1:2379"
    placeholders = {"<kubeconfig>": str(kubeconfig), "<dir>": str(tmp_path), "<etcd>": etcd}
    run = replay.Replay(tmp_path / "replay", placeholders)
    for name in ("DATASTORE_TYPE", "KUBECONFIG", "ETCD_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    for key, value in run.env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "etcd.cfg").write_text(ETCD_CONFIG.format(etcd=etcd))
    (tmp_path / "unreachable.cfg").write_text(ETCD_CONFIG.format(etcd="http://127.0.0.1:1"))
    (tmp_path / "bad-kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    run.kubeconfig = str(kubeconfig)
    run.dir = tmp_path
    yield run
    run.check()


def kdd(replayed, **options) -> calicoctl.Calicoctl:
    return calicoctl.Calicoctl(replay.run_command, path=replayed.calicoctl, kubeconfig=replayed.kubeconfig, **options)


def etcd(replayed, **options) -> calicoctl.Calicoctl:
    return calicoctl.Calicoctl(replay.run_command, path=replayed.calicoctl, config=str(replayed.dir / "etcd.cfg"), **options)


# --- argument building ----------------------------------------------------------------------------

def test_config_and_version_mismatch_are_options_of_each_command_after_the_verb(tmp_path):
    (tmp_path / "etcd.cfg").write_text(ETCD_CONFIG.format(etcd="http://e:2379"))
    ctl = calicoctl.Calicoctl(replay.run_command, config=str(tmp_path / "etcd.cfg"), allow_version_mismatch=True)
    assert ctl.argv("get", "globalnetworkpolicy", "-o", "yaml") == [
        "calicoctl", "get", "--config", str(tmp_path / "etcd.cfg"), "--allow-version-mismatch",
        "globalnetworkpolicy", "-o", "yaml"]
    assert ctl.argv("version") == ["calicoctl", "version", "--config", str(tmp_path / "etcd.cfg")]


def test_with_a_config_calicoctl_gets_no_datastore_variables_of_the_environment(calicoctl_replay, monkeypatch):
    # Recorded with an empty environment: the replay refuses any DATASTORE_TYPE, KUBECONFIG or ETCD_ENDPOINTS.
    for name in ("DATASTORE_TYPE", "KUBECONFIG", "ETCD_ENDPOINTS"):
        monkeypatch.setenv(name, "x")
    calicoctl_replay.expect("etcd get gnp empty")
    assert etcd(calicoctl_replay).read("GlobalNetworkPolicy", None) == []
    assert {k: "x" for k in ("DATASTORE_TYPE", "KUBECONFIG", "ETCD_ENDPOINTS")}.items() <= dict(os.environ).items()


def test_without_a_config_the_kubeconfig_is_the_kubernetes_datastore():
    env = calicoctl.Calicoctl(replay.run_command, kubeconfig="/k/config").environment()
    assert env["DATASTORE_TYPE"] == "kubernetes" and env["KUBECONFIG"] == "/k/config"


def test_calicoctl_without_config_or_kubeconfig_is_refused():
    with pytest.raises(resources.CalicoError, match="needs calicoctl_config"):
        calicoctl.Calicoctl(replay.run_command)


# --- configs ----------------------------------------------------------------------------------

def test_the_seeds_v1_config_is_refused_before_calicoctl_runs_with_the_v3_document_to_write(tmp_path):
    recorded = TRANSCRIPTS["etcd seed-004 v1 config form"]
    assert "unknown APIVersion 'v1'" in recorded["stdout"]  # what calicoctl v3 says to it
    path = tmp_path / "etcd-v1.cfg"
    path.write_text(recorded["config"].replace("<etcd>", "http://e:2379") + "  etcdPassword: s3cret\n")
    with pytest.raises(resources.CalicoError) as error:
        calicoctl.load_config(str(path))
    message = str(error.value)
    assert "unknown APIVersion 'v1'" in message
    assert "apiVersion: projectcalico.org/v3, kind: CalicoAPIConfig" in message
    assert "datastoreType: etcdv3" in message and "etcdEndpoints: http://e:2379" in message
    assert "s3cret" not in message


@pytest.mark.parametrize("text, message", [
    ("apiVersion: projectcalico.org/v3\nkind: Other\n", "kind 'Other'"),
    ("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: etcdv2\n", "etcdv2"),
    ("- a\n", "not a calicoctl.cfg"),
])
def test_a_config_calicoctl_v3_would_not_read_is_refused(tmp_path, text, message):
    (tmp_path / "c.cfg").write_text(text)
    with pytest.raises(resources.CalicoError, match=message):
        calicoctl.load_config(str(tmp_path / "c.cfg"))


@pytest.mark.parametrize("spec, message", [
    ("  datastoreType: etcdv3\n", "names no etcd: set etcdEndpoints"),
    ("  etcdUsername: u\n", "names no etcd"),  # etcdv3 is the default datastore
    ("  etcdEndpoints: https://e:2379\n  etcdDiscoverySrv: example.com\n", "gives both"),
])
def test_an_etcd_config_without_exactly_one_way_to_etcd_is_refused_before_calicoctl_runs(tmp_path, spec, message):
    (tmp_path / "c.cfg").write_text(f"apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n{spec}")
    with pytest.raises(resources.CalicoError, match=message):
        calicoctl.Calicoctl(replay.run_command, path="/nonexistent/calicoctl", config=str(tmp_path / "c.cfg"))


def test_an_etcd_config_with_discovery_is_read(tmp_path):
    (tmp_path / "c.cfg").write_text("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n"
                                    "  datastoreType: etcdv3\n  etcdDiscoverySrv: example.com\n")
    assert calicoctl.Calicoctl(replay.run_command, config=str(tmp_path / "c.cfg")).datastore == "etcdv3"


def test_secrets_of_the_config_never_appear_in_an_error(tmp_path):
    (tmp_path / "c.cfg").write_text("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n"
                                    "  datastoreType: etcdv3\n  etcdEndpoints: https://e:2379\n  etcdKey: KEYDATA\n"
                                    "  k8sAPIToken: TOKEN\n")
    ctl = calicoctl.Calicoctl(replay.run_command, config=str(tmp_path / "c.cfg"))
    error = ctl.failure(["calicoctl", "get"], calicoctl.Outcome(1, "", "bad KEYDATA and TOKEN"))
    assert "KEYDATA" not in str(error) and "TOKEN" not in str(error) and "<redacted>" in str(error)


# --- output parsing -----------------------------------------------------------------------------

def test_a_list_a_single_object_and_an_empty_list_are_parsed():
    assert len(calicoctl.parse_list(TRANSCRIPTS["get gnp empty list yaml"]["stdout"])) == 7
    assert calicoctl.parse_list(TRANSCRIPTS["get seed yaml"]["stdout"])[0]["metadata"]["name"] == SEED["metadata"]["name"]
    assert calicoctl.parse_list(TRANSCRIPTS["etcd get gnp empty"]["stdout"]) == []


def test_what_calicoctl_prints_reads_back_as_the_api_backend_reads_what_it_stored():
    printed = calicoctl.parse_list(TRANSCRIPTS["get seed yaml"]["stdout"])[0]
    held = calicoctl.stored_form(printed)
    stored = copy.deepcopy(TRANSCRIPTS["apply seed create"]["stored_crd"])
    assert held["metadata"]["name"] == stored["metadata"]["name"] == "default.deny-kube-node-port-services"
    assert resources.from_crd(held) == resources.from_crd(stored)


def test_the_api_backend_stores_the_seed_as_calicoctl_did():
    for name in ("apply seed create", "apply namespaced policy"):
        recorded = TRANSCRIPTS[name]
        given = replay.documents(recorded["stdin"])[0]
        created = json.loads(recorded["stored_crd"]["metadata"]["annotations"][resources.METADATA_ANNOTATION])
        assert resources.to_crd(resources.with_defaults(given), created["creationTimestamp"]) == recorded["stored_crd"]


# --- the backend against the recordings -----------------------------------------------------------

def test_the_cluster_version_comes_from_calicoctl_version(calicoctl_replay):
    calicoctl_replay.expect("version")
    info = kdd(calicoctl_replay).cluster_information()
    assert info["version"] == "v3.28.5" and info["cluster_type"] == "k8s,bgp,kdd"


def test_etcd_without_cluster_information_yet_is_a_note_not_a_failure(calicoctl_replay):
    calicoctl_replay.expect("etcd version (no ClusterInformation yet)")
    info = etcd(calicoctl_replay).cluster_information()
    assert info["version"] == "" and "calico-node has not started" in info["note"]


def test_one_get_per_kind_and_namespace(calicoctl_replay):
    calicoctl_replay.expect("get gnp empty list yaml", "get networkpolicy -n shop", "get networkpolicy -A")
    ctl = kdd(calicoctl_replay)
    assert len(ctl.read("GlobalNetworkPolicy", None, ["deny-kube-node-port-services"])) == 7
    assert [o["metadata"]["name"] for o in ctl.read("NetworkPolicy", "shop", ["isolate"])] == ["default.isolate"]
    assert [o["metadata"]["namespace"] for o in ctl.read("NetworkPolicy", None)] == ["shop"]
    assert ctl.reads == 3 and ctl.writes == 0


def test_apply_sends_the_resource_as_given(calicoctl_replay):
    calicoctl_replay.expect("apply seed create")
    ctl = kdd(calicoctl_replay)
    ctl.store(resources.with_defaults(SEED), SEED, None)
    assert ctl.writes == 1


def test_calicoctls_validation_error_comes_through_with_the_command(calicoctl_replay):
    bad = replay.documents(TRANSCRIPTS["etcd apply invalid"]["stdin"])[0]
    calicoctl_replay.expect("etcd apply invalid")
    ctl = etcd(calicoctl_replay)
    with pytest.raises(calicoctl.CalicoctlError) as error:
        ctl.store(bad, bad, None)
    assert f"`{calicoctl_replay.calicoctl} apply --config {calicoctl_replay.dir}/etcd.cfg -f -` failed (rc 1)" in str(error.value)
    assert "error with field Type = '255' (Reason: failed to validate Field: Type because of Tag: lte )" in str(error.value)


def test_a_version_mismatch_is_refused_with_calicoctls_words_and_what_to_do(calicoctl_replay):
    calicoctl_replay.expect("apply with version mismatch", "apply --allow-version-mismatch")
    with pytest.raises(calicoctl.CalicoctlError) as error:
        kdd(calicoctl_replay).store(SEED, SEED, None)
    assert "Version mismatch. Client Version: v3.28.5 Cluster Version: 3.27.3" in str(error.value)
    assert "allow_version_mismatch=true" in str(error.value)
    kdd(calicoctl_replay, allow_version_mismatch=True).store(SEED, SEED, None)


def test_an_unreachable_api_server_is_not_called_a_version_mismatch(calicoctl_replay):
    calicoctl_replay.expect("unreachable kubernetes datastore")
    ctl = calicoctl.Calicoctl(replay.run_command, path=calicoctl_replay.calicoctl, kubeconfig=str(calicoctl_replay.dir / "bad-kubeconfig"))
    with pytest.raises(calicoctl.CalicoctlError) as error:
        ctl.run("get", "globalnetworkpolicy")
    assert "connect: connection refused" in str(error.value)
    assert "not a version mismatch" in str(error.value) and "allow_version_mismatch=true" not in str(error.value)


def test_every_call_is_bounded_by_the_timeout(calicoctl_replay):
    calicoctl_replay.expect("etcd unreachable")
    ctl = calicoctl.Calicoctl(replay.run_command, path=calicoctl_replay.calicoctl, config=str(calicoctl_replay.dir / "unreachable.cfg"),
                              timeout=2)
    with pytest.raises(calicoctl.CalicoctlError, match="did not finish within 2 s and was stopped"):
        ctl.run("get", "globalnetworkpolicy")


def test_deleting_what_is_already_gone_counts_as_deleted(calicoctl_replay):
    calicoctl_replay.expect("delete seed", "delete missing")
    ctl = kdd(calicoctl_replay)
    ctl.remove(SEED)
    ctl.remove(SEED)
    assert ctl.writes == 2


def test_the_replay_fails_loudly_on_an_invocation_never_recorded(calicoctl_replay):
    calicoctl_replay.expect()
    with pytest.raises(calicoctl.CalicoctlError, match="UNRECORDED calicoctl invocation"):
        kdd(calicoctl_replay).felix_configuration()
    assert calicoctl_replay.unrecorded()
    calicoctl_replay.log.unlink()  # seen: this test is about the failure itself


# --- the module on the calicoctl backend ------------------------------------------------------

class Run:
    """What policy.run works with, without Ansible: parameters with the module's defaults, check mode."""

    def __init__(self, check_mode: bool = False, **params):
        self.params = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
        self.params.update(params)
        self.check_mode = check_mode
        self.warnings: list[str] = []
        self.counters: list = []
        self.module = self

    @staticmethod
    def run_command(*args, **kwargs):
        return replay.run_command(*args, **kwargs)

    @property
    def kube(self):
        raise AssertionError("the calicoctl backend run touched the Kubernetes API")

    def counted(self, client):
        self.counters.append(client)
        return client

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def writes(self) -> int:
        return sum(c.writes for c in self.counters)


def module_run(replayed, check_mode=False, **params) -> tuple[dict, Run]:
    run = Run(check_mode, backend="calicoctl", calicoctl_path=replayed.calicoctl, kubeconfig=replayed.kubeconfig,
              **params)
    assert policy.param_errors(run.params) == []
    return policy.run(run), run


def test_the_seed_is_created_with_one_version_one_list_and_one_apply(calicoctl_replay):
    calicoctl_replay.expect("version", "get gnp empty list yaml", "apply seed create")
    out, run = module_run(calicoctl_replay, definition=SEED)
    assert out["changed"] and out["backend"] == "calicoctl" and run.writes() == 1
    assert out["diff"] == {"before": {"GlobalNetworkPolicy/deny-kube-node-port-services": None},
                           "after": {"GlobalNetworkPolicy/deny-kube-node-port-services": resources.with_defaults(SEED)}}


def test_check_mode_runs_no_calicoctl_write_and_reports_the_same_change(calicoctl_replay):
    calicoctl_replay.expect("version", "get gnp empty list yaml")
    out, run = module_run(calicoctl_replay, check_mode=True, definition=SEED)
    assert out["changed"] and run.writes() == 0
    assert out["diff"]["after"]["GlobalNetworkPolicy/deny-kube-node-port-services"] == resources.with_defaults(SEED)


def test_a_second_run_writes_nothing(calicoctl_replay):
    calicoctl_replay.expect("version", "get gnp list yaml")
    out, run = module_run(calicoctl_replay, definition=SEED)
    assert not out["changed"] and run.writes() == 0 and out["diff"] == {"before": {}, "after": {}}


def test_absent_deletes_and_then_finds_nothing_to_delete(calicoctl_replay):
    calicoctl_replay.expect("version", "get gnp list yaml", "delete seed", "version", "get gnp empty list yaml")
    out, run = module_run(calicoctl_replay, definition=SEED, state="absent")
    assert out["changed"] and run.writes() == 1
    again, run = module_run(calicoctl_replay, definition=SEED, state="absent")
    assert not again["changed"] and run.writes() == 0


def test_a_namespaced_policy_already_there_is_left_alone(calicoctl_replay):
    calicoctl_replay.expect("version", "get gnp list yaml", "get networkpolicy -n shop")
    out, run = module_run(calicoctl_replay, definition=[SEED, ISOLATE])
    assert not out["changed"] and run.writes() == 0


def test_on_etcd_the_seed_is_applied_once(calicoctl_replay):
    config = str(calicoctl_replay.dir / "etcd.cfg")
    calicoctl_replay.expect("etcd version (no ClusterInformation yet)", "etcd get gnp empty", "etcd apply seed",
                            "etcd version", "etcd get gnp list yaml")
    out, run = module_run(calicoctl_replay, definition=SEED, calicoctl_config=config)
    assert out["changed"] and run.writes() == 1 and out["datastore"] == "etcdv3"
    again, run = module_run(calicoctl_replay, definition=SEED, calicoctl_config=config)
    assert not again["changed"] and run.writes() == 0


def test_with_allow_version_mismatch_every_command_but_version_passes_the_flag(calicoctl_replay):
    calicoctl_replay.expect("version (cluster v3.27.3)", "get --allow-version-mismatch")
    out, run = module_run(calicoctl_replay, definition=SEED, allow_version_mismatch=True)
    assert out["calico"]["version"] == "v3.27.3" and not out["changed"]


def test_an_invalid_policy_costs_no_calicoctl_call(calicoctl_replay):
    calicoctl_replay.expect()
    bad = replay.documents(TRANSCRIPTS["apply invalid icmp type 255"]["stdin"])[0]
    run = Run(backend="calicoctl", calicoctl_path=calicoctl_replay.calicoctl, kubeconfig=calicoctl_replay.kubeconfig,
              definition=bad)
    errors = policy.param_errors(run.params)
    assert any("icmp" in e.lower() for e in errors)


def test_auto_without_api_or_calicoctl_fails_naming_both(monkeypatch):
    class NoApi(Run):
        @property
        def kube(self):
            from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import KubeError
            raise KubeError("no kubeconfig found")

    run = NoApi(calicoctl_path="/nonexistent/calicoctl")
    with pytest.raises(resources.CalicoError) as error:
        backend.choose(run)
    assert "api: the Kubernetes API cannot be used: no kubeconfig found" in str(error.value)
    assert "calicoctl: no calicoctl at calicoctl_path '/nonexistent/calicoctl'" in str(error.value)


def test_auto_takes_calicoctl_with_a_config_when_the_api_has_no_calico(calicoctl_replay, monkeypatch):
    class NoCalicoApi(Run):
        @property
        def kube(self):
            class Kube:
                def get_or_none(self, path):
                    return None
            return Kube()

    run = NoCalicoApi(calicoctl_path=calicoctl_replay.calicoctl, calicoctl_config=str(calicoctl_replay.dir / "etcd.cfg"))
    store, reason = backend.choose(run)
    assert store.name == "calicoctl" and store.datastore == "etcdv3"
    assert reason.startswith("auto chose calicoctl: the Kubernetes API does not serve crd.projectcalico.org/v1")
    calicoctl_replay.expect()


def test_invalid_backend_options_are_refused_before_anything_runs(tmp_path):
    run = Run(backend="calicoctl", calicoctl_config=str(tmp_path / "missing.cfg"), calicoctl_timeout=0, definition=SEED)
    with pytest.raises(InvalidInput) as error:
        from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import raise_if
        raise_if(policy.param_errors(run.params))
    assert "is not a file" in str(error.value) and "calicoctl_timeout '0'" in str(error.value)


# --- the cluster calicoctl reaches ----------------------------------------------------------------

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: a
clusters:
- {name: a, cluster: {server: 'https://a.example:6443', certificate-authority-data: Q0EK}}
- {name: b, cluster: {server: 'https://b.example:6443/', insecure-skip-tls-verify: true}}
users: [{name: u, user: {token: T0KEN}}]
contexts: [{name: a, context: {cluster: a, user: u}}, {name: b, context: {cluster: b, user: u}}]
"""


class Connected(Run):
    """A module run whose connection is made from its parameters, as the modules' is (nothing is sent)."""

    def __init__(self, **params):
        super().__init__(**params)
        self.cleanup: list[str] = []

    @property
    def kube(self):
        from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import client as kube
        configuration = kube.build_configuration(self.params)  # what kube.Kube is made from, and its host
        return SimpleNamespace(configuration=configuration, host=configuration.host.rstrip("/"))

    def add_cleanup_file(self, path):
        self.cleanup.append(path)


@pytest.mark.parametrize("params, server, token, insecure", [
    ({"context": "b"}, "https://b.example:6443", "T0KEN", True),
    ({"host": "https://c.example", "api_key": "K3Y"}, "https://c.example", "K3Y", False),
    ({"validate_certs": False}, "https://a.example:6443", "T0KEN", True),
])
def test_calicoctl_gets_a_kubeconfig_of_the_modules_connection(tmp_path, monkeypatch, params, server, token, insecure):
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import client as kube
    (tmp_path / "config").write_text(KUBECONFIG)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    run = Connected(kubeconfig=str(tmp_path / "config"), **params)
    if "host" in params:
        run.params["kubeconfig"] = None
        (tmp_path / "home" / ".kube").mkdir(parents=True)
        (tmp_path / "home" / ".kube" / "config").write_text(KUBECONFIG)  # another cluster: never read
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = backend.calicoctl_kubeconfig(run)
    assert run.cleanup == [path] and os.path.dirname(path) == str(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    endpoint = kube.build_configuration({"kubeconfig": path})  # what calicoctl will reach, read back
    assert (endpoint.host.rstrip("/"), endpoint.token, not endpoint.verify) == (server, token, insecure)
    if not insecure:
        assert endpoint.ca_data == (b"CA\n" if "host" not in params else None)


def test_a_kubeconfig_alone_is_handed_to_calicoctl_as_it_is(tmp_path):
    (tmp_path / "config").write_text(KUBECONFIG)
    run = Connected(kubeconfig=str(tmp_path / "config"))
    assert backend.calicoctl_kubeconfig(run) == str(tmp_path / "config") and run.cleanup == []


@pytest.mark.parametrize("spec, refused", [
    ("  kubeconfig: {dir}/config\n", None),
    ("  k8sAPIEndpoint: https://a.example:6443/\n", None),
    ("  k8sAPIEndpoint: https://b.example:6443\n", "points calicoctl at https://b.example:6443"),
    ("  kubeconfigInline: \"{inline}\"\n", "points calicoctl at https://b.example:6443"),
    ("  k8sAPIToken: x\n", "names no cluster"),
])
def test_a_kubernetes_datastore_config_must_point_at_the_modules_cluster(tmp_path, spec, refused):
    (tmp_path / "config").write_text(KUBECONFIG)
    inline = KUBECONFIG.replace("current-context: a", "current-context: b").replace("\n", "\\n").replace("'", "")
    (tmp_path / "kdd.cfg").write_text("apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n"
                                      "  datastoreType: kubernetes\n" + spec.format(dir=tmp_path, inline=inline))
    run = Connected(kubeconfig=str(tmp_path / "config"), calicoctl_config=str(tmp_path / "kdd.cfg"),
                    calicoctl_path="/nonexistent/calicoctl")
    if refused is None:
        assert backend.calicoctl_of(run).datastore == "kubernetes"
    else:
        with pytest.raises(resources.CalicoError, match=refused):
            backend.calicoctl_of(run)
