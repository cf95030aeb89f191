# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection declares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: A second run with the same arguments reports no change and writes nothing.
  action:
    description:
      - Has an action plugin. When the task runs on the controller (a local connection, C(ansible_python_interpreter)
        unset or the controller's own Python, no become, async or task environment), it runs the module inside the
        controller's worker process instead of a new Python process, which saves about 0.3 s of controller CPU per
        run; the result is the same.
      - Set the variable C(secure_cluster_in_process=false) to run the module in a new process as usual.
    support: full
"""

    # Modules that change the cluster: full check mode, diff and idempotence.
    CHANGES = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    # Read-only modules: nothing to diff.
    INFO = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""
