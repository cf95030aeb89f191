# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper: counts the collection's module runs per host into $MODULE_RUNS_FILE (JSON)."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: module_runs
type: aggregate
short_description: Count module runs of containers_workload.secure_cluster per host
description: Writes the count per host and module, as JSON, to the file named by MODULE_RUNS_FILE when the playbook ends.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_runs"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.runs: dict[str, dict[str, int]] = {}
        self.seconds: dict[str, float] = {}  # wall seconds per task name, summed over hosts' batches
        self._task = None
        self._started = 0.0

    def _close_task(self) -> None:
        if self._task is not None:
            self.seconds[self._task] = self.seconds.get(self._task, 0.0) + time.monotonic() - self._started
        self._task = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_task()
        self._task, self._started = task.get_name(), time.monotonic()

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _count(self, result, *unused, **unused_kw) -> None:
        action = result._task.action
        if action.startswith("containers_workload.secure_cluster."):
            host = self.runs.setdefault(result._host.get_name(), {})
            name = action.rsplit(".", 1)[1]
            items = result._result.get("results")  # a loop: one module run per item that ran
            # A deferred preflight call queues its checks for a later one and runs no module.
            runs = (sum(1 for item in items if not item.get("skipped") and not item.get("deferred"))
                    if isinstance(items, list) else 0 if result._result.get("deferred") else 1)
            host[name] = host.get(name, 0) + runs

    v2_runner_on_ok = v2_runner_on_failed = _count

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        path = os.environ.get("MODULE_RUNS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"runs": self.runs, "seconds": self.seconds}, handle)
