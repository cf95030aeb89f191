"""in_process cannot break a task: every release's _execute_module arguments reach the usual run, a private
signature that changed and anything failing before the module starts make the module run the usual way, said at -vvv."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import in_process


def action(usual_calls: list) -> in_process.ActionModule:
    """The plugin on a local task of k8s_info, whose usual run records how it was called."""
    plugin = in_process.ActionModule.__new__(in_process.ActionModule)
    plugin._task = SimpleNamespace(action="containers_workload.secure_cluster.k8s_info", async_val=0, environment=None,
                                   args={"kind": "ConfigMap"}, check_mode=False,
                                   resolved_action="containers_workload.secure_cluster.k8s_info")
    plugin._connection = SimpleNamespace(transport="local")
    plugin._play_context = SimpleNamespace(become=False)
    plugin._templar = SimpleNamespace(template=lambda value: value)
    return plugin


@pytest.fixture
def usual(monkeypatch):
    """ansible-core's usual run, as a newer release with one more keyword argument would have it."""
    calls = []

    def newer(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False,
              delete_remote_tmp=None, wrap_async=False, ignore_unknown_opts=False, future_option=None):
        calls.append({"module_name": module_name, "task_vars": task_vars, "future_option": future_option,
                      "ignore_unknown_opts": ignore_unknown_opts})
        return {"usual": True}

    monkeypatch.setattr(NormalAction, "_execute_module", newer)
    return calls


@pytest.fixture
def vvv(monkeypatch):
    lines = []
    monkeypatch.setattr(in_process.display, "vvv", lambda msg, *a, **k: lines.append(msg))
    return lines


def test_a_keyword_argument_of_a_newer_release_reaches_the_usual_run(usual, vvv):
    result = action(usual)._execute_module(task_vars={}, future_option="x", ignore_unknown_opts=True)
    assert result == {"usual": True}
    assert usual == [{"module_name": None, "task_vars": {}, "future_option": "x", "ignore_unknown_opts": True}]
    assert any("a new Python process runs the module" in line for line in vvv)
    if in_process.unavailable() is None:
        assert any("future_option" in line for line in vvv)


def test_a_private_function_with_another_signature_is_found_at_load(monkeypatch):
    if in_process.RELEASE in in_process.PROVEN:
        assert in_process.mismatched() is None  # a proven release's functions take the calls made
    monkeypatch.setattr(NormalAction, "_update_module_args", lambda self, module_name, module_args: None)
    reason = in_process.mismatched()
    assert reason and "ActionBase._update_module_args" in reason


def test_a_signature_mismatch_runs_the_module_the_usual_way(monkeypatch, usual, vvv):
    monkeypatch.setattr(in_process, "RELEASE", in_process.PROVEN[-1])
    monkeypatch.setattr(in_process, "MISSING", None)
    monkeypatch.setattr(in_process, "SIGNATURES", "ansible-core's run_module does not take the call")
    assert action(usual)._execute_module(task_vars={}) == {"usual": True}
    assert len(usual) == 1
    assert any("run_module does not take the call" in line for line in vvv)


def test_a_failure_before_the_module_starts_runs_it_the_usual_way(monkeypatch, usual, vvv):
    monkeypatch.setattr(in_process, "RELEASE", in_process.PROVEN[-1])
    monkeypatch.setattr(in_process, "MISSING", None)
    monkeypatch.setattr(in_process, "SIGNATURES", None)
    plugin = action(usual)
    plugin._task.resolved_action = "containers_workload.secure_cluster.no_such_module"
    ran = []
    monkeypatch.setattr(in_process.ActionModule, "_run_here", lambda self, *a: ran.append(a))
    monkeypatch.setattr(in_process.ActionModule, "_update_module_args", lambda self, *a, **k: None)
    assert plugin._execute_module(task_vars={}) == {"usual": True}
    assert not ran and len(usual) == 1
    assert any("preparing the in-process run failed: ModuleNotFoundError" in line for line in vvv)
