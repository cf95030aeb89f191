"""The exposure report the audit writes: what it shows, what it says was closed, and when it writes."""

import html.parser
import os

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import pages


def finding(severity, kind, obj, area=None):
    found = {"severity": severity, "kind": kind, "object": obj, "exposure": f"{kind} <open>", "fix": "close it"}
    return {**found, "area": area} if area else found


SUMMARY = {"high": 1, "medium": 1, "low": 0, "info": 1, "nodeports_blocked": False, "public_albs_enabled": 1,
           "vpn": False, "edge_nodes": 2, "access_unknown": ["Roles"]}
BEFORE = [finding("high", "NodePort", "shop/web"), finding("medium", "ALB", "public-alb1"),
          finding("info", "LoadBalancer", "shop/private"), finding("high", "ClusterRoleBinding", "anyone", "access"),
          finding("high", "ServiceAccount", "anyone", "access")]
NOW = [finding("medium", "ALB", "public-alb1"), finding("info", "LoadBalancer", "shop/private"),
       finding("high", "ServiceAccount", "anyone", "access")]


def report(tmp_path, compare_with=None):
    return {"dir": str(tmp_path / "reports"), "name": "cluster-a", "phase": "after", "plan": {},
            "compare_with": BEFORE if compare_with is None else compare_with}


def test_closed_lists_what_had_a_finding_above_info_before_and_none_now():
    network, access = exposure_report.closed(BEFORE, NOW)
    assert network == ["shop/web"]
    # A RoleBinding and a ServiceAccount may share a name: access is told apart by kind and object.
    assert access == ["ClusterRoleBinding anyone"]
    assert exposure_report.closed(BEFORE, BEFORE) == ([], [])
    assert exposure_report.closed([], NOW) == ([], [])


def test_markdown_has_the_summary_plan_both_sections_and_what_closed():
    text = exposure_report.markdown("cluster-a", "after", {"summary": SUMMARY, "findings": NOW},
                                    {"edge nodes": True}, ["shop/web"], ["ClusterRoleBinding anyone"])
    assert text.startswith("# Exposure report: cluster-a (after)\n")
    assert "| 1 | 1 | 0 | 1 | no | 1 | no | 2 |" in text
    assert "| edge nodes | True |" in text
    network, access = text.split("## Access: who can do what")
    assert "| medium | ALB | `public-alb1` |" in network and "ServiceAccount" not in network
    assert "## Closed since the report before this run\n\n- `shop/web`" in network
    assert "| high | ServiceAccount | `anyone` |" in access and "Unknown: this identity may not list Roles." in access
    assert "- ClusterRoleBinding `anyone`" in access


