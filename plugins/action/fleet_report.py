# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet page of a run, on the controller: reads every play host's variables, writes fleet.md and fleet.html,
prints a progress line per cluster of the batch (and a summary line per cluster at the end of the run)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import fleet

display = Display()

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "kind": {"type": "str", "default": "secure_cluster", "choices": list(fleet.KINDS)},
    "max_fail_percentage": {"type": "raw"},
    "progress": {"type": "bool", "default": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        unused_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        limit = args["max_fail_percentage"]
        if limit is not None and str(limit).strip() != "":
            try:
                limit = float(limit)
            except (TypeError, ValueError):
                raise AnsibleActionFail(f"max_fail_percentage {limit!r} is not a number: give the play's "
                                        "max_fail_percentage (0 to 100), or leave it out") from None
        else:
            limit = None
        hosts = [str(h) for h in task_vars.get("ansible_play_hosts_all") or []]
        batch = [str(h) for h in task_vars.get("ansible_play_batch") or []]
        active = [str(h) for h in task_vars.get("ansible_play_hosts") or []]
        hostvars = task_vars.get("hostvars") or {}
        collected = {name: self._host_vars(hostvars, name) for name in hosts}
        number = 1 + max([int(v.get(fleet.BATCH) or 0) for v in collected.values()] + [0])

        table, stop = fleet.rows(args["kind"], hosts, collected, batch, active, number, limit)
        paths = {"md": os.path.join(args["dir"], "fleet.md"), "html": os.path.join(args["dir"], "fleet.html")}
        check_mode = bool(self._task.check_mode)
        written = [paths[k] for k, content in (("md", fleet.markdown(args["kind"], table)),
                                               ("html", fleet.page(args["kind"], table)))
                   if fleet.write(paths[k], content, check_mode)]
        final = not any(row["status"] == "pending" for row in table)
        if args["progress"] and len(hosts) > 1:
            for row in table:
                if row["host"] in batch:
                    display.display(f"fleet: {fleet.line(row)}")
            if final:
                display.display(f"fleet: {fleet.headline(table, args['kind'])} - {paths['html']}"
                                + (" (not written in check mode)" if check_mode else ""))
                for row in table:
                    display.display(f"fleet:   {fleet.line(row)}")
        result.update(
            changed=False, md=paths["md"], html=paths["html"], written=[] if check_mode else written,
            batch=number, stopped=stop, final=final, rows=table, stats=fleet.stats(args["kind"], table, paths),
            ansible_facts={fleet.BATCH: number},
            msg=f"fleet page: {paths['html']} - {fleet.headline(table, args['kind'])}"
                + (" (not written in check mode)" if check_mode else ""))
        return result

    @staticmethod
    def _host_vars(hostvars, name: str) -> dict:
        """The variables of fleet.HOST_VARS the host has (hostvars templates each one on access)."""
        try:
            host = hostvars[name]
        except KeyError:
            return {}
        return {var: host[var] for var in fleet.HOST_VARS if var in host}
