# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet page: one row per cluster (inventory host) of a run, as Markdown and as a self-contained HTML page.

Pure functions: ``rows`` turns what each host's variables say (the steps' registered results, the failure the
playbook's rescue kept, the exposure audits) into rows; ``markdown`` and ``page`` render them; ``write`` writes
a file only when it reads differently. The fleet_report action plugin collects the variables and calls these.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import yaml

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit.files import (
    file_link, markdown_text, write_if_changed)
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import pages

# The steps as the pattern declares them (its vars/main.yml, which its tasks read too): a step's outcome is read
# from what its tasks register: failed (the failure's step), changed (any result changed), unchanged (results,
# none changed), skipped with its switch (the plan has it off), not run (no result).
DECLARATION = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "containers_workload_pattern", "vars",
                           "main.yml")
DECLARED_AS = "_containers_workload_pattern_steps"


def _declared() -> tuple[dict, ...]:
    with open(DECLARATION, encoding="utf-8") as f:
        return tuple(yaml.safe_load(f)[DECLARED_AS])


DECLARED = _declared()
# The steps with a column on the fleet page (the audit's columns are its findings).
STEPS = tuple(s for s in DECLARED if s.get("label"))
# The pattern's first API read (reached = it succeeded) and the plan it showed (after every up-front check).
FIRST_READ = "_containers_workload_pattern_detected"
PLAN_SHOWN = "_containers_workload_pattern_shown"
PLAN = "_containers_workload_pattern_plan"
FAILURE = "secure_cluster_failure"
BATCH = "secure_cluster_fleet_batch"
EDGE_PREVIEW = "_edge_nodes_preview"
# The replay of the last converged run's reads: when it held, the steps had nothing to do and did not run.
CONVERGED = "_containers_workload_pattern_converged"
# What the action reads of each host's variables.
HOST_VARS = (FIRST_READ, PLAN_SHOWN, FAILURE, BATCH, EDGE_PREVIEW, CONVERGED, "exposure_report_before",
             "exposure_report_after", *(name for step in STEPS for name in step["registers"]))
SEVERITIES = ("high", "medium", "low", "info")
KINDS = ("secure_cluster", "audit", "rollback")
# The kinds that run the pattern's steps (forward, or undone in reverse order): a cell per step.
PATTERN_KINDS = ("secure_cluster", "rollback")


def plan_from(shown) -> dict[str, bool]:
    """{step: on} from the registered result of the task that shows the pattern's plan."""
    plan = shown.get(PLAN) if isinstance(shown, dict) else None
    return {s["step"]: bool(plan[s["step"]]) for s in DECLARED if s["step"] in plan} if isinstance(plan, dict) else {}


def failed_step(failure: dict) -> str:
    """The step a failure kept by the playbooks' rescue names: its own (read, checks, the audit's), else the
    declared step whose tag the failed task carries, else the pattern itself (a task of its own)."""
    if failure.get("step"):
        return str(failure["step"])
    tags = failure.get("tags") if isinstance(failure.get("tags"), list) else []
    return next((s["step"] for s in DECLARED if s["step"] in tags), "pattern")


def _result(value) -> dict | None:
    return value if isinstance(value, dict) else None


def step_outcome(step: dict, host: dict, plan: dict) -> dict:
    """One declared step's outcome on one host: {"state": changed|unchanged|skipped|failed|not run, "detail": ...}."""
    failure = _result(host.get(FAILURE))
    if failure and failed_step(failure) == step["step"]:
        return {"state": "failed", "detail": str(failure.get("msg", ""))}
    if plan.get(step["step"]) is False:
        return {"state": "skipped", "detail": step["set_by"]}
    # A result of the step's up-front check (validate_only, same register) is not the step having run.
    results = [r for r in (_result(host.get(name)) for name in step["registers"])
               if r is not None and not r.get("validated")]
    if any(r.get("changed") for r in results):
        return {"state": "changed", "detail": ""}
    if results or (_result(host.get(CONVERGED)) or {}).get("converged"):
        return {"state": "unchanged", "detail": ""}
    return {"state": "not run", "detail": ""}


