"""The exposure report the audit writes: what it shows, what it says was closed, and when it writes."""

import html.parser
import os

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import exposure_report


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

    text = exposure_report.page("<cluster>", "after", {"summary": SUMMARY, "findings": NOW}, {}, ["shop/web"], [])
    assert "&lt;cluster&gt;" in text and "<cluster>" not in text
    assert "ALB &lt;open&gt;" in text
    parser = Tags()
    parser.feed(text)
    assert parser.errors == [] and parser.stack == []
    # One medium finding open to the internet: a red line, thicker per finding.
    assert "0 high, 1 medium open to the internet" in text and 'stroke="#c33" stroke-width="3"' in text


def test_write_writes_once_and_not_in_check_mode(tmp_path):
    audit = {"summary": SUMMARY, "findings": NOW}
    dry = exposure_report.write(report(tmp_path), audit, check_mode=True)
    assert dry["written"] == [] and not (tmp_path / "reports").exists()
    first = exposure_report.write(report(tmp_path), audit, check_mode=False)
    assert first["written"] == [first["md"], first["html"]]
    assert first["md"] == str(tmp_path / "reports" / "cluster-a-after.md")
    assert oct(os.stat(first["html"]).st_mode & 0o777) == "0o644"
    assert first["closed"] == ["shop/web"] and first["closed_access"] == ["ClusterRoleBinding anyone"]
    again = exposure_report.write(report(tmp_path), audit, check_mode=False)
    assert again["written"] == []
    changed = exposure_report.write(report(tmp_path, compare_with=NOW), audit, check_mode=False)
    assert changed["written"] == [first["md"], first["html"]] and changed["closed"] == []


def test_a_report_name_that_is_not_a_file_name_is_refused_before_the_audit():
    from ansible_collections.containers_workload.secure_cluster.plugins.module_utils import exposure_info
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
    assert "| medium | `private-only ingress` | Tamper <open> | close it |" in part
    page = exposure_report.page("cluster-a", "after", {"summary": SUMMARY, "findings": findings}, {}, [], [])
    assert page.index('<h2 id="access">') < page.index('<h2 id="tamper">')
    assert exposure_report.closed(BEFORE + [tamper], NOW) == (["shop/web"], ["ClusterRoleBinding anyone"])
