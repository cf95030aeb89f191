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
    html_text, markdown_text, read_bytes, write_if_changed)

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
    kept = [f for f in findings if f["severity"] != "info"]
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
        lines += ["## Steps of this run", "", "| step (switch) | on |", "|---|---|"]
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
                "each control, with the binding that lets them.")


def yes(value) -> str:
    return "yes" if value else "no"


def row(f: dict) -> str:
    m = markdown_text
    return f"| {m(f['severity'])} | {m(f['kind'])} | {m(f['object'], code=True)} | {m(f['exposure'])} | {m(f['fix'])} |"


def first_text(unreadable: str) -> str:
    """What the drift part says when there is nothing to compare with."""
    return f"The last state was unreadable, so nothing to compare with: {unreadable}." if unreadable else FIRST_AUDIT


STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.high { background: #fde2e1; } .medium { background: #fff1d6; } .low { background: #eef4ff; } .info { color: #666; }
.closed { color: #1a7f37; }"""


def page(name: str, phase: str, audit: dict, plan: dict, closed_network: list[str], closed_access: list[str],
         first: bool | None = None, unreadable: str = "") -> str:
    """The report as a self-contained HTML page (``first`` and ``unreadable`` as for ``markdown``)."""
    e = html_text
    s = audit["summary"]
    public = [f for f in audit["findings"] if not f.get("area") and f["severity"] in ("high", "medium")]
    high = sum(1 for f in public if f["severity"] == "high")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>Exposure report: {e(name)} ({e(phase)})</title>", f"<style>\n{STYLE}\n</style>", "</head>",
           "<body>", f"<h1>Exposure report: {e(name)} <small>({e(phase)})</small></h1>",
           # The picture: the internet on the left, the private network on the right, the cluster between;
           # the line to the internet is red and thicker with each high or medium finding open to it.
           '<svg width="760" height="180" viewBox="0 0 760 180" xmlns="http://www.w3.org/2000/svg" role="img"',
           '     aria-label="What is reachable from the internet and from the private network">',
           '  <rect x="10" y="60" width="140" height="60" rx="8" fill="#fde2e1" stroke="#c33"/>',
           '  <text x="80" y="95" text-anchor="middle" font-size="14">Internet</text>',
           '  <rect x="610" y="60" width="140" height="60" rx="8" fill="#e6f4ea" stroke="#1a7f37"/>',
           '  <text x="680" y="95" text-anchor="middle" font-size="14">Private network</text>',
           '  <rect x="220" y="20" width="320" height="140" rx="10" fill="#f6f8fa" stroke="#555"/>',
           '  <text x="380" y="45" text-anchor="middle" font-size="15">cluster</text>',
           f'  <text x="380" y="75" text-anchor="middle" font-size="13">{high} high, {len(public) - high} medium '
           "open to the internet</text>",
           f'  <text x="380" y="100" text-anchor="middle" font-size="13">NodePorts blocked: '
           f"{yes(s['nodeports_blocked'])}</text>",
           f'  <text x="380" y="125" text-anchor="middle" font-size="13">public ALBs enabled: '
           f"{s['public_albs_enabled']}</text>",
           f'  <text x="380" y="150" text-anchor="middle" font-size="13">VPN: {yes(s["vpn"])}, edge nodes: '
           f"{s['edge_nodes']}</text>",
           f'  <line x1="150" y1="90" x2="220" y2="90" stroke="{"#c33" if public else "#aaa"}" '
           f'stroke-width="{2 + len(public)}"',
           f'        stroke-dasharray="{"" if public else "6 6"}"/>',
           '  <line x1="540" y1="90" x2="610" y2="90" stroke="#1a7f37" stroke-width="3"/>', "</svg>",
           "<table>", "<tr>" + "".join(f"<th>{k}</th>" for k in SUMMARY_COLUMNS) + "</tr>",
           "<tr>" + "".join(f'<td class="{k}">{s[k]}</td>' for k in SUMMARY_COLUMNS) + "</tr>", "</table>"]
    if plan:
        out += ["<h2>Steps of this run</h2>", "<table>", "<tr><th>step (switch)</th><th>on</th></tr>"]
        out += [f"<tr><td>{e(str(step))}</td><td>{e(str(on))}</td></tr>" for step, on in plan.items()]
        out += ["</table>"]
    if first is not None:
        out += [f'<h2 id="drift">{DRIFT_TITLE}</h2>']
        if first or not audit.get("drift"):
            out += [f"<p>{e(first_text(unreadable)) if first else NO_DRIFT}</p>"]
        else:
            out += table("exposure", audit["drift"], None, every_area=True)
    out += ["<h2>Network: what is reachable from where</h2>"] + table("exposure", audit["findings"], None)
    if closed_network:
        out += ['<h2 class="closed">Closed since the report before this run</h2>',
                "<ul>" + "".join(f'<li class="closed"><code>{e(o)}</code></li>' for o in closed_network) + "</ul>"]
    out += ['<h2 id="access">Access: who can do what</h2>']
    if s.get("access_unknown"):
        out += [f'<p class="medium">Unknown: this identity may not list {e(", ".join(s["access_unknown"]))}.</p>']
    out += table("access", audit["findings"], "access")
    if closed_access:
        items = (item.split(" ", 1) for item in closed_access)
        out += ['<h2 class="closed">Access closed since the report before this run</h2>',
                "<ul>" + "".join(f'<li class="closed">{e(kind)} <code>{e(obj)}</code></li>' for kind, obj in items)
                + "</ul>"]
    if any(f.get("area") == "tamper" for f in audit["findings"]):
        out += [f'<h2 id="tamper">{e(TAMPER_TITLE)}</h2>', f"<p>{e(TAMPER_INTRO)}</p>"]
        out += table("who could undo or read it", audit["findings"], "tamper")
    return "\n".join(out + ["</body>", "</html>"]) + "\n"


def table(what: str, findings: list[dict], area: str | None, every_area: bool = False) -> list[str]:
    """The findings of one area (``None``: the network part), or of all, as an HTML table."""
    e = html_text
    rows = [f'<tr class="{e(f["severity"])}"><td>{e(f["severity"])}</td><td>{e(f["kind"])}</td><td><code>{e(f["object"])}'
            f'</code></td><td>{e(f["exposure"])}</td><td>{e(f["fix"])}</td></tr>'
            for f in findings if every_area or f.get("area") == area]
    return ["<table>", f"<tr><th>severity</th><th>kind</th><th>object</th><th>{what}</th><th>fix</th></tr>",
            *rows, "</table>"]


def write(report: dict, audit: dict, last: list[dict] | None, check_mode: bool, unreadable: str = "") -> dict:
    """Write ``<dir>/<name>-<phase>.md`` and ``.html``, and the cluster's state ``<dir>/<name>.last.json`` (the
    findings above info), each unless it already reads the same (or in check mode, where nothing is written);
    ``last`` is the state before this audit (none: the first audit, or ``unreadable`` says why it could not be
    read). Each file is replaced whole (``report_files.write_if_changed``). Returns the paths, the ones written, and what
    was closed."""
    closed_network, closed_access = closed(report.get("compare_with") or [], audit["findings"])
    first = None if report["phase"] == "after" else last is None
    args = (report["name"], report["phase"], audit, report.get("plan") or {}, closed_network, closed_access, first,
            unreadable)
    base = os.path.join(report["dir"], f"{report['name']}-{report['phase']}")
    paths = {"md": base + ".md", "html": base + ".html", "state": state_path(report)}
    written = []
    for kind, text in (("md", markdown(*args)), ("html", page(*args)), ("state", state_text(audit["findings"]))):
        if write_if_changed(paths[kind], text, check_mode) and not check_mode:
            written.append(paths[kind])
    return {**paths, "written": written, "closed": closed_network, "closed_access": closed_access}


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
