# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exposure report of an audit, as Markdown and as a self-contained HTML page, written where the audit runs.

The "after" report also lists what was closed since the "before" one: objects (and, for access, kind and object)
with a low, medium or high finding before that have none now; next to it, the tamper part: who other than the
platform's own could undo or read each control the pattern set.
"""

from __future__ import annotations

import html
import os

# What the report tables show of the summary, in order.
SUMMARY_COLUMNS = ("high", "medium", "low", "info")


def closed(before: list[dict], now: list[dict]) -> tuple[list[str], list[str]]:
    """(network objects, access "Kind object") with a finding above info before and none now, in report order."""
    def keys(findings: list[dict], access: bool) -> list[str]:
        return [f"{f['kind']} {f['object']}" if access else f["object"] for f in findings
                if f["severity"] != "info" and f.get("area") == ("access" if access else None)]

    def gone(access: bool) -> list[str]:
        still = set(keys(now, access))
        return [k for k in dict.fromkeys(keys(before, access)) if k not in still]
    return gone(False), gone(True)


def markdown(name: str, phase: str, audit: dict, plan: dict, closed_network: list[str], closed_access: list[str]) -> str:
    s = audit["summary"]
    lines = [f"# Exposure report: {name} ({phase})", "",
             "| high | medium | low | info | NodePorts blocked | public ALBs enabled | VPN | edge nodes |",
             "|---|---|---|---|---|---|---|---|",
             f"| {' | '.join(str(s[k]) for k in SUMMARY_COLUMNS)} | {yes(s['nodeports_blocked'])} | "
             f"{s['public_albs_enabled']} | {yes(s['vpn'])} | {s['edge_nodes']} |", ""]
    if plan:
        lines += ["## Steps of this run", "", "| step (switch) | on |", "|---|---|"]
        lines += [f"| {step} | {on} |" for step, on in plan.items()] + [""]
    lines += ["## Network: what is reachable from where", "", "| severity | kind | object | exposure | fix |",
              "|---|---|---|---|---|"]
    lines += [row(f) for f in audit["findings"] if not f.get("area")]
    if closed_network:
        lines += ["", "## Closed since the report before this run", ""] + [f"- `{o}`" for o in closed_network]
    lines += ["", "## Access: who can do what", ""]
    if s.get("access_unknown"):
        lines += [f"Unknown: this identity may not list {', '.join(s['access_unknown'])}.", ""]
    lines += ["| severity | kind | object | access | fix |", "|---|---|---|---|---|"]
    lines += [row(f) for f in audit["findings"] if f.get("area") == "access"]
    if closed_access:
        lines += ["", "## Access closed since the report before this run", ""]
        lines += ["- {} `{}`".format(*item.split(" ", 1)) for item in closed_access]
    tamper = [f for f in audit["findings"] if f.get("area") == "tamper"]
    if tamper:
        lines += ["", f"## {TAMPER_TITLE}", "", TAMPER_INTRO, "", "| severity | control | who could undo or read it | fix |",
                  "|---|---|---|---|"]
        lines += [f"| {f['severity']} | `{f['object']}` | {f['exposure']} | {f['fix']} |" for f in tamper]
    return "\n".join(lines) + "\n"


TAMPER_TITLE = "Tamper: who could undo or read what the pattern set"
TAMPER_INTRO = ("Subjects other than the platform's own (system: components, kube-system service accounts, "
                "bootstrap and IKS-managed RBAC, and exposure_info's platform_subjects) that may change or delete "
                "each control, with the binding that lets them.")


def yes(value) -> str:
    return "yes" if value else "no"


def row(f: dict) -> str:
    return f"| {f['severity']} | {f['kind']} | `{f['object']}` | {f['exposure']} | {f['fix']} |"


STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.high { background: #fde2e1; } .medium { background: #fff1d6; } .low { background: #eef4ff; } .info { color: #666; }
.closed { color: #1a7f37; }"""


def page(name: str, phase: str, audit: dict, plan: dict, closed_network: list[str], closed_access: list[str]) -> str:
    e = html.escape
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


def table(what: str, findings: list[dict], area: str | None) -> list[str]:
    """The findings of one area (``None``: the network part) as an HTML table."""
    e = html.escape
    rows = [f'<tr class="{f["severity"]}"><td>{f["severity"]}</td><td>{e(f["kind"])}</td><td><code>{e(f["object"])}'
            f'</code></td><td>{e(f["exposure"])}</td><td>{e(f["fix"])}</td></tr>'
            for f in findings if f.get("area") == area]
    return ["<table>", f"<tr><th>severity</th><th>kind</th><th>object</th><th>{what}</th><th>fix</th></tr>",
            *rows, "</table>"]


def write(report: dict, audit: dict, check_mode: bool) -> dict:
    """Write ``<dir>/<name>-<phase>.md`` and ``.html`` unless they already read the same (or in check mode, where
    nothing is written); returns their paths, the ones written, and what was closed."""
    closed_network, closed_access = closed(report.get("compare_with") or [], audit["findings"])
    args = (report["name"], report["phase"], audit, report.get("plan") or {}, closed_network, closed_access)
    base = os.path.join(report["dir"], f"{report['name']}-{report['phase']}")
    paths = {"md": base + ".md", "html": base + ".html"}
    written = []
    for kind, text in (("md", markdown(*args)), ("html", page(*args))):
        if check_mode or read(paths[kind]) == text:
            continue
        os.makedirs(report["dir"], mode=0o755, exist_ok=True)
        with open(paths[kind], "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(paths[kind], 0o644)
        written.append(paths[kind])
    return {**paths, "written": written, "closed": closed_network, "closed_access": closed_access}


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None
