# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet page of a run, on the controller: reads every play host's variables, writes fleet.md and fleet.html,
prints a progress line per cluster of the batch (and a summary line per cluster at the end of the run)."""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import fleet

display = Display()

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "kind": {"type": "str", "choices": list(fleet.KINDS)},
    "from_artifacts": {"type": "dict"},
    "from_dir": {"type": "path"},
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
        check_mode = bool(self._task.check_mode)
        gather = args["from_artifacts"] is not None or args["from_dir"] is not None
        if gather:
            # The page of several runs (AWX's slices, or runs whose record files were gathered): no host of this
            # play is a row, every record is.
            try:
                kind, table = fleet.gathered(args["from_artifacts"], args["from_dir"], args["kind"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise AnsibleActionFail(f"cannot build the fleet page from the records given: {exc}") from None
            hosts, batch, number, stop = [r["host"] for r in table], [], 0, None
        else:
            kind = args["kind"] or "secure_cluster"
            hosts = [str(h) for h in task_vars.get("ansible_play_hosts_all") or []]
            batch = [str(h) for h in task_vars.get("ansible_play_batch") or []]
            active = [str(h) for h in task_vars.get("ansible_play_hosts") or []]
            hostvars = task_vars.get("hostvars") or {}
            collected = {name: self._host_vars(hostvars, name) for name in hosts}
            number = 1 + max([int(v.get(fleet.BATCH) or 0) for v in collected.values()] + [0])
            table, stop = fleet.rows(kind, hosts, collected, batch, active, number, limit)
        paths = {"md": os.path.join(args["dir"], "fleet.md"), "html": os.path.join(args["dir"], "fleet.html")}
        pages = [(paths["md"], fleet.markdown(kind, table)), (paths["html"], fleet.page(kind, table))]
        if not gather:
            # Each cluster's record next to the pages, for a page of several runs (from_dir).
            pages += [(path, json.dumps(fleet.row_record(kind, row), indent=1, sort_keys=True) + "\n")
                      for row in table if row["status"] != "pending"
                      for path in [fleet.row_file(args["dir"], row["host"])] if path]
        written = [path for path, content in pages if fleet.write(path, content, check_mode)]
        final = not any(row["status"] == "pending" for row in table)
        if args["progress"] and len(hosts) > 1:
            for row in table:
                if row["host"] in batch:
                    display.display(f"fleet: {fleet.line(row)}")
            if final:
                display.display(f"fleet: {fleet.headline(table, kind)} - {paths['html']}"
                                + (" (not written in check mode)" if check_mode else ""))
                for row in table:
                    display.display(f"fleet:   {fleet.line(row)}")
        result.update(
            changed=False, md=paths["md"], html=paths["html"], written=[] if check_mode else written,
            batch=number, stopped=stop, final=final, rows=table, stats=fleet.stats(kind, table, paths),
            artifacts=fleet.artifacts(kind, table, paths),
            ansible_facts={} if gather else {fleet.BATCH: number},
            msg=f"fleet page: {paths['html']} - {fleet.headline(table, kind)}"
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
