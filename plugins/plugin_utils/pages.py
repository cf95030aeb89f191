# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML pages the collection writes (the exposure report, the fleet page), rendered on the controller from
Jinja2 templates with autoescaping: every value is escaped unless a template says otherwise, and none does.

The templates are the markup; what goes in them (counts, texts, which cells) is worked out in Python, by the
callers (plugins/plugin_utils/fleet.py; module_utils/audit/report.py ``page_context``, which the exposure_info
module hands to its action plugin). Jinja2 is a dependency of every ansible-core: the controller always has it.
"""

from __future__ import annotations

import jinja2

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit.files import write_if_changed

SEVERITY_COLORS = {"high": "var(--high)", "medium": "var(--medium)", "low": "var(--low)", "info": "var(--info)"}

FLEET_STYLE = """:root { --high: #d1242f; --medium: #e16f24; --low: #2f6fdb; --info: #8c959f; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem; color: #1f2328;
  background: #fff; font-size: 14px; }
h1 { font-size: 1.5rem; margin: 0 0 .4rem; }
.headline { display: flex; gap: .6rem; flex-wrap: wrap; margin: .6rem 0 1rem; }
.badge { border-radius: 1rem; padding: .25rem .8rem; font-weight: 600; border: 1px solid transparent; }
.b-done { background: #dafbe1; color: #116329; } .b-changed { background: #ddf4ff; color: #0550ae; }
.b-failed { background: #ffebe9; color: #a40e26; } .b-unreached { background: #fff8c5; color: #7d4e00; }
.b-pending, .b-total { background: #f6f8fa; color: #57606a; border-color: #d0d7de; }
.legend { color: #57606a; margin: 0 0 .8rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; vertical-align: -1px;
  margin: 0 .25rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; }
th { position: sticky; top: 0; background: #f6f8fa; font-weight: 600; text-align: left; font-size: 12px;
  color: #57606a; border-bottom: 2px solid #d0d7de; padding: .45rem .5rem; }
td { border-bottom: 1px solid #eaeef2; padding: .4rem .5rem; vertical-align: middle; }
tr:hover td { background: #f6f8fa; }
tr.failed td:first-child { box-shadow: inset 4px 0 0 var(--high); }
tr.unreached td:first-child { box-shadow: inset 4px 0 0 #d4a72c; }
tr.done td:first-child { box-shadow: inset 4px 0 0 #2da44e; }
tr.pending td:first-child { box-shadow: inset 4px 0 0 #d0d7de; }
.host { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-weight: 600; white-space: nowrap; }
.status { max-width: 28rem; }
.msg { display: block; color: #a40e26; font-size: 12px; margin-top: .15rem; }
.unreached .msg { color: #7d4e00; }
.step { display: inline-block; min-width: 4.2rem; text-align: center; border-radius: 4px; padding: .1rem .3rem;
  font-size: 12px; }
.s-changed { background: #ddf4ff; color: #0550ae; font-weight: 600; }
.s-unchanged { background: #f6f8fa; color: #57606a; }
.s-skipped { background: #fff; color: #8c959f; border: 1px dashed #d0d7de; }
.s-failed { background: #ffebe9; color: #a40e26; font-weight: 700; }
.s-not-run { color: #afb8c1; }
.counts { font-size: 11px; color: #57606a; white-space: nowrap; }
.drift { color: #a40e26; font-weight: 700; }
.edge { font-size: 12px; color: #57606a; max-width: 14rem; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.none { color: #afb8c1; }
.nosteps { color: #afb8c1; font-style: italic; text-align: center; }"""

# The findings of one row, before and after: a bar each, split by severity (info left out, as it is no
# exposure), on the fleet's common scale so that rows compare at a glance.
_BARS = """{% macro bars(bar) -%}
<svg width="190" height="30" viewBox="0 0 190 30" xmlns="http://www.w3.org/2000/svg" role="img" \
aria-label="findings before {{ bar.before_text }}, after {{ bar.after_text }} (high/medium/low/info)">
{%- for phase in bar.phases -%}
<text x="0" y="{{ phase.y + 10 }}" font-size="10" fill="#57606a">{{ phase.name }}</text>
{%- if phase.none -%}
<text x="40" y="{{ phase.y + 10 }}" font-size="10" fill="#afb8c1">no audit</text>
{%- else -%}
{%- for part in phase.parts -%}
<rect x="{{ '%.1f' % part.x }}" y="{{ phase.y }}" width="{{ '%.1f' % part.width }}" height="11" rx="1.5" \
fill="{{ part.color }}"><title>{{ part.count }} {{ part.severity }}</title></rect>
{%- endfor -%}
{%- if not phase.parts -%}
<text x="40" y="{{ phase.y + 10 }}" font-size="10" fill="#2da44e">none open</text>
{%- endif -%}
{%- endif -%}
{%- endfor -%}
</svg>
{%- endmacro %}"""

FLEET = _BARS + """{% extends "page" %}
{% block head %}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - {{ headline }}</title>
<style>
{% raw %}""" + FLEET_STYLE + """
{% endraw %}
</style>
{% endblock %}
{% block body %}
<h1>{{ title }}</h1>
<div class="headline">{% for css, text in badges %}<span class="badge {{ css }}">{{ text }}</span>{% endfor %}</div>
<p class="legend">Findings open:{% for severity, color in legend %}<i style="background:{{ color }}"></i>\
{{ severity }}{% endfor %} &middot; counts are high / medium / low / info &middot; reached: the first read of the \
cluster's API succeeded</p>
<table id="fleet">
<thead><tr><th>cluster</th><th>status</th>{% for label in step_labels %}<th>{{ label }}</th>{% endfor %}\
<th>findings</th><th>drift</th><th>edge nodes</th><th>reports</th></tr></thead>
<tbody>
{% for row in rows %}
<tr id="host-{{ row.host }}" class="{{ row.css }}" data-status="{{ row.status }}">\
<td class="host">{{ row.host }}</td><td class="status"><strong>{{ row.shown }}</strong>\
{% if row.message %}<span class="msg">{{ row.message }}</span>{% endif %}</td>\
{% if row.no_step_ran %}<td colspan="{{ step_labels | length }}" class="nosteps">no step ran</td>{% endif %}\
{% for step in row.steps %}<td><span class="step s-{{ step.css }}" title="{{ step.title }}">{{ step.text }}</span></td>\
{% endfor %}\
<td>{{ bars(row.bars) }}{% if row.counts %}<div class="counts">{{ row.counts }}</div>{% endif %}</td>\
{% if row.drift %}<td class="drift">{{ row.drift }}</td>{% else %}<td class="none">-</td>{% endif %}\
<td class="edge">{{ row.edge }}</td>\
{% if row.links %}<td>{% for phase, link in row.links %}{% if not loop.first %} {% endif %}\
<a href="{{ link }}">{{ phase }}</a>{% endfor %}</td>{% else %}<td class="none">-</td>{% endif %}</tr>
{% endfor %}
</tbody>
</table>
{% endblock %}
"""

EXPOSURE_STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.high { background: #fde2e1; } .medium { background: #fff1d6; } .low { background: #eef4ff; } .info { color: #666; }
.closed { color: #1a7f37; }"""

# One table of findings: severity, kind, object, what it is (the column's name: exposure, access, ...), fix.
_FINDINGS = """{% macro findings(what, rows) -%}
<table>
<tr><th>severity</th><th>kind</th><th>object</th><th>{{ what }}</th><th>fix</th></tr>
{% for f in rows %}
<tr class="{{ f.severity }}"><td>{{ f.severity }}</td><td>{{ f.kind }}</td><td><code>{{ f.object }}</code></td>\
<td>{{ f.exposure }}</td><td>{{ f.fix }}</td></tr>
{% endfor %}
</table>
{%- endmacro %}"""

EXPOSURE = _FINDINGS + """{% extends "page" %}
{% block head %}
<title>Exposure report: {{ name }} ({{ phase }})</title>
<style>
{% raw %}""" + EXPOSURE_STYLE + """
{% endraw %}
</style>
{% endblock %}
{% block body %}
<h1>Exposure report: {{ name }} <small>({{ phase }})</small></h1>
{# The picture: the internet on the left, the private network on the right, the cluster between; the line to
   the internet is red and thicker with each high or medium finding open to it. #}
<svg width="760" height="180" viewBox="0 0 760 180" xmlns="http://www.w3.org/2000/svg" role="img"
     aria-label="What is reachable from the internet and from the private network">
  <rect x="10" y="60" width="140" height="60" rx="8" fill="#fde2e1" stroke="#c33"/>
  <text x="80" y="95" text-anchor="middle" font-size="14">Internet</text>
  <rect x="610" y="60" width="140" height="60" rx="8" fill="#e6f4ea" stroke="#1a7f37"/>
  <text x="680" y="95" text-anchor="middle" font-size="14">Private network</text>
  <rect x="220" y="20" width="320" height="140" rx="10" fill="#f6f8fa" stroke="#555"/>
  <text x="380" y="45" text-anchor="middle" font-size="15">cluster</text>
  <text x="380" y="75" text-anchor="middle" font-size="13">{{ high }} high, {{ medium }} medium open to the internet</text>
  <text x="380" y="100" text-anchor="middle" font-size="13">NodePorts blocked: {{ nodeports_blocked }}</text>
  <text x="380" y="125" text-anchor="middle" font-size="13">public ALBs enabled: {{ summary.public_albs_enabled }}</text>
  <text x="380" y="150" text-anchor="middle" font-size="13">VPN: {{ vpn }}, edge nodes: {{ summary.edge_nodes }}</text>
  <line x1="150" y1="90" x2="220" y2="90" stroke="{{ '#c33' if open else '#aaa' }}" stroke-width="{{ 2 + open }}"
        stroke-dasharray="{{ '' if open else '6 6' }}"/>
  <line x1="540" y1="90" x2="610" y2="90" stroke="#1a7f37" stroke-width="3"/>
</svg>
<table>
<tr>{% for k in columns %}<th>{{ k }}</th>{% endfor %}</tr>
<tr>{% for k in columns %}<td class="{{ k }}">{{ summary[k] }}</td>{% endfor %}</tr>
</table>
{% if plan %}
<h2>Steps of this run</h2>
<table>
<tr><th>step</th><th>on</th></tr>
{% for step, on in plan.items() %}
<tr><td>{{ step }}</td><td>{{ on }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if drift_text is not none %}
<h2 id="drift">{{ drift_title }}</h2>
{% if drift_text %}
<p>{{ drift_text }}</p>
{% else %}
{{ findings("exposure", drift) }}
{% endif %}
{% endif %}
<h2>Network: what is reachable from where</h2>
{{ findings("exposure", network) }}
{% if closed_network %}
<h2 class="closed">Closed since the report before this run</h2>
<ul>{% for o in closed_network %}<li class="closed"><code>{{ o }}</code></li>{% endfor %}</ul>
{% endif %}
<h2 id="access">Access: who can do what</h2>
{% if access_unknown %}
<p class="medium">Unknown: this identity may not list {{ access_unknown | join(", ") }}.</p>
{% endif %}
{{ findings("access", access) }}
{% if closed_access %}
<h2 class="closed">Access closed since the report before this run</h2>
<ul>{% for kind, obj in closed_access %}<li class="closed">{{ kind }} <code>{{ obj }}</code></li>{% endfor %}</ul>
{% endif %}
{% if tamper %}
<h2 id="tamper">{{ tamper_title }}</h2>
<p>{{ tamper_intro }}</p>
{{ findings("who could undo or read it", tamper) }}
{% endif %}
{% endblock %}
"""

# What every page shares: a self-contained HTML document (inline CSS and SVG, no external asset).
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{% block head %}{% endblock %}
</head>
<body>
{% block body %}{% endblock %}
</body>
</html>
"""
_ENV = jinja2.Environment(loader=jinja2.DictLoader({"page": PAGE, "fleet": FLEET, "exposure": EXPOSURE}),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True)


def fleet(**context) -> str:
    """The fleet page (its context: plugins/plugin_utils/fleet.py ``page``)."""
    return _ENV.get_template("fleet").render(**context)


def exposure(*args, **kwargs) -> str:
    """The exposure report's page, from what module_utils/audit/report.py ``markdown`` takes."""
    return _ENV.get_template("exposure").render(**exposure_report.page_context(*args, **kwargs))


def write_exposure(report: dict, check_mode: bool) -> dict:
    """Render and write the HTML page of a report the exposure_info module wrote (its result's ``report``: the
    Markdown and the state are written, ``PAGE`` is the page's context), unless it reads the same or in check
    mode; the path joins ``written`` after the Markdown's, as the files are listed. Returns the report without
    ``PAGE``."""
    report = dict(report)
    html = _ENV.get_template("exposure").render(**report.pop(exposure_report.PAGE))
    if write_if_changed(report["html"], html, check_mode) and not check_mode:
        written = list(report.get("written") or [])
        written.insert(1 if report["md"] in written else 0, report["html"])
        report["written"] = written
    return report
