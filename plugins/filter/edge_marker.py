# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's edge marker for templates, from the one place that owns it (module_utils/nodes/edge.py).

``{{ secure_cluster_edge_labels | default(none) | containers_workload.secure_cluster.edge_labels }}`` is the
user's edge labels, or the collection's default (dedicated=edge) when none are set; ``edge_taints`` likewise.
"""

from __future__ import annotations

import copy

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import EDGE_LABELS, EDGE_TAINTS


def edge_labels(value=None) -> dict:
    """The given edge labels, or the collection's default."""
    return dict(value) if value is not None else copy.deepcopy(EDGE_LABELS)


def edge_taints(value=None) -> list:
    """The given edge taints, or the collection's default."""
    return list(value) if value is not None else copy.deepcopy(EDGE_TAINTS)


class FilterModule:
    """Edge marker filters."""

    def filters(self):
        return {"edge_labels": edge_labels, "edge_taints": edge_taints}
