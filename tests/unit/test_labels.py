"""Label keys, values and selectors follow Kubernetes' own rules."""

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.kube.labels import (
    LabelSelectorError, key_error, name_error, parse_selector, selector_matches, value_error)


@pytest.mark.parametrize("key", ["dedicated", "ibm-cloud.kubernetes.io/zone", "a_b.c-d", "x" * 63])
def test_valid_label_keys_are_accepted(key):
    assert key_error(key) is None


@pytest.mark.parametrize("key", ["", "-dedicated", "Upper.Example.com/x", "a/b/c", "x" * 64, "bad key", "pre/"])
def test_invalid_label_keys_are_rejected(key):
    assert key_error(key)


@pytest.mark.parametrize("value", ["", "edge", "a.b_c-d", "E1"])
def test_valid_label_values_are_accepted(value):
    assert value_error(value) is None


@pytest.mark.parametrize("value", ["-edge", "edge-", "a b", "x" * 64, "a/b"])
def test_invalid_label_values_are_rejected(value):
    assert value_error(value)


def test_node_names_must_be_dns_subdomains():
    assert name_error("10.176.48.10") is None
    assert name_error("worker-1.example") is None
    assert name_error("Bad_Name")
    assert name_error("")


LABELS = {"dedicated": "edge", "ibm-cloud.kubernetes.io/zone": "dal10", "tier": "front"}


@pytest.mark.parametrize("selector, expected", [
    ("dedicated=edge", True),
    ("dedicated==edge", True),
    ("dedicated!=edge", False),
    ("dedicated", True),
    ("!dedicated", False),
    ("!missing", True),
    ("ibm-cloud.kubernetes.io/zone in (dal10, dal12)", True),
    ("ibm-cloud.kubernetes.io/zone notin (dal10,dal12)", False),
    ("dedicated=edge,tier=back", False),
    ("dedicated=edge, tier in (front)", True),
    ("missing!=x", True),
])
def test_selector_matching_follows_kubectl_semantics(selector, expected):
    assert selector_matches(parse_selector(selector), LABELS) is expected


@pytest.mark.parametrize("selector", ["dedicated in ()", "dedicated in dal10", "a=b c=d",
                                      "=edge", "dedicated=bad value", "zone in (dal10", "a=b,,"])
def test_malformed_selectors_are_rejected_with_the_selector_in_the_message(selector):
    with pytest.raises(LabelSelectorError, match="label selector"):
        parse_selector(selector)


def test_an_empty_value_selects_nodes_whose_label_is_empty():
    requirements = parse_selector("node-role.kubernetes.io/worker=")
    assert selector_matches(requirements, {"node-role.kubernetes.io/worker": ""})
    assert not selector_matches(requirements, {"node-role.kubernetes.io/worker": "x"})
