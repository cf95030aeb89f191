# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the converged module in the controller's Python when it runs locally (see plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.containers_workload.secure_cluster.plugins.modules import converged as _module  # noqa: F401
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils.in_process import ActionModule

# The controller loads this plugin once, before it forks a worker per task: the module and what it imports are
# then already in memory in every worker that runs it.
__all__ = ["ActionModule"]
