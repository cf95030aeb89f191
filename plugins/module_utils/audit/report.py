# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exposure report of an audit, as Markdown and as a self-contained HTML page, written where the audit runs.

The "after" report also lists what was closed since the "before" one: objects (and, for access, kind and object)
with a low, medium or high finding before that have none now; next to it, the tamper part: who other than the
platform's own could undo or read each control the pattern set.

Drift: every report also keeps the findings above info as the cluster's last state, ``<dir>/<name>.last.json``;
the "before" report names what reappeared since then. The gate (``gate``) turns open findings and drift into
the failure message of the exposure_report role.
"""

from __future__ import annotations

import json
import os

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit.files import (
    markdown_text, read_bytes, write_if_changed)

# What the report tables show of the summary, in order.
SUMMARY_COLUMNS = ("high", "medium", "low", "info")
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2, "info": 3}
FIRST_AUDIT = "First audit of this cluster: nothing to compare with."
NO_DRIFT = "Nothing reappeared since the last report."
DRIFT_TITLE = "Reappeared since the last report"
GATE_VALUES = ("none", "high", "medium", "low", "drift")
GATE_SHOWN = 10


def identity(f: dict) -> tuple:
    """What a finding is about, for drift: its area, kind, object (the workload for a pod, so a replaced pod is the
    same) and nature (which NodePort, which missing taint); its severity is compared separately."""
    return f.get("area") or "", f["kind"], f.get("workload") or f["object"], f.get("nature") or ""


def drift(last: list[dict] | None, now: list[dict]) -> list[dict]:
    """Findings above info now whose identity the last state did not have at this severity or a higher one (a
    NodePort blocked then and open now, a low finding that is high now); none without a last state."""
    if last is None:
        return []
    worst: dict[tuple, int] = {}
    for f in last:
        worst[identity(f)] = min(worst.get(identity(f), 3), SEVERITY_RANK[f["severity"]])
    return [f for f in now if f["severity"] != "info" and SEVERITY_RANK[f["severity"]] < worst.get(identity(f), 4)]


def state_path(report: dict) -> str:
    return os.path.join(report["dir"], f"{report['name']}.last.json")


def last_state(report: dict) -> tuple[list[dict] | None, str]:
    """The findings the cluster's last report kept (None when there is no state yet: its first audit), and why
    the state could not be read ("" when it could). A damaged state (a run killed while writing it, a full disk,
    an edit) is no reason to stop auditing: it is named, read as none, and this audit's state replaces it."""
    path = state_path(report)
    data = read_bytes(path)
    if data is None:
        return None, ""
    problem = state_problem(data)
    if problem:
        return None, (f"the cluster's last state {path} is unreadable ({problem}): it is rebuilt from this audit, "
                      "which therefore names no drift")
    return json.loads(data.decode("utf-8"))["findings"], ""


def state_problem(data: bytes) -> str:
    """What is wrong with a state file's content, or "" when it is a state this audit wrote."""
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"not JSON: {exc}" if data.strip() else "empty"
    if not isinstance(state, dict) or not isinstance(state.get("findings"), list):
        return 'not a mapping with a list "findings"'
    for index, f in enumerate(state["findings"]):
        if not (isinstance(f, dict) and f.get("severity") in SEVERITY_RANK
                and all(isinstance(f.get(k), str) for k in ("kind", "object"))
                and all(isinstance(f.get(k) or "", str) for k in ("area", "workload", "nature"))):
            return f"finding {index} is not a finding with severity, kind and object"
    return ""


def state_text(findings: list[dict]) -> str:
    """The state: the findings above info, and the admission guard's policies in place (so that one gone by the
    next audit is reported missing)."""
    kept = [f for f in findings if f["severity"] != "info"
            or (f["kind"] == "Admission guard" and f.get("nature") == "in place")]
    return json.dumps({"findings": kept}, indent=1, sort_keys=True) + "\n"


def closed(before: list[dict], now: list[dict]) -> tuple[list[str], list[str]]:
    """(network objects, access "Kind object") with a finding above info before and none now, in report order."""
    def keys(findings: list[dict], access: bool) -> list[str]:
        return [f"{f['kind']} {f['object']}" if access else f["object"] for f in findings
                if f["severity"] != "info" and f.get("area") == ("access" if access else None)]

    def gone(access: bool) -> list[str]:
        still = set(keys(now, access))
        return [k for k in dict.fromkeys(keys(before, access)) if k not in still]
    return gone(False), gone(True)


