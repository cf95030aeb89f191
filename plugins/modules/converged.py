#!/usr/bin/python
# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: converged
short_description: Tell whether a cluster is still as the pattern left it, from one replay of its steps' reads
version_added: 1.1.0
description:
  - The containers_workload_pattern role's shortcut for a no-change re-run. After a run whose steps all
    succeeded, O(state=record) keeps what those steps read (each GET and access review of the Kubernetes and
    IKS APIs, as a digest of its answer, read again once the steps are done) with a salted digest of their
    inputs. The next run's O(state=check) sends each of those reads once; when the inputs are the same and every
    answer matches, each step would decide what it decided when it had nothing left to do, and the role skips
    the steps.
  - Any difference drops the record and the role runs every step, which decides for itself; a record is never
    trusted for a write. Differences include an input, the collection's own files, the kubeconfig file, or one
    answer (anything but resourceVersion, managedFields and heartbeat times).
  - No record is kept when a step read through calicoctl or ran in another Python process, as their reads
    cannot be replayed; RV(reason) says which.
author:
  - secure_cluster maintainers (@containers-workload)
options:
  state:
    description: C(check) replays the record and starts this run's journal; C(record) keeps the journal's reads.
    type: str
    choices: [check, record]
    default: check
  path:
    description: The record's file (written mode 0600 with O(state=record); dropped when it no longer holds).
    type: path
    required: true
  journal:
    description:
      - With O(state=check), where this run's journal starts, as a new file C(<journal>.<random>) (mode 0600,
        named in RV(journal)) that the step modules append their reads to while the variable
        C(_containers_workload_pattern_journal) names it; two runs at once keep two journals. Journals left
        by runs cut short more than a day ago are removed.
      - With O(state=record), the journal of this run (RV(journal) of its check), read and removed.
    type: path
  inputs:
    description:
      - Everything the steps decide with besides the cluster (the pattern's variables), as one text, such as
        their digest. Only a salted digest of it is kept.
    type: str
    default: ""
  facts:
    description: What the run found that the steps use (the provider), returned by a later O(state=check) that
      holds.
    type: dict
    default: {}
extends_documentation_fragment:
  - containers_workload.secure_cluster.iks_auth
  - containers_workload.secure_cluster.kube_auth
  - containers_workload.secure_cluster.attributes
  - containers_workload.secure_cluster.attributes.info
notes:
  - The record is controller-side bookkeeping, not a change of the cluster. The module always reports
    C(changed=false), and writes nothing to any API.
"""

EXAMPLES = r"""
- name: Is the cluster as the last converged run left it?
  containers_workload.secure_cluster.converged:
    path: "{{ playbook_dir }}/exposure-reports/.records/{{ inventory_hostname }}.json"
    journal: "{{ playbook_dir }}/exposure-reports/.records/{{ inventory_hostname }}.journal"
    inputs: "{{ my_step_variables | ansible.builtin.to_json(sort_keys=true) | ansible.builtin.hash('sha256') }}"
  register: converged
"""

RETURN = r"""
converged:
  description: With O(state=check), whether every recorded read answered as recorded (and the inputs are the same).
  returned: when O(state=check)
  type: bool
  sample: true
recorded:
  description: With O(state=record), whether a record was kept.
  returned: when O(state=record)
  type: bool
reason:
  description: Why the record holds or not, or why none was kept.
  returned: always
  type: str
  sample: "GET /api/v1/nodes answers differently than at the record"
journal:
  description: This run's journal, started by O(state=check) when the record does not hold.
  returned: when O(journal) is given with O(state=check) and RV(converged) is false
  type: str
reads:
  description: The reads sent (replayed or recorded).
  returned: always
  type: int
facts:
  description: The O(facts) of the record, when it holds.
  returned: when RV(converged) is true
  type: dict
"""

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import iks
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import record
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import AUTH_ARG_SPEC
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.runner import run_module

ARGUMENT_SPEC = {
    **AUTH_ARG_SPEC,
    **iks.IKS_ARG_SPEC,
    "state": {"type": "str", "choices": ["check", "record"], "default": "check"},
    "path": {"type": "path", "required": True},
    "journal": {"type": "path"},
    "inputs": {"type": "str", "default": "", "no_log": True},
    "facts": {"type": "dict", "default": {}},
}


def handler(run) -> dict:
    return {"changed": False, **(record.check(run) if run.params["state"] == "check" else record.keep(run))}


def main() -> None:
    run_module("converged", ARGUMENT_SPEC, handler)


if __name__ == "__main__":
    main()
