# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every module of the collection runs: one place for connect, warnings, diff, api_calls and errors.

A module declares its argument spec and a handler ``handler(run) -> dict``; :func:`run_module` does the rest:
it validates with the module's ``errors(params) -> list[str]`` before any call (and for a module's
``validate_only`` stops there, or after its read-only ``validate(run) -> dict``), connects lazily (the
module's name is the user agent the audit log shows), keeps ``diff`` only in diff mode, emits the handler's
``warnings``, attaches ``api_calls`` and turns any :class:`SecureClusterError` into ``fail_json`` with the
partial results it carries.
"""

from __future__ import annotations

from typing import Callable

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.errors import (
    SecureClusterError, raise_if)
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.client import connect


class Run:
    """What a handler works with: the parameters, check mode, and the cluster on first use."""

    def __init__(self, module: AnsibleModule, name: str):
        self.module = module
        self.name = name
        self.params = module.params
        self.check_mode = module.check_mode
        self.warnings: list[str] = []
        self.counters: list = []
        self._kube = None

    @property
    def kube(self):
        """The Kubernetes connection, made (and checked against ``expected_cluster``) on first use."""
        if self._kube is None:
            self._kube = self.counted(connect(self.params, agent=f"secure_cluster/{self.name}"))
        return self._kube

    def counted(self, client):
        """Count this client's ``reads`` and ``writes`` in the result's ``api_calls``."""
        self.counters.append(client)
        return client

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def api_calls(self) -> dict:
        return {"reads": sum(c.reads for c in self.counters), "writes": sum(c.writes for c in self.counters)}


def run_module(name: str, argument_spec: dict, handler: Callable[[Run], dict],
               errors: Callable[[dict], list[str]] | None = None,
               validate: Callable[[Run], dict] | None = None, **module_options) -> None:
    """Run a module of this collection: see the module docstring."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_options)
    run = Run(module, name)
    failure = None
    try:
        if errors is not None:
            raise_if(errors(module.params))
        # The up-front check of a step: the same validation as the run, and nothing else.
        if module.params.get("validate_only"):
            result = {**(validate(run) if validate else {}), "validated": True}
        else:
            result = handler(run)
    except SecureClusterError as exc:
        failure = exc
    if failure is not None:
        # Failed outside the except block: a refusal with its message, not a traceback (ansible-core before 2.19
        # attaches the handled exception's traceback to the result at -vvv).
        for warning in run.warnings:
            module.warn(warning)
        failed = dict(failure.result)
        if run.counters:
            failed["api_calls"] = run.api_calls()
        if not module._diff:
            failed.pop("diff", None)
        module.fail_json(msg=str(failure), **failed)
    for warning in run.warnings + result.pop("warnings", []):
        module.warn(warning)
    diff = result.pop("diff", None)
    if module._diff and diff is not None:
        result["diff"] = diff
    if run.counters:
        result["api_calls"] = run.api_calls()
    result.setdefault("changed", False)
    module.exit_json(**result)