def markdown(name: str, phase: str, audit: dict, plan: dict, closed_network: list[str], closed_access: list[str],
             first: bool | None = None, unreadable: str = "") -> str:
    """The report as Markdown; ``first`` is None where drift is not shown (the after report), else whether this is
    the cluster's first audit (nothing to compare with); ``unreadable``: why the last state could not be read.
    Whatever comes from the cluster or the inventory goes through ``markdown_text``."""
    m = markdown_text
    s = audit["summary"]
    lines = [f"# Exposure report: {m(name)} ({m(phase)})", "",
             "| high | medium | low | info | NodePorts blocked | public ALBs enabled | VPN | edge nodes |",
             "|---|---|---|---|---|---|---|---|",
             f"| {' | '.join(str(s[k]) for k in SUMMARY_COLUMNS)} | {yes(s['nodeports_blocked'])} | "
             f"{s['public_albs_enabled']} | {yes(s['vpn'])} | {s['edge_nodes']} |", ""]
    if plan:
        lines += ["## Steps of this run", "", "| step | on |", "|---|---|"]
        lines += [f"| {m(step)} | {m(on)} |" for step, on in plan.items()] + [""]
    if first is not None:
        lines += [f"## {DRIFT_TITLE}", ""]
        if first or not audit.get("drift"):
            lines += [m(first_text(unreadable)) if first else NO_DRIFT, ""]
        else:
            lines += ["| severity | kind | object | exposure | fix |", "|---|---|---|---|---|"]
            lines += [row(f) for f in audit["drift"]] + [""]
    lines += ["## Network: what is reachable from where", "", "| severity | kind | object | exposure | fix |",
              "|---|---|---|---|---|"]
    lines += [row(f) for f in audit["findings"] if not f.get("area")]
    if closed_network:
        lines += ["", "## Closed since the report before this run", ""] + [f"- {m(o, code=True)}" for o in closed_network]
    lines += ["", "## Access: who can do what", ""]
    if s.get("access_unknown"):
        lines += [f"Unknown: this identity may not list {m(', '.join(s['access_unknown']))}.", ""]
    lines += ["| severity | kind | object | access | fix |", "|---|---|---|---|---|"]
    lines += [row(f) for f in audit["findings"] if f.get("area") == "access"]
    if closed_access:
        lines += ["", "## Access closed since the report before this run", ""]
        lines += ["- {} {}".format(m(kind), m(obj, code=True))
                  for kind, obj in (item.split(" ", 1) for item in closed_access)]
    tamper = [f for f in audit["findings"] if f.get("area") == "tamper"]
    if tamper:
        lines += ["", f"## {TAMPER_TITLE}", "", TAMPER_INTRO, "", "| severity | control | who could undo or read it | fix |",
                  "|---|---|---|---|"]
        lines += [f"| {m(f['severity'])} | {m(f['object'], code=True)} | {m(f['exposure'])} | {m(f['fix'])} |"
                  for f in tamper]
    return "\n".join(lines) + "\n"


TAMPER_TITLE = "Tamper: who could undo or read what the pattern set"
TAMPER_INTRO = ("Subjects other than the platform's own (system: components, kube-system service accounts, "
                "bootstrap and IKS-managed RBAC, and exposure_info's platform_subjects) that may change or delete "
                "each control, with the binding that lets them. Where the admission guard is in place, each path is "
                "also tried as each subject by a server-side dry run, and the guard's own policies are listed.")


def yes(value) -> str:
    return "yes" if value else "no"


def row(f: dict) -> str:
    m = markdown_text
    return f"| {m(f['severity'])} | {m(f['kind'])} | {m(f['object'], code=True)} | {m(f['exposure'])} | {m(f['fix'])} |"


def first_text(unreadable: str) -> str:
    """What the drift part says when there is nothing to compare with."""
    return f"The last state was unreadable, so nothing to compare with: {unreadable}." if unreadable else FIRST_AUDIT


# The key of the report's result that carries the HTML page's context to the exposure_info action plugin, which
# renders the page on the controller (plugins/plugin_utils/pages.py), writes it and drops the key.
PAGE = "_page"
FINDING_FIELDS = ("severity", "kind", "object", "exposure", "fix")


