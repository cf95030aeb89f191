# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the exposure_info module in the controller's Python when it runs locally (see plugin_utils/in_process.py),
then renders and writes the report's HTML page on the controller, from the module's result
(plugin_utils/pages.py: Jinja2 with autoescaping)."""

from __future__ import annotations

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report
from ansible_collections.containers_workload.secure_cluster.plugins.modules import exposure_info as _module  # noqa: F401
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import in_process, pages

# The controller loads this plugin once, before it forks a worker per task: the module and what it imports are
# then already in memory in every worker that runs it.


class ActionModule(in_process.ActionModule):

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        report = result.get("report")
        if isinstance(report, dict) and exposure_report.PAGE in report:
            try:
                if isinstance(report.get(exposure_report.ALSO_AFTER), dict):
                    report[exposure_report.ALSO_AFTER] = pages.write_exposure(report[exposure_report.ALSO_AFTER],
                                                                              bool(self._task.check_mode))
                result["report"] = pages.write_exposure(report, bool(self._task.check_mode))
            except OSError as exc:
                report.pop(exposure_report.PAGE, None)
                result.update(failed=True, msg=f"could not write the exposure report: {exc}")
        return result
