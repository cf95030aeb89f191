"""Modules run in the controller's Python (plugin_utils/in_process.py) give what a separate module process gives:
the same results, check mode, diff, warnings and failures, and secrets stay out of the output either way."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ANSIBLE_VERSION

from conftest import run_playbook, unique

# The releases the in-process run is proven on (the matrix of `make test` runs this file on every release).
IN_PROCESS = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2]) in (
    (2, 16), (2, 17), (2, 18), (2, 19), (2, 20), (2, 21))

# Object identity and times, and the VPN pod's config checksum (keyed with a random salt for a new Secret).
VOLATILE = {"uid", "resourceVersion", "creationTimestamp", "time", "managedFields",
            "secure-cluster.containers-workload/config-checksum"}


def scrub(value, name: str):
    """The result with what differs between any two runs (object identity and times) taken out."""
    if isinstance(value, dict):
        return {k.replace(name, "NAME"): scrub(v, name) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [scrub(v, name) for v in value]
    return value.replace(name, "NAME") if isinstance(value, str) else value


def play(cluster, name: str, vpn: dict, out: Path) -> list[dict]:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
                  "data": {"mode": "same either way"}}
    apply = {"containers_workload.secure_cluster.k8s_apply": {"definitions": [config_map]}}
    tasks = [
        {"name": "predict", **apply, "check_mode": True, "diff": True, "register": "predicted"},
        {"name": "apply", **apply, "diff": True, "register": "applied"},
        {"name": "again", **apply, "register": "again"},
        {"name": "refuse", "containers_workload.secure_cluster.k8s_apply": {"definitions": [{"kind": "ConfigMap"}]},
         "register": "refused", "ignore_errors": True},
        {"name": "vpn", "containers_workload.secure_cluster.strongswan_vpn": vpn,
         "check_mode": True, "diff": True, "register": "vpn"},
        # A loop runs its items in one worker process: the second item must not carry the first one's warning.
        {"name": "vpn loop", "containers_workload.secure_cluster.strongswan_vpn": {**vpn, "ipsec": "{{ item }}"},
         "loop": [vpn["ipsec"], {"ike": "aes256-sha256-modp2048!", "esp": "aes256-sha256!"}],
         "check_mode": True, "register": "vpn_loop"},
        {"name": "remove", "containers_workload.secure_cluster.k8s_apply": {
            "definitions": [config_map], "state": "absent"}},
        {"name": "keep", "ansible.builtin.copy": {
            "content": "{{ {'predicted': predicted, 'applied': applied, 'again': again, 'refused': refused, "
                       "'vpn': vpn, 'vpn_loop': vpn_loop} | to_json }}", "dest": str(out)}, "delegate_to": "localhost"}]
    return [{"hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/containers_workload.secure_cluster.all": {"kubeconfig": cluster.kubeconfig}},
             "tasks": tasks}]


@pytest.fixture(scope="module")
def both_ways(iks_cluster, tmp_path_factory):
    """The same play run in process (the default) and as separate module processes."""
    runs, secret = {}, secrets.token_urlsafe(24)
    vpn = {"namespace": unique("inproc-vpn"), "preshared_secret": secret, "remote": {"subnet": ["192.168.100.0/24"]},
           "ipsec": {"ike": "aes128-sha1-modp1024!", "esp": "aes128-sha1!"}}  # weak on purpose: a warning
    for in_process in (True, False):
        workdir = tmp_path_factory.mktemp(f"in-process-{in_process}")
        name = unique("inproc")
        (workdir / "play.yml").write_text(yaml.safe_dump(play(iks_cluster, name, vpn, workdir / "out.json")))
        result = run_playbook(iks_cluster, str(workdir / "play.yml"), "-vvv",
                              "-e", f"secure_cluster_in_process={in_process}")
        runs[in_process] = {"name": name, "secret": secret, "stdout": result.stdout + result.stderr,
                            "results": json.loads((workdir / "out.json").read_text())}
    return runs


def test_each_way_ran_as_asked(both_ways):
    here, there = both_ways[True]["stdout"], both_ways[False]["stdout"]
    if IN_PROCESS:
        assert here.count("the module runs in the controller's Python (in process)") == 8
        assert "AnsiballZ_k8s_apply" not in here and "AnsiballZ_strongswan_vpn" not in here
        # Nothing but results: no stray output of the module run (such as runpy's warnings) reaches the user.
        assert "errantly sent data" not in here and "RuntimeWarning" not in here
    else:  # another release: the usual way, and -vvv says why
        assert here.count("a new Python process runs the module (in-process runs are proven on ansible-core 2.16, "
                          f"2.17, 2.18, 2.19, 2.20, 2.21; this is {ANSIBLE_VERSION})") == 8
        assert "the module runs in the controller's Python" not in here
        assert "AnsiballZ_k8s_apply" in here
    assert there.count("a new Python process runs the module (secure_cluster_in_process is false)") == 8
    assert "AnsiballZ_k8s_apply" in there


def test_results_are_the_same_either_way(both_ways):
    here, there = (scrub(both_ways[way]["results"], both_ways[way]["name"]) for way in (True, False))
    assert here == there
    assert here["predicted"]["changed"] is True and here["predicted"]["diff"]
    assert here["applied"]["changed"] is True and here["again"]["changed"] is False
    assert here["refused"]["failed"] is True and here["refused"]["msg"]
    assert any("weak algorithm" in warning for warning in here["vpn"]["warnings"])
    # Warnings of loop items are shown, not kept in the result: each way shows the same ones, no more.
    shown = [both_ways[way]["stdout"].count("weak algorithm") for way in (True, False)]
    assert shown[0] == shown[1] > 0


def test_secrets_stay_out_of_output_and_results_either_way(both_ways):
    for run in both_ways.values():
        assert run["secret"] not in run["stdout"]
        assert run["secret"] not in json.dumps(run["results"])
