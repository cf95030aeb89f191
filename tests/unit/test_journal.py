"""The journal of a run's reads and the record's digests (module_utils/kube/journal.py, record.py): what makes
two answers "the same", and what keeps a record from being made."""

from __future__ import annotations

import json

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import journal, record

NODE = {"kind": "Node", "metadata": {"name": "w1", "resourceVersion": "10", "labels": {"dedicated": "edge"},
                                     "managedFields": [{"manager": "kubelet"}]},
        "spec": {"taints": [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-12-08T00:00:00Z"}]}}


def changed(**paths):
    node = json.loads(json.dumps(NODE))
    for path, value in paths.items():
        *parents, last = path.split("__")
        target = node
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[int(last) if isinstance(target, list) else last] = value
    return node


def test_what_changes_on_its_own_does_not_change_the_digest():
    same = changed(metadata__resourceVersion="11", metadata__managedFields=[],
                   status__conditions__0__lastHeartbeatTime="2026-12-08T00:05:00Z")
    assert journal.digest(same) == journal.digest(NODE)
    listed = {"kind": "NodeList", "metadata": {"resourceVersion": "12", "continue": "token-a"}, "items": [NODE]}
    assert journal.digest({**listed, "metadata": {"resourceVersion": "13", "continue": "token-b"}}) == \
        journal.digest(listed)


@pytest.mark.parametrize("path,value", [("metadata__labels", {}), ("spec__taints", []),
                                        ("status__conditions__0__status", "False")])
def test_what_a_step_could_decide_on_changes_the_digest(path, value):
    assert journal.digest(changed(**{path: value})) != journal.digest(NODE)


def test_a_rules_review_is_unordered_other_lists_are_not():
    rules = [{"verbs": ["get"], "resources": ["pods"]}, {"verbs": ["*"], "resources": ["*"]}]
    review = {"kind": "SelfSubjectRulesReview", "status": {"resourceRules": rules}}
    assert journal.digest(review) == journal.digest({**review, "status": {"resourceRules": rules[::-1]}})
    taints = NODE["spec"]["taints"] + [{"key": "other", "effect": "NoExecute"}]
    assert journal.digest(changed(spec__taints=taints)) != journal.digest(changed(spec__taints=taints[::-1]))


def test_the_journal_keeps_each_read_once_and_says_why_it_is_incomplete(tmp_path, monkeypatch):
    path = str(tmp_path / "run.journal")
    journal.read("kube", "GET", "/api/v1/nodes", {}, 200, NODE)  # no journal named: nothing kept
    assert not (tmp_path / "run.journal").exists()
    journal.start(path, {"salt": "s", "inputs": "d"})
    monkeypatch.setenv(journal.ENV, path)
    journal.read("kube", "GET", "/api/v1/nodes", {}, 200, NODE)
    journal.read("kube", "GET", "/api/v1/nodes", {}, 200, changed(metadata__labels={}))
    journal.read("kube", "GET", "/api/v1/nodes/w9", {}, 404, None)
    journal.read("kube", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {}, 201, {},
                 request={"spec": {"resourceAttributes": {"verb": "patch", "resource": "nodes"}}})
    header, entries, reason = journal.load(path)
    assert header == {"salt": "s", "inputs": "d"} and reason == ""
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/api/v1/nodes", 200), ("GET", "/api/v1/nodes/w9", 404),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 200)]
    assert entries[0]["digest"] == journal.digest(changed(metadata__labels={}))  # the last answer
    journal.incomplete("calicoctl answered a step")
    assert journal.load(path)[2] == "calicoctl answered a step"
    assert journal.load(str(tmp_path / "none"))[2] == "no journal was kept"


def test_the_inputs_digest_covers_the_inputs_the_kubeconfig_and_the_collection(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("token: a\n")
    params = {"kubeconfig": str(kubeconfig), "context": None, "host": None, "api_key": None, "platform": "classic"}
    base = record.inputs_digest("salt", '{"edge_nodes_per_zone": 2}', params, "sources")
    assert base == record.inputs_digest("salt", '{"edge_nodes_per_zone": 2}', params, "sources")
    assert base != record.inputs_digest("other", '{"edge_nodes_per_zone": 2}', params, "sources")
    assert base != record.inputs_digest("salt", '{"edge_nodes_per_zone": 3}', params, "sources")
    assert base != record.inputs_digest("salt", '{"edge_nodes_per_zone": 2}', params, "sources 2")
    kubeconfig.write_text("token: b\n")
    assert base != record.inputs_digest("salt", '{"edge_nodes_per_zone": 2}', params, "sources")


def test_the_collection_digest_follows_its_files(tmp_path):
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    task = tmp_path / "roles" / "r" / "tasks" / "main.yml"
    task.write_text("- name: a\n")
    assert record.sources_digest(str(tmp_path / "nothing")) == ""
    first = record.sources_digest(str(tmp_path))
    (tmp_path / "roles" / "r" / "tasks" / "__pycache__").mkdir()
    (tmp_path / "roles" / "r" / "tasks" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert record.sources_digest(str(tmp_path)) == first
    task.write_text("- name: b\n")
    assert record.sources_digest(str(tmp_path)) != first
    assert record.sources_digest() != ""  # the collection this test imports