def test_html_escapes_and_is_well_formed():
    class Tags(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta",):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if not self.stack or self.stack.pop() != tag:
                self.errors.append(tag)

    text = pages.exposure("<cluster>", "after", {"summary": SUMMARY, "findings": NOW}, {}, ["shop/web"], [])
    assert "&lt;cluster&gt;" in text and "<cluster>" not in text
    assert "ALB &lt;open&gt;" in text
    parser = Tags()
    parser.feed(text)
    assert parser.errors == [] and parser.stack == []
    # One medium finding open to the internet: a red line, thicker per finding.
    assert "0 high, 1 medium open to the internet" in text and 'stroke="#c33" stroke-width="3"' in text


def write(*args, **kwargs):
    """As an audit writes its report: the module the Markdown and the state, the action plugin the page."""
    wrote = exposure_report.write(*args, **kwargs)
    assert exposure_report.PAGE in wrote and wrote["html"] not in wrote["written"]
    return pages.write_exposure(wrote, kwargs["check_mode"])


def test_write_writes_once_and_not_in_check_mode(tmp_path):
    audit = {"summary": SUMMARY, "findings": NOW}
    dry = write(report(tmp_path), audit, None, check_mode=True)
    assert dry["written"] == [] and not (tmp_path / "reports").exists()
    first = write(report(tmp_path), audit, None, check_mode=False)
    assert first["written"] == [first["md"], first["html"], first["state"]]
    assert first["md"] == str(tmp_path / "reports" / "cluster-a-after.md")
    assert first["state"] == str(tmp_path / "reports" / "cluster-a.last.json")
    assert oct(os.stat(first["html"]).st_mode & 0o777) == "0o644"
    assert oct(os.stat(first["state"]).st_mode & 0o777) == "0o644"
    assert first["closed"] == ["shop/web"] and first["closed_access"] == ["ClusterRoleBinding anyone"]
    again = write(report(tmp_path), audit, None, check_mode=False)
    assert again["written"] == []
    # The pages change (nothing closed now), the state does not: it is the same findings.
    changed = write(report(tmp_path, compare_with=NOW), audit, None, check_mode=False)
    assert changed["written"] == [first["md"], first["html"]] and changed["closed"] == []


def test_a_report_name_that_is_not_a_file_name_is_refused_before_the_audit():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure as exposure_info
    assert exposure_info.param_errors({"report": None}) == []
    assert exposure_info.param_errors({"report": {"name": "cluster-a"}}) == []
    for name in ("../etc/cron.d/x", "a/b", ".hidden"):
        assert exposure_info.param_errors({"report": {"name": name}}) == [
            f"report.name {name!r} must be a file name (no '/', not starting with '.')"]


def test_the_tamper_part_follows_what_was_closed_and_is_never_counted_as_closed():
    tamper = finding("medium", "Tamper", "private-only ingress", "tamper")
    findings = NOW + [tamper]
    text = exposure_report.markdown("cluster-a", "after", {"summary": SUMMARY, "findings": findings}, {},
                                    [], ["ClusterRoleBinding anyone"])
    access, part = text.split("## Tamper: who could undo or read what the pattern set")
    assert "- ClusterRoleBinding `anyone`" in access and "private-only ingress" not in access
    assert "| medium | `private-only ingress` | Tamper &lt;open&gt; | close it |" in part
    page = pages.exposure("cluster-a", "after", {"summary": SUMMARY, "findings": findings}, {}, [], [])
    assert page.index('<h2 id="access">') < page.index('<h2 id="tamper">')
    assert exposure_report.closed(BEFORE + [tamper], NOW) == (["shop/web"], ["ClusterRoleBinding anyone"])


# Drift: what reappeared since the cluster's last report.

def test_drift_names_findings_whose_identity_the_last_state_lacked_at_this_severity():
    blocked = {**finding("info", "NodePort", "shop/web"), "nature": "30080/TCP"}
    opened = {**blocked, "severity": "high"}
    other_port = {**opened, "nature": "30443/TCP"}
    alb_off, alb_on = finding("info", "ALB", "public-alb1"), finding("medium", "ALB", "public-alb1")
    taint = {**finding("medium", "EdgeNode", "w1"), "nature": "dedicated=edge:NoExecute"}
    low, high = finding("low", "Subject", "User:dev", "access"), finding("high", "Subject", "User:dev", "access")
    # The NodePort reopened, another port of the same Service opened, the public ALB switched back on, the edge
    # taint removed (absent before), a subject from low to high: each is drift.
    assert exposure_report.drift([blocked, alb_off, low], [opened, other_port, alb_on, taint, high]) == [
        opened, other_port, alb_on, taint, high]
    # What was there at the same or a higher severity is not; nor is an info finding; nor anything at a first audit.
    assert exposure_report.drift([opened, alb_on, high], [opened, alb_on, low, blocked]) == []
    assert exposure_report.drift(None, [opened, taint]) == []
    # The same kind and object in another area (an access finding named like a network object) is another thing.
    assert exposure_report.drift([finding("medium", "ALB", "public-alb1", "access")], [alb_on]) == [alb_on]


def test_a_replaced_pod_is_the_same_workload_but_a_new_exposure_on_it_is_drift():
    old = {**finding("medium", "hostNetwork", "shop/web-5d8f7-abcde"), "workload": "shop/web"}
    new = {**old, "object": "shop/web-5d8f7-zzzzz"}
    assert exposure_report.drift([old], [new]) == []
    placed = {**finding("medium", "EdgePlacement", "shop/web-5d8f7-zzzzz"), "workload": "shop/web"}
    assert exposure_report.drift([old], [new, placed]) == [placed]


def test_pods_are_judged_by_the_workload_that_runs_them():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure as exposure_info

    def pod(name, owner=None, template=None):
        meta = {"namespace": "shop", "name": name, "labels": {"pod-template-hash": template} if template else {}}
        if owner:
            meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
        return {"metadata": meta}
    assert exposure_info.workload(pod("web-5d8f7-abcde", ("ReplicaSet", "web-5d8f7"), "5d8f7")) == "shop/web"
    assert exposure_info.workload(pod("agent-x1x2y", ("DaemonSet", "agent"))) == "shop/agent"
    assert exposure_info.workload(pod("db-0", ("StatefulSet", "db"))) == "shop/db"
    assert exposure_info.workload(pod("bare")) == "shop/bare"


def test_an_edge_node_without_an_edge_taint_is_a_finding_per_missing_taint():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import exposure as exposure_info
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.nodes.edge import (
        EDGE_LABELS, EDGE_TAINTS)

    def node(name, labels, taints):
        return {"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}
    nodes = [node("w1", {"dedicated": "edge"}, [EDGE_TAINTS[0]]), node("w2", {"dedicated": "edge"}, EDGE_TAINTS),
             node("w3", {}, [])]
    found = exposure_info.edge_node_findings(nodes, EDGE_LABELS, EDGE_TAINTS)
    assert [(f["severity"], f["kind"], f["object"], f["nature"]) for f in found] == [
        ("medium", "EdgeNode", "w1", "dedicated=edge:NoExecute")]
    assert "edge node without taint dedicated=edge:NoExecute" in found[0]["exposure"]


def before_report(tmp_path):
    return {**report(tmp_path), "phase": "before", "compare_with": []}


def test_the_before_report_says_what_reappeared_or_that_this_is_the_first_audit(tmp_path):
    opened = {**finding("high", "NodePort", "shop/web"), "nature": "30080/TCP"}
    first = exposure_report.markdown("cluster-a", "before", {"summary": SUMMARY, "findings": NOW, "drift": []},
                                     {}, [], [], first=True)
    assert "## Reappeared since the last report\n\nFirst audit of this cluster: nothing to compare with." in first
    audit = {"summary": SUMMARY, "findings": NOW + [opened], "drift": [opened]}
    text = exposure_report.markdown("cluster-a", "before", audit, {}, [], [], first=False)
    part = text.split("## Reappeared since the last report")[1].split("## Network")[0]
    assert "| high | NodePort | `shop/web` | NodePort &lt;open&gt; | close it |" in part
    quiet = exposure_report.markdown("cluster-a", "before", {**audit, "drift": []}, {}, [], [], first=False)
    assert "Nothing reappeared since the last report." in quiet
    assert "Reappeared" not in exposure_report.markdown("cluster-a", "after", audit, {}, [], [])
    page = pages.exposure("cluster-a", "before", audit, {}, [], [], first=False)
    drift_part = page.split('<h2 id="drift">Reappeared since the last report</h2>')[1].split("<h2>Network")[0]
    assert '<tr class="high"><td>high</td><td>NodePort</td><td><code>shop/web</code>' in drift_part
    assert "nothing to compare with" in pages.exposure("cluster-a", "before", audit, {}, [], [], first=True)


def test_the_state_keeps_the_findings_above_info_and_is_written_only_when_it_changes(tmp_path):
    audit = {"summary": SUMMARY, "findings": NOW, "drift": []}
    assert exposure_report.last_state(before_report(tmp_path)) == (None, "")
    dry = exposure_report.write(before_report(tmp_path), audit, None, check_mode=True)
    assert dry["written"] == [] and not os.path.exists(dry["state"])
    wrote = exposure_report.write(before_report(tmp_path), audit, None, check_mode=False)
    assert wrote["state"] in wrote["written"]
    kept, unreadable = exposure_report.last_state(before_report(tmp_path))
    assert unreadable == ""
    assert kept == [f for f in NOW if f["severity"] != "info"]
    # Only info findings changed: the state reads the same and is not written again.
    more_info = {**audit, "findings": NOW + [finding("info", "ALB", "private-alb1")]}
    again = exposure_report.write(before_report(tmp_path), more_info, kept, check_mode=False)
    assert wrote["state"] not in again["written"]
    assert "Nothing reappeared since the last report." in open(again["md"], encoding="utf-8").read()


def test_the_gate_fails_for_open_findings_of_that_severity_or_higher_and_for_drift():
    findings = [finding("high", "NodePort", "shop/web"), finding("medium", "ALB", "public-alb1"),
                finding("low", "Namespace", "shop"), finding("info", "LoadBalancer", "shop/private")]
    drifted = [finding("medium", "EdgeNode", "w1")]
    assert exposure_report.gate("none", findings, drifted) == ""
    assert exposure_report.gate(["drift"], findings, []) == ""
    assert exposure_report.gate("low", [findings[3]], drifted) == ""
    high = exposure_report.gate("high", findings, drifted, "/r/a-before.html")
    assert high.startswith("exposure gate (secure_cluster_fail_on=high): 1 open at high or above: "
                           "high NodePort shop/web.")
    assert "reappeared" not in high and "/r/a-before.html" in high and "To accept" in high
    medium = exposure_report.gate("medium,drift", findings, drifted)
    assert medium.startswith("exposure gate (secure_cluster_fail_on=medium,drift): 2 open at medium or above: "
                             "high NodePort shop/web; medium ALB public-alb1. 1 reappeared since the last report: "
                             "medium EdgeNode w1.")
    assert "3 open at low or above" in exposure_report.gate(["low"], findings, [])
    many = [finding("high", "NodePort", f"shop/web{i}") for i in range(13)]
    capped = exposure_report.gate(["high"], many, [])
    assert "shop/web9; and 3 more." in capped and "shop/web10" not in capped


def test_the_gate_refuses_a_value_it_does_not_know():
    try:
        exposure_report.gate(["hihg"], [], [])
    except ValueError as exc:
        assert str(exc) == "secure_cluster_fail_on 'hihg' is not one of none, high, medium, low, drift"
    else:
        raise AssertionError("an unknown gate value passed")


def test_the_gate_filter_judges_the_results_drift_or_the_one_given_and_reports_a_bad_value_as_a_filter_error():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.containers_workload.secure_cluster.plugins.filter.exposure_gate import exposure_gate
    drifted = finding("medium", "EdgeNode", "w1")
    audit = {"findings": [drifted], "drift": [drifted], "report": {"html": "/r/a-after.html"}}
    assert exposure_gate(audit, "drift").startswith("exposure gate (secure_cluster_fail_on=drift): 1 reappeared")
    assert "/r/a-after.html" in exposure_gate(audit, "drift")
    # The pattern's after audit passes the before audit's drift: none there, nothing to fail for.
    assert exposure_gate(audit, ["drift"], []) == ""
    assert exposure_gate({"findings": [], "drift": []}, "drift", [drifted]) != ""
    try:
        exposure_gate(audit, "hihg")
    except AnsibleFilterError as exc:
        assert "'hihg' is not one of none, high, medium, low, drift" in str(exc)
    else:
        raise AssertionError("an unknown gate value passed the filter")