def page_context(name: str, phase: str, audit: dict, plan: dict, closed_network: list[str], closed_access: list[str],
                 first: bool | None = None, unreadable: str = "") -> dict:
    """What the report's HTML page shows (``first`` and ``unreadable`` as for ``markdown``), as plain data: the
    template (plugins/plugin_utils/pages.py) escapes every value of it."""
    s = audit["summary"]
    public = [f for f in audit["findings"] if not f.get("area") and f["severity"] in ("high", "medium")]
    high = sum(1 for f in public if f["severity"] == "high")

    def rows(findings: list[dict]) -> list[dict]:
        return [{k: f[k] for k in FINDING_FIELDS} for f in findings]

    def area(name: str | None) -> list[dict]:
        return rows([f for f in audit["findings"] if f.get("area") == name])
    drift_text = None
    if first is not None:
        drift_text = first_text(unreadable) if first else "" if audit.get("drift") else NO_DRIFT
    return {"name": name, "phase": phase, "columns": list(SUMMARY_COLUMNS),
            "summary": {k: s[k] for k in (*SUMMARY_COLUMNS, "public_albs_enabled", "edge_nodes")},
            "high": high, "medium": len(public) - high, "open": len(public),
            "nodeports_blocked": yes(s["nodeports_blocked"]), "vpn": yes(s["vpn"]),
            "plan": {str(step): str(on) for step, on in (plan or {}).items()},
            "drift_title": DRIFT_TITLE, "drift_text": drift_text, "drift": rows(audit.get("drift") or []),
            "network": area(None), "closed_network": list(closed_network),
            "access_unknown": list(s.get("access_unknown") or []), "access": area("access"),
            "closed_access": [item.split(" ", 1) for item in closed_access],
            "tamper": area("tamper"), "tamper_title": TAMPER_TITLE, "tamper_intro": TAMPER_INTRO}


# The after report written with the before one (report.also_after), in the before report's result.
ALSO_AFTER = "after"


def write(report: dict, audit: dict, last: list[dict] | None, check_mode: bool, unreadable: str = "") -> dict:
    """Write ``<dir>/<name>-<phase>.md`` and the cluster's state ``<dir>/<name>.last.json`` (the findings above
    info), each unless it already reads the same (or in check mode, where nothing is written); ``last`` is the
    state before this audit (none: the first audit, or ``unreadable`` says why it could not be read). Each file
    is replaced whole (``files.write_if_changed``). Returns the paths (``html`` too), the ones written, what was
    closed, and under ``PAGE`` the context of the HTML page, which the action plugin renders and writes."""
    closed_network, closed_access = closed(report.get("compare_with") or [], audit["findings"])
    first = None if report["phase"] == "after" else last is None
    args = (report["name"], report["phase"], audit, report.get("plan") or {}, closed_network, closed_access, first,
            unreadable)
    base = os.path.join(report["dir"], f"{report['name']}-{report['phase']}")
    paths = {"md": base + ".md", "html": base + ".html", "state": state_path(report)}
    written = []
    for kind, text in (("md", markdown(*args)), ("state", state_text(audit["findings"]))):
        if write_if_changed(paths[kind], text, check_mode) and not check_mode:
            written.append(paths[kind])
    out = {**paths, "written": written, "closed": closed_network, "closed_access": closed_access,
           PAGE: page_context(*args)}
    if report.get("also_after") and report["phase"] == "before":
        # A run whose steps had nothing to do: this audit is also its after report, which closed nothing.
        out[ALSO_AFTER] = write({**report, "phase": "after", "also_after": False, "compare_with": audit["findings"]},
                                audit, last, check_mode, unreadable)
    return out


def gate(fail_on, findings: list[dict], drifted: list[dict], report_html: str = "") -> str:
    """The exposure_report role's gate: why the host fails for ``fail_on`` (``secure_cluster_fail_on``: none,
    high, medium, low, drift, as a list or a comma-separated string; a severity means it or higher), or ``""``
    when nothing open or drifted trips it."""
    values = [v.strip() for v in (fail_on.split(",") if isinstance(fail_on, str) else list(fail_on or []))]
    wrong = [v for v in values if v not in GATE_VALUES]
    if wrong:
        raise ValueError(f"secure_cluster_fail_on {wrong[0]!r} is not one of {', '.join(GATE_VALUES)}")
    depth = max((SEVERITY_RANK[v] + 1 for v in values if v in SEVERITY_RANK), default=0)
    severities = [s for s, rank in SEVERITY_RANK.items() if rank < depth]
    opened = [f for f in findings if f["severity"] in severities]
    drifted = list(drifted or []) if "drift" in values else []
    if not opened and not drifted:
        return ""

    def listed(items: list[dict]) -> str:
        shown = "; ".join(f"{f['severity']} {f['kind']} {f['object']}" for f in items[:GATE_SHOWN])
        return shown + (f"; and {len(items) - GATE_SHOWN} more" if len(items) > GATE_SHOWN else "")
    parts = [f"exposure gate (secure_cluster_fail_on={','.join(values)}):"]
    if opened:
        parts.append(f"{len(opened)} open at {severities[-1]} or above: {listed(opened)}.")
    if drifted:
        parts.append(f"{len(drifted)} reappeared since the last report: {listed(drifted)}.")
    parts.append("To fix: each finding's fix is in the report" + (f" {report_html}" if report_html else "") +
                 " (run secure-cluster.yml for the pattern's steps). To accept: set secure_cluster_fail_on to what "
                 "may not pass (none turns the gate off)" + ("; drift is named once, the next audit compares with "
                                                             "this report" if drifted else "") + ".")
    return " ".join(parts)