def _summary(audit) -> dict | None:
    audit = _result(audit)
    summary = _result(audit.get("summary")) if audit else None
    if not summary:
        return None
    return {k: int(summary.get(k) or 0) for k in SEVERITIES}


def _drift(audit) -> int:
    audit = _result(audit)
    if not audit:
        return 0
    if isinstance(audit.get("drift"), list):
        return len(audit["drift"])
    summary = _result(audit.get("summary")) or {}
    return int(summary.get("drift") or 0)


def _report_link(audit) -> str | None:
    audit = _result(audit)
    report = _result(audit.get("report")) if audit else None
    path = report.get("html") if report else None
    return file_link(str(path)) if path else None


def _edge_nodes(host: dict) -> list[str] | int | None:
    # The steps' edge plan, or the one the record kept when the steps had nothing to do.
    preview = _result(host.get(EDGE_PREVIEW)) or _result((_result(host.get(CONVERGED)) or {}).get("facts", {})
                                                         .get("edge_preview"))
    if preview and isinstance(preview.get("edge_nodes"), list):
        return [str(n) for n in preview["edge_nodes"]]
    for phase in ("exposure_report_after", "exposure_report_before"):
        audit = _result(host.get(phase))
        summary = _result(audit.get("summary")) if audit else None
        if summary and "edge_nodes" in summary:
            return int(summary["edge_nodes"] or 0)
    return None


def stop_reason(batch_number: int, failed: int, batch_size: int, max_fail_percentage) -> str | None:
    """Why Ansible starts no later batch after this one, or None: every host of the batch failed, or more than
    max_fail_percentage of it did (failed / batch size > max_fail_percentage / 100, as ansible-core counts)."""
    if batch_size and failed == batch_size:
        return f"the run stopped after batch {batch_number} (every cluster of it failed)"
    if max_fail_percentage is not None and batch_size and failed / batch_size > float(max_fail_percentage) / 100:
        return (f"the run stopped after batch {batch_number} ({failed} of {batch_size} clusters failed, more than "
                f"max_fail_percentage {float(max_fail_percentage):g})")
    return None


def rows(kind: str, hosts: list[str], hostvars: dict[str, dict], batch: list[str], active: list[str],
         batch_number: int, max_fail_percentage=None) -> tuple[list[dict], str | None]:
    """The fleet's rows, in inventory order, and why the run stops after this batch (None: it goes on).

    hosts: every host of the play (ansible_play_hosts_all); batch: this batch's (ansible_play_batch); active: the
    hosts not failed (ansible_play_hosts); hostvars: per host, the variables of HOST_VARS it has."""
    out = {}
    for name in hosts:
        out[name] = _row(kind, name, hostvars.get(name) or {}, in_batch=name in batch, active=name in active)
    failed = sum(1 for name in batch if out[name]["status"] in ("failed", "not reached"))
    stop = stop_reason(batch_number, failed, len(batch), max_fail_percentage)
    for row in out.values():
        if row["status"] == "pending" and stop:
            row.update(status="not reached", message=stop)
    return list(out.values()), stop


def _row(kind: str, name: str, host: dict, in_batch: bool, active: bool) -> dict:
    failure = _result(host.get(FAILURE))
    before, after = host.get("exposure_report_before"), host.get("exposure_report_after")
    first = _result(host.get(FIRST_READ)) if kind in PATTERN_KINDS else _result(before)
    reached = bool(first) and not first.get("failed")
    plan = plan_from(host.get(PLAN_SHOWN))
    steps = {step["step"]: step_outcome(step, host, plan) for step in STEPS} if kind in PATTERN_KINDS else {}
    row = {"host": name, "reached": reached, "steps": steps, "before": _summary(before), "after": _summary(after),
           "drift": _drift(after) or _drift(before), "edge_nodes": _edge_nodes(host),
           "links": {phase: link for phase, link in (("before", _report_link(before)), ("after", _report_link(after)))
                     if link},
           "changed_steps": [s for s, o in steps.items() if o["state"] == "changed"]}
    if failure:
        message = str(failure.get("msg") or "failed")
        if not reached:
            row.update(status="not reached", message=message, step=failed_step(failure))
        else:
            row.update(status="failed", message=message, step=failed_step(failure))
    elif in_batch and not active:
        row.update(status="failed" if reached else "not reached", step="",
                   message="Ansible stopped this host outside the steps (unreachable, or a failure no rescue caught): "
                           "see its lines in the run's output")
    elif first is None and not in_batch and BATCH not in host:
        row.update(status="pending", message="in a later batch", step="")
    else:
        row.update(status="done", message="", step="")
    return row


