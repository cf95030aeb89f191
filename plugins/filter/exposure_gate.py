# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exposure gate for the exposure_report role: ``{{ audit | containers_workload.secure_cluster.exposure_gate(
secure_cluster_fail_on) }}`` is why the host fails, or empty (module_utils/audit/report.py owns the rule)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report


def exposure_gate(audit: dict, fail_on, drift=None) -> str:
    """The gate's failure message for an exposure_info result, or ``""``; ``drift`` replaces the result's own."""
    try:
        return exposure_report.gate(fail_on, audit.get("findings") or [],
                                    audit.get("drift") if drift is None else drift,
                                    (audit.get("report") or {}).get("html", ""))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Exposure gate filter."""

    def filters(self):
        return {"exposure_gate": exposure_gate}
