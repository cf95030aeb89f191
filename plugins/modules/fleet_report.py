#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the fleet page of a run, one row per cluster (inventory host)
version_added: 1.1.0
description:
  - Runs on the controller only (an action plugin; this file holds its documentation). Run it once per batch
    (C(run_once)); it reads the variables of every host of the play (C(ansible_play_hosts_all)), so a row is there
    for each cluster, also for clusters that failed, were never reached, or belong to a batch that never started.
  - Writes C(fleet.md) and C(fleet.html) in O(dir), each only when it reads differently from the file there (the
    pages hold no timestamp); nothing in check mode.
  - A row says whether the cluster was reached (the first read of its API succeeded), the outcome of each step of
    the containers workload pattern (changed, unchanged, skipped with the switch that turned it off, failed with
    the message, not run), the findings per severity before and after as a bar chart, the drift count, the edge
    nodes, and links to the cluster's own C(<host>-before.html) and C(<host>-after.html).
  - The outcomes come from the steps' registered results and the host fact C(secure_cluster_failure)
    (C({step, task, msg})) that the playbook's C(rescue) sets; hosts of later batches read "not reached" when
    this batch stops the run (every host of it failed, or failed / batch size > O(max_fail_percentage) / 100).
  - "With more than one host in the play it prints a line per cluster of the batch (C(fleet: <host> done, changed
    N steps (...)), C(fleet: <host> failed: <step>: <why>)), and after the last batch a summary line per cluster."
author:
  - secure_cluster maintainers (@containers-workload)
options:
  dir:
    description: Directory of the pages, the same as the exposure reports' (the exposure_report role's
      C(exposure_report_dir)), so the links to the per-cluster reports resolve.
    type: path
    required: true
  kind:
    description:
      - Which playbook the page is for; V(secure_cluster) and V(rollback) show a column per step, V(audit) the
        findings only.
      - Unset, V(secure_cluster); with O(from_artifacts) or O(from_dir), the kind of the records.
    type: str
    choices: [secure_cluster, audit, rollback]
  from_artifacts:
    description:
      - Make the page of several runs instead of this play's hosts, from their per-cluster records
        (C(secure_cluster_fleet_host_*) keys, as every run hands them on through C(set_stats)), for example the
        artifacts of the slices of a sliced AWX job, which AWX merges into the extra variables of the next job of
        the workflow (C(playbooks/fleet_page.yml) passes them).
      - One row per cluster, in the order of the hosts' names (as AWX slices an inventory).
    type: dict
  from_dir:
    description:
      - Make the page of several runs from the per-cluster record files gathered in this directory
        (C(<host>.fleet.json), which every run writes next to its pages). With O(from_artifacts) too, a cluster
        in both is taken from O(from_artifacts).
    type: path
  max_fail_percentage:
    description: The play's C(max_fail_percentage), to tell whether this batch stops the run. Unset, only a batch
      whose every host failed stops it.
    type: raw
  progress:
    description: Print the C(fleet:) lines (never printed when the play has one host).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Builds the pages and reports what would be written; writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A page that reads the same is not written again; the task never reports changed (the pages are a
      report, not a change of a cluster).
  action:
    support: full
    details: Runs in the controller's worker process only.
extends_documentation_fragment:
  - containers_workload.secure_cluster.attributes
notes:
  - Put it after a C(block) whose C(rescue) sets C(secure_cluster_failure), then fail the hosts that failed, as
    C(playbooks/secure_cluster.yml) does, so the recap, the exit code and C(max_fail_percentage) are as without it.
"""

EXAMPLES = r"""
- name: Write the fleet page (one task for the whole batch)
  containers_workload.secure_cluster.fleet_report:
    dir: "{{ exposure_report_dir }}"
    max_fail_percentage: "{{ secure_cluster_max_fail_percentage | default(25) }}"
  run_once: true
  register: fleet

- name: Hand the fleet summary to AWX
  ansible.builtin.set_stats:
    data:
      secure_cluster_fleet: "{{ fleet.stats }}"
    per_host: false
    aggregate: false
  run_once: true
"""

RETURN = r"""
md:
  description: Path of the Markdown page.
  returned: always
  type: str
  sample: /srv/reports/fleet.md
html:
  description: Path of the HTML page.
  returned: always
  type: str
  sample: /srv/reports/fleet.html
written:
  description: The pages and per-cluster record files (C(<host>.fleet.json)) this run wrote (empty when all
    already read the same, and in check mode).
  returned: always
  type: list
  elements: str
  sample: [/srv/reports/fleet.md, /srv/reports/fleet.html]
batch:
  description: Number of this batch (1 for the first), also set as the host fact C(secure_cluster_fleet_batch).
  returned: always
  type: int
  sample: 2
stopped:
  description: Why the run starts no later batch after this one, or null when it goes on.
  returned: always
  type: str
  sample: the run stopped after batch 1 (every cluster of it failed)
final:
  description: Whether every host of the play has its final row (no later batch pending).
  returned: always
  type: bool
  sample: true
artifacts:
  description: What the playbooks hand to C(set_stats) - RV(stats) as C(secure_cluster_fleet), and each cluster's
    record (its kind and row, not for a cluster still pending) as C(secure_cluster_fleet_host_<host>) (a host name
    that is no variable name gets its characters other than letters, digits and C(_) replaced and a hash added).
  returned: always
  type: dict
  sample: {secure_cluster_fleet: {kind: audit, totals: {clusters: 1}},
           secure_cluster_fleet_host_cluster_a: {kind: audit, row: {host: cluster_a, status: done}}}
rows:
  description: The rows of the page, in inventory order (with O(from_artifacts) or O(from_dir), in the order of
    the hosts' names).
  returned: always
  type: list
  elements: dict
  sample: [{host: cluster-a, reached: true, status: done, message: "", step: "", changed_steps: [edge_nodes],
            steps: {edge_nodes: {state: changed, detail: ""}}, before: {high: 2, medium: 1, low: 0, info: 3},
            after: {high: 0, medium: 0, low: 0, info: 3}, drift: 0, edge_nodes: [w1, w2],
            links: {before: cluster-a-before.html, after: cluster-a-after.html}}]
stats:
  description: What the playbooks hand to C(set_stats) as C(secure_cluster_fleet) (per_host false) - per host its
    status (done, failed, not reached, pending), reached, message, failed step, changed steps, findings (after, else
    before) and drift; the totals; the pages' paths.
  returned: always
  type: dict
  sample: {kind: secure_cluster, pages: {md: /srv/reports/fleet.md, html: /srv/reports/fleet.html},
           totals: {clusters: 2, done: 1, changed: 1, failed: 0, not_reached: 1, pending: 0, drift: 0, high: 0,
                    medium: 0, low: 0, info: 3},
           hosts: {cluster-a: {status: done, reached: true, message: "", step: "", changed_steps: [edge_nodes],
                               findings: {high: 0, medium: 0, low: 0, info: 3}, drift: 0}}}
msg:
  description: Where the page is, and the counts.
  returned: always
  type: str
  sample: "fleet page: /srv/reports/fleet.html - 2 clusters: 1 done (1 changed), 0 failed, 1 not reached"
"""
