# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The admission guard's objects (logic in module_utils/kube/admission.py), from what the steps declare: the edge
marker, the Calico policies' names (stored as calicoctl stores them), the provider's private annotation and the
VPN's names."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.calico.resources import storage_name
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.ibm import providers
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube import admission
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.vpn import strongswan


def admission_guard(protected: dict, name: str, subjects: list, dry_run: bool = False) -> list[dict]:
    """The ValidatingAdmissionPolicies and bindings that keep what ``protected`` names (the role's
    ``_admission_guard_protected``) for every subject but ``subjects``."""
    subjects = [str(s) for s in subjects or []]
    errors = admission.subject_errors(subjects)
    if not subjects:
        errors.append("no exempt subject: name the identity that runs the pattern in "
                      "exposure_report_platform_subjects, or nothing could re-run or roll back the pattern")
    provider = str(protected.get("provider") or "none")
    if provider not in providers.PROVIDERS:
        errors.append(f"provider {provider!r} is not one of {', '.join(providers.PROVIDERS)}")
    if errors:
        raise AnsibleFilterError("admission guard: " + "; ".join(errors))
    isolation = protected.get("isolation_policies") or {}
    vpn = None
    if protected.get("vpn"):
        names = strongswan.names({"name": protected["vpn"]["name"]})
        vpn = {"namespace": protected["vpn"]["namespace"], "deployment": names["base"], "secret": names["secrets"],
               "daemonset": names["routes"]}
    controls = admission.controls(
        edge_labels=dict(protected.get("edge_labels") or {}), edge_taints=list(protected.get("edge_taints") or []),
        global_policies=[storage_name("GlobalNetworkPolicy", n) for n in protected.get("global_policies") or []],
        isolated_namespaces=list(protected.get("isolated_namespaces") or []),
        isolation_policies={"kubernetes": list(isolation.get("kubernetes") or []),
                            "calico": [storage_name("NetworkPolicy", n) for n in isolation.get("calico") or []]},
        services=[{"namespace": s["namespace"], "name": s["name"]} for s in protected.get("services") or []],
        private_annotations=providers.service_annotations(provider, private=True),
        vpn=vpn)
    return admission.objects(name, controls, subjects, bool(dry_run))


def admission_guard_service_accounts(subjects: list) -> list[dict]:
    """The service accounts among the exempt subjects, for the up-front check that each exists."""
    return [{"namespace": ns, "name": name, "why": "an exempt subject of the admission guard"}
            for ns, name in admission.service_accounts([str(s) for s in subjects or []])]


class FilterModule:
    """The admission guard's objects."""

    def filters(self):
        return {"admission_guard": admission_guard, "admission_guard_service_accounts": admission_guard_service_accounts}