def totals(table: list[dict]) -> dict:
    """Counts of the rows by status, changed among the done, and findings after (before where no after)."""
    out = {"clusters": len(table), "done": 0, "changed": 0, "failed": 0, "not_reached": 0, "pending": 0,
           "drift": sum(r["drift"] for r in table), **{k: 0 for k in SEVERITIES}}
    for row in table:
        out[row["status"].replace(" ", "_")] += 1
        out["changed"] += bool(row["status"] == "done" and row["changed_steps"])
        findings = row["after"] or row["before"] or {}
        for k in SEVERITIES:
            out[k] += findings.get(k, 0)
    return out


def line(row: dict) -> str:
    """The progress line of one cluster (prefixed ``fleet:`` by the caller)."""
    if row["status"] == "done":
        if row["changed_steps"]:
            n = len(row["changed_steps"])
            return f"{row['host']} done, changed {n} step{'s' if n != 1 else ''} ({', '.join(row['changed_steps'])})"
        return f"{row['host']} done" + (", unchanged" if row["steps"] else "")
    if row["status"] == "failed":
        return f"{row['host']} failed: {_where(row)}{_one_line(row['message'])}"
    if row["status"] == "not reached":
        return f"{row['host']} not reached: {_one_line(row['message'])}"
    return f"{row['host']} pending ({row['message']})"


def _where(row: dict) -> str:
    """The failed step before the message (a cluster not reached failed at its first read: no step to name)."""
    return f"{row['step']}: " if row.get("step") and row["status"] == "failed" else ""


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def headline(table: list[dict], kind: str) -> str:
    t = totals(table)
    parts = [f"{t['done']} done" + (f" ({t['changed']} changed)" if kind in PATTERN_KINDS else ""),
             f"{t['failed']} failed", f"{t['not_reached']} not reached"]
    if t["pending"]:
        parts.append(f"{t['pending']} pending")
    return f"{t['clusters']} cluster{'s' if t['clusters'] != 1 else ''}: " + ", ".join(parts)


def _outcome_text(outcome: dict) -> str:
    if outcome["state"] == "skipped":
        return f"skipped ({outcome['detail']})"
    return outcome["state"]


def _counts(findings: dict | None) -> str:
    return " / ".join(str(findings[k]) for k in SEVERITIES) if findings else "-"


def _edge_text(edge) -> str:
    if edge is None:
        return "-"
    if isinstance(edge, int):
        return str(edge)
    return ", ".join(edge) if edge else "none"


def _status_text(row: dict) -> str:
    if row["status"] == "done":
        if not row["steps"]:  # the audit: no steps, nothing to change
            return "done"
        return "done, changed" if row["changed_steps"] else "done, unchanged"
    if row["status"] in ("failed", "not reached"):
        return f"{row['status']}: {_where(row)}{_one_line(row['message'])}"
    return f"pending ({row['message']})"


TITLES = {"secure_cluster": "Fleet: secure_cluster run", "audit": "Fleet: audit", "rollback": "Fleet: rollback run"}


