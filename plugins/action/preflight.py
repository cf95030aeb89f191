# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the preflight module in the controller's Python when it runs locally (see plugin_utils/in_process.py).

With ``defer`` the checks are not run but queued, in a host fact of this ansible-playbook run; the next call with
``queued`` runs them with its own, as one module run (the composing role's up-front checks of every step). A
queue another run left (a fact cache keeps facts across runs) is never read: it carries the run's token.
"""

from __future__ import annotations

import os

from ansible.module_utils.common.validation import check_type_bool

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import preflight
from ansible_collections.containers_workload.secure_cluster.plugins.modules import preflight as _module  # noqa: F401
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import in_process

# The controller loads this plugin once, before it forks a worker per task: the module and what it imports are
# then already in memory in every worker that runs it.

QUEUE = "_secure_cluster_preflight_queue"


def nothing_checked() -> dict:
    """The result of a call that makes no request (a deferred one, or nothing queued)."""
    return {"changed": False, "missing_api_groups": [], "missing_resources": [], "missing_service_accounts": [],
            "denied": [], "api_calls": {}}


def run_token() -> str:
    """This ansible-playbook run: the controller's main process, which forks the worker of every task (its start
    time too where /proc tells it, so that a reused process id is another run)."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/stat", encoding="ascii") as handle:
            started = handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = ""
    return f"{parent}:{started}"


class ActionModule(in_process.ActionModule):

    def run(self, tmp=None, task_vars=None):
        args = self._task.args
        defer, queued = check_type_bool(args.get("defer", False)), check_type_bool(args.get("queued", False))
        identity = check_type_bool(args.get("identity", False))
        if defer and queued:
            return {"failed": True, "msg": "give defer or queued, not both"}
        if defer and identity:
            return {"failed": True, "msg": "identity cannot be deferred: its answer is needed now"}
        entries = self._queue(task_vars or {})
        if defer:
            entry = preflight.queued({key: args.get(key) for key in (*preflight.CHECKS, "api_groups_fix")})
            return {**nothing_checked(), "deferred": True,
                    "ansible_facts": {QUEUE: {"token": run_token(), "checks": [*entries, entry]}}}
        if queued:
            self._task.args = preflight.merged({k: v for k, v in args.items() if k != "queued"}, entries)
            if not identity and not any(self._task.args[key] for key in preflight.CHECKS):
                result = nothing_checked()
            else:
                result = super().run(tmp, task_vars)
            result["ansible_facts"] = {QUEUE: {}}  # the queue was read: the next run starts with none
            return result
        return super().run(tmp, task_vars)

    @staticmethod
    def _queue(task_vars: dict) -> list[dict]:
        """The checks this run queued so far (none from another run)."""
        queue = (task_vars.get("ansible_facts") or {}).get(QUEUE) or {}
        return list(queue.get("checks") or []) if queue.get("token") == run_token() else []
