# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How RBAC matches one rule to one request, as Kubernetes' authorizer does (the rule helpers of
k8s.io/kubernetes pkg/apis/rbac/v1): used by the up-front rights check (``preflight``) and the Access section of
the audit (``access``), so the two always agree with each other and with the API server.

Verbs and API groups match by ``*`` or exactly. A resource matches by ``*``, exactly (``pods``,
``pods/eviction``), or, for a subresource, by ``*/<subresource>``; nothing else is a wildcard (``pods/*`` grants
no subresource). A rule with resourceNames matches only a request naming one of them, so never a create or a list.
"""

from __future__ import annotations

ALL = "*"


def verb_matches(rule: dict, verb: str) -> bool:
    return any(v in (ALL, verb) for v in rule.get("verbs") or [])


def group_matches(rule: dict, group: str) -> bool:
    return any(g in (ALL, group) for g in rule.get("apiGroups") or [])


def resource_matches(rule: dict, resource: str) -> bool:
    """``resource`` is ``plural`` or ``plural/subresource``."""
    subresource = resource.partition("/")[2]
    return any(r in (ALL, resource) or (subresource and r == f"*/{subresource}") for r in rule.get("resources") or [])


def name_matches(rule: dict, name: str | None) -> bool:
    """``name``: the object the request names (``""`` for a create or a list, which a rule limited to
    resourceNames never allows); ``None``: some object, whichever (the audit's question "on any object")."""
    names = rule.get("resourceNames") or []
    return not names or name is None or name in names


def rule_allows(rule: dict, verb: str, group: str, resource: str, name: str | None = "") -> bool:
    """Whether one RBAC rule (of a Role, a ClusterRole or a SelfSubjectRulesReview's resourceRules) allows the
    request: ``verb`` on ``resource`` (``plural`` or ``plural/subresource``) of API ``group`` (``""``: core)."""
    return (verb_matches(rule, verb) and group_matches(rule, group) and resource_matches(rule, resource)
            and name_matches(rule, name))