def markdown(kind: str, table: list[dict]) -> str:
    """The fleet page as Markdown: the headline, then one row per cluster (every cell through markdown_text)."""
    m = markdown_text
    steps = [s["step"] for s in STEPS] if kind in PATTERN_KINDS else []
    lines = [f"# {TITLES[kind]}", "", m(headline(table, kind)) + ".", "",
             "Findings are high / medium / low / info. Reached: the first read of the cluster's API succeeded.", ""]
    header = ["cluster", "reached", "status", *steps, "findings before", "findings after", "drift", "edge nodes",
              "reports"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table:
        # file_link quotes the file name: nothing in it can end the link or the cell.
        links = ", ".join(f"[{m(phase)}]({link})" for phase, link in row["links"].items()) or "-"
        cells = [m(row["host"], code=True), "yes" if row["reached"] else "no", m(_status_text(row)),
                 *(m(_outcome_text(row["steps"][s])) for s in steps), _counts(row["before"]),
                 _counts(row["after"]), str(row["drift"]) if row["drift"] else "-", m(_edge_text(row["edge_nodes"])),
                 links]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


STEP_LABELS = {s["step"]: s["label"] for s in STEPS}
BAR_WIDTH, BAR_LABEL = 150, 40


def bars(before: dict | None, after: dict | None, scale: int) -> dict:
    """The findings bars of one row (pages.py draws them): for before and after, a part per severity above info,
    its width on the fleet's common scale."""
    phases = []
    for y, name, findings in ((2, "before", before), (16, "after", after)):
        parts, x = [], float(BAR_LABEL)
        for severity in ("high", "medium", "low") if findings is not None else ():
            width = BAR_WIDTH * findings[severity] / scale if scale else 0
            if width:
                parts.append({"x": x, "width": width, "count": findings[severity], "severity": severity,
                              "color": pages.SEVERITY_COLORS[severity]})
            x += width
        phases.append({"y": y, "name": name, "none": findings is None, "parts": parts})
    return {"before_text": _counts(before), "after_text": _counts(after), "phases": phases}


def _page_row(row: dict, steps: list[str], scale: int) -> dict:
    status = {"done": "changed" if row["changed_steps"] else "unchanged" if row["steps"] else "done",
              "failed": "failed", "not reached": "not reached", "pending": "pending"}[row["status"]]
    no_step_ran = bool(steps) and all(row["steps"][s]["state"] == "not run" for s in steps)
    cells = []
    for s in [] if no_step_ran else steps:
        outcome = row["steps"][s]
        cells.append({"css": outcome["state"].replace(" ", "-"),
                      "title": _outcome_text(outcome) if outcome["state"] != "failed" else f"failed: {outcome['detail']}",
                      "text": "off" if outcome["state"] == "skipped" else outcome["state"]})
    return {"host": row["host"], "status": row["status"], "shown": status,
            "css": {"done": "done", "failed": "failed", "not reached": "unreached", "pending": "pending"}[row["status"]],
            "message": f"{_where(row)}{_one_line(row['message'], 400)}" if row["message"] else "",
            "no_step_ran": no_step_ran, "steps": cells, "bars": bars(row["before"], row["after"], scale),
            "counts": f"{_counts(row['before'])} \u2192 {_counts(row['after'])}" if row["before"] or row["after"] else "",
            "drift": row["drift"], "edge": _edge_text(row["edge_nodes"]), "links": list(row["links"].items())}


def page(kind: str, table: list[dict]) -> str:
    """The fleet page as self-contained HTML (inline CSS and SVG, no external asset), from pages.py's template."""
    t = totals(table)
    steps = [s["step"] for s in STEPS] if kind in PATTERN_KINDS else []
    scale = max([sum(f[k] for k in ("high", "medium", "low")) for r in table for f in (r["before"], r["after"]) if f]
                + [1])
    badges = [("b-total", f"{t['clusters']} clusters"), ("b-done", f"{t['done']} done")]
    if kind in PATTERN_KINDS:
        badges.append(("b-changed", f"{t['changed']} changed"))
    badges += [("b-failed", f"{t['failed']} failed"), ("b-unreached", f"{t['not_reached']} not reached")]
    if t["pending"]:
        badges.append(("b-pending", f"{t['pending']} pending"))
    drifted = sum(1 for r in table if r["drift"])
    if drifted:
        badges.append(("b-failed", f"{drifted} drifted ({t['drift']} findings)"))
    # A count of zero is no news: its badge is grey, whatever its colour otherwise.
    badges = [(css if not text.startswith("0 ") else "b-pending", text) for css, text in badges]
    return pages.fleet(title=TITLES[kind], headline=headline(table, kind), badges=badges,
                       legend=[(k, pages.SEVERITY_COLORS[k]) for k in ("high", "medium", "low")],
                       step_labels=[STEP_LABELS[s] for s in steps], rows=[_page_row(r, steps, scale) for r in table])


def write(path: str, content: str, check_mode: bool) -> bool:
    """Write the page (whole, atomically) when it reads differently, never in check mode; True when it was (or
    would be) written."""
    return write_if_changed(path, content, check_mode)


# What set_stats hands on per cluster, one top-level key each: AWX merges the artifacts of a workflow's jobs (the
# slices of a sliced job among them) with a top-level dict update, so per-host keys add up across slices where
# one key would be overwritten by the last slice. The same per cluster, as a file next to the pages.
ARTIFACT_PREFIX = "secure_cluster_fleet_host_"
ROW_FILE_SUFFIX = ".fleet.json"


def artifact_key(host: str) -> str:
    """The host's top-level artifact key: a variable name (what AWX hands on becomes extra vars), the host's own
    name when it is one, else a readable form and a hash of the name, so no two hosts share a key."""
    slug = re.sub(r"[^A-Za-z0-9_]", "_", host)
    if slug != host:
        slug += "_" + hashlib.sha256(host.encode("utf-8")).hexdigest()[:10]
    return ARTIFACT_PREFIX + slug


def row_record(kind: str, row: dict) -> dict:
    return {"kind": kind, "row": row}


def artifacts(kind: str, table: list[dict], paths: dict) -> dict:
    """What set_stats hands on: the run's summary (``secure_cluster_fleet``, as before) and a record per cluster
    not pending (a pending one is handed on by the batch that runs it)."""
    out = {"secure_cluster_fleet": stats(kind, table, paths)}
    out.update({artifact_key(r["host"]): row_record(kind, r) for r in table if r["status"] != "pending"})
    return out


def row_file(directory: str, host: str) -> str | None:
    """The per-cluster record's file, or None for a host whose name is no file name (its reports are none)."""
    if not host or "/" in host or host.startswith(".") or "\0" in host:
        return None
    return os.path.join(directory, host + ROW_FILE_SUFFIX)


def gathered(from_artifacts: dict | None, from_dir: str | None, kind: str | None = None) -> tuple[str, list[dict]]:
    """The kind and the rows of a fleet page made of several runs: the per-cluster records of merged artifacts
    (AWX's slices: each slice's set_stats, merged into the follow-up job's extra vars) and of the record files
    gathered in a directory; one row per cluster (a record in the artifacts wins over a file's), in the order
    of the hosts' names, as AWX slices an inventory. Raises ValueError for records of different kinds or none."""
    records = {}
    if from_dir:
        for name in sorted(os.listdir(from_dir)):
            if name.endswith(ROW_FILE_SUFFIX):
                with open(os.path.join(from_dir, name), encoding="utf-8") as f:
                    record = json.load(f)
                records[record["row"]["host"]] = record
    for key, record in sorted((from_artifacts or {}).items()):
        if key.startswith(ARTIFACT_PREFIX) and isinstance(record, dict) and isinstance(record.get("row"), dict):
            records[record["row"]["host"]] = record
    kinds = {r["kind"] for r in records.values()} | ({kind} if kind else set())
    if not records:
        raise ValueError("no cluster records: give the merged artifacts (keys " + ARTIFACT_PREFIX + "*) or a "
                         "directory of *" + ROW_FILE_SUFFIX + " files")
    if len(kinds) != 1:
        raise ValueError(f"the records are of different runs ({', '.join(sorted(kinds))}): one page per kind")
    return kinds.pop(), [records[host]["row"] for host in sorted(records)]


def stats(kind: str, table: list[dict], paths: dict) -> dict:
    """What set_stats carries for AWX (key secure_cluster_fleet): per host status, message, changed steps,
    findings and drift; the totals; the pages' paths."""
    return {"kind": kind, "totals": totals(table), "pages": paths,
            "hosts": {r["host"]: {"status": r["status"], "reached": r["reached"], "message": r["message"],
                                  "step": r["step"], "changed_steps": r["changed_steps"],
                                  "findings": r["after"] or r["before"] or {}, "drift": r["drift"]}
                      for r in table}}
