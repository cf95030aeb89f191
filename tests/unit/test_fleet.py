"""The fleet page: a row for every cluster of the play (done, failed, not reached, not reached after the run
stopped, steps skipped by their switch), as Markdown and HTML, written only when it reads differently."""

import html.parser
import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import fleet

REPO = Path(__file__).resolve().parents[2]
PLAN = {fleet.PLAN: {"provider": "ibm", "state": "present", "exposure_report": True, "edge_nodes": True,
                     "private_ingress": False, "private_load_balancer": False, "nodeport_lockdown": True,
                     "host_firewall": False, "namespace_isolation": False, "strongswan_vpn": False}}


def audit(phase, host, high, medium=0, low=0, info=1, **extra):
    return {"summary": {"high": high, "medium": medium, "low": low, "info": info, "edge_nodes": 3, **extra},
            "findings": [], "report": {"html": f"/r/{host}-{phase}.html", "md": f"/r/{host}-{phase}.md"}}


def done(host, changed=True, drift=None):
    before = audit("before", host, 2, 1)
    if drift is not None:
        before["drift"] = [{"severity": "high"}] * drift
    return {fleet.FIRST_READ: {"provider": "ibm", "changed": False}, fleet.PLAN_SHOWN: PLAN,
            "_edge_nodes_labelled": {"changed": changed}, "edge_nodes_moved": {"changed": False},
            "edge_nodes_result": {"changed": changed}, "nodeport_lockdown_result": {"changed": False},
            fleet.EDGE_PREVIEW: {"edge_nodes": ["w1", "w2"]},
            "exposure_report_before": before, "exposure_report_after": audit("after", host, 0)}


def unreachable():
    return {fleet.FIRST_READ: {"failed": True, "msg": "cannot reach"},
            fleet.FAILURE: {"step": "read", "task": "Find the cluster's provider",
                            "msg": "cannot reach the Kubernetes API server at https://127.0.0.1:9: connection refused"}}


def failed_in_step():
    host = done("c")
    host.pop("edge_nodes_result")
    host.pop("nodeport_lockdown_result")
    host.pop("exposure_report_after")
    # As the rescue keeps it: no step of its own, the failed task's tags (the role's tag, in any order).
    host[fleet.FAILURE] = {"step": "", "tags": ["edge_nodes_apply", "edge_nodes"], "task": "Taint the edge nodes",
                           "msg": "still on non-edge nodes"}
    return host


def test_rows_say_done_failed_and_not_reached_with_each_steps_outcome():
    hosts = ["a", "b", "c"]
    table, stop = fleet.rows("secure_cluster", hosts, {"a": done("a"), "b": unreachable(), "c": failed_in_step()},
                             batch=hosts, active=hosts, batch_number=1, max_fail_percentage=100)
    a, b, c = table
    assert stop is None
    assert (a["status"], a["reached"], a["changed_steps"]) == ("done", True, ["edge_nodes"])
    assert a["steps"]["nodeport_lockdown"]["state"] == "unchanged"
    assert a["steps"]["private_ingress"] == {"state": "skipped", "detail": "secure_cluster_private_ingress"}
    assert a["steps"]["strongswan_vpn"] == {"state": "skipped", "detail": "strongswan_vpn_remote_subnet"}
    assert a["before"] == {"high": 2, "medium": 1, "low": 0, "info": 1} and a["after"]["high"] == 0
    assert a["links"] == {"before": "./a-before.html", "after": "./a-after.html"} and a["edge_nodes"] == ["w1", "w2"]
    assert (b["status"], b["reached"]) == ("not reached", False) and "connection refused" in b["message"]
    assert all(o["state"] == "not run" for o in b["steps"].values())
    assert (c["status"], c["step"], c["reached"]) == ("failed", "edge_nodes", True)
    assert c["steps"]["edge_nodes"] == {"state": "failed", "detail": "still on non-edge nodes"}
    assert c["steps"]["nodeport_lockdown"]["state"] == "not run"


def test_hosts_of_later_batches_are_pending_while_the_run_goes_on():
    table, stop = fleet.rows("secure_cluster", ["a", "b", "c"], {"a": done("a")}, batch=["a"], active=["a", "b", "c"],
                             batch_number=1, max_fail_percentage=25)
    assert stop is None
    assert [r["status"] for r in table] == ["done", "pending", "pending"]
    assert fleet.headline(table, "secure_cluster") == "3 clusters: 1 done (1 changed), 0 failed, 0 not reached, 2 pending"


def test_a_batch_over_max_fail_percentage_stops_the_run_and_later_hosts_read_not_reached():
    hosts = ["a", "b", "c", "d", "e"]
    hostvars = {"a": {**done("a"), fleet.BATCH: 1}, "b": done("b"), "c": failed_in_step()}
    table, stop = fleet.rows("secure_cluster", hosts, hostvars, batch=["b", "c"], active=hosts, batch_number=2,
                             max_fail_percentage=25)
    assert stop == "the run stopped after batch 2 (1 of 2 clusters failed, more than max_fail_percentage 25)"
    assert [r["status"] for r in table] == ["done", "done", "failed", "not reached", "not reached"]
    assert table[3]["message"] == stop and not table[3]["reached"]


def test_ansible_s_stop_rule_strictly_more_than_the_percentage_or_every_host():
    assert fleet.stop_reason(3, 1, 4, 25) is None  # 1/4 is not more than 25 %
    assert "2 of 4 clusters failed" in fleet.stop_reason(3, 2, 4, 25)
    assert fleet.stop_reason(1, 3, 3, None) == "the run stopped after batch 1 (every cluster of it failed)"
    assert fleet.stop_reason(1, 2, 3, None) is None
    assert fleet.stop_reason(1, 1, 1, 100) is not None  # the whole batch failed, whatever the percentage


def test_a_host_ansible_stopped_outside_the_rescue_is_a_row_too():
    table, unused = fleet.rows("secure_cluster", ["a", "b"], {"a": done("a")}, batch=["a", "b"], active=["a"],
                               batch_number=1)
    assert table[1]["status"] == "not reached" and "outside the steps" in table[1]["message"]


def test_audit_rows_read_reached_from_the_audit_and_show_drift():
    hostvars = {"a": {"exposure_report_before": {**audit("before", "a", 1), "drift": [{}, {}]}},
                "b": {fleet.FAILURE: {"step": "exposure_report", "msg": "cannot reach the API server"}}}
    table, unused = fleet.rows("audit", ["a", "b"], hostvars, batch=["a", "b"], active=["a", "b"], batch_number=1)
    assert (table[0]["status"], table[0]["reached"], table[0]["drift"], table[0]["steps"]) == ("done", True, 2, {})
    assert table[1]["status"] == "not reached"
    assert fleet.stats("audit", table, {})["totals"]["drift"] == 2
    assert fleet.line(table[0]) == "a done" and "| `a` | yes | done |" in fleet.markdown("audit", table)


def test_drift_absent_counts_as_none_and_summary_drift_is_read():
    assert fleet.rows("audit", ["a"], {"a": {"exposure_report_before": audit("before", "a", 0)}}, ["a"], ["a"], 1)[0][0][
        "drift"] == 0
    assert fleet.rows("audit", ["a"], {"a": {"exposure_report_before": audit("before", "a", 0, drift=4)}}, ["a"], ["a"],
                      1)[0][0]["drift"] == 4


def table_of_three():
    hosts = ["prod-a", "prod-b", "prod-c"]
    return fleet.rows("secure_cluster", hosts, {"prod-a": done("prod-a", drift=1), "prod-b": unreachable(),
                                                "prod-c": failed_in_step()}, hosts, hosts, 1, 50)[0]


def test_markdown_has_a_row_per_cluster_with_outcomes_findings_and_links():
    md = fleet.markdown("secure_cluster", table_of_three())
    rows = {line.split(" | ")[0].strip("| `"): line for line in md.splitlines() if line.startswith("| `")}
    assert list(rows) == ["prod-a", "prod-b", "prod-c"]
    assert "| yes | done, changed | changed |" in rows["prod-a"]
    assert "skipped (secure_cluster_private_ingress)" in rows["prod-a"]
    assert "| 2 / 1 / 0 / 1 | 0 / 0 / 0 / 1 | 1 | w1, w2 | [before](./prod-a-before.html), [after](./prod-a-after.html) |" \
        in rows["prod-a"]
    assert "| no | not reached: cannot reach the Kubernetes API server" in rows["prod-b"]
    assert "failed: edge_nodes: still on non-edge nodes" in rows["prod-c"]
    assert "3 clusters: 1 done (1 changed), 1 failed, 1 not reached." in md


class Cells(html.parser.HTMLParser):
    """Rows of the fleet table: {host: (row attributes, [cell texts])}, and any external reference."""

    def __init__(self):
        super().__init__()
        self.rows, self.external, self._row, self._cell = {}, [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "tr" and attrs.get("id", "").startswith("host-"):
            self._row = attrs["id"][5:]
            self.rows[self._row] = (attrs, [])
        elif tag == "td" and self._row:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._row and self._cell is not None:
            self.rows[self._row][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_html_is_self_contained_with_a_row_per_cluster_status_and_bars():
    page = fleet.page("secure_cluster", table_of_three())
    parser = Cells()
    parser.feed(page)
    assert parser.external == [] and "<link" not in page and "<script" not in page
    assert {h: attrs["data-status"] for h, (attrs, unused) in parser.rows.items()} == {
        "prod-a": "done", "prod-b": "not reached", "prod-c": "failed"}
    a = parser.rows["prod-a"][1]
    assert a[0] == "prod-a" and a[1] == "changed" and a[2] == "changed" and a[3] == "off"
    assert "cannot reach the Kubernetes API server" in parser.rows["prod-b"][1][1]
    assert parser.rows["prod-c"][1][2] == "failed"
    assert 'href="./prod-a-before.html"' in page and 'href="./prod-a-after.html"' in page
    # The bars: 2 high of the fleet's biggest 3 take 2/3 of the 150 px bar, before; none open after.
    assert '<rect x="40.0" y="2" width="100.0" height="11"' in page and "none open" in page
    assert "title=\"skipped (secure_cluster_private_ingress)\"" in page


def test_pages_hold_nothing_that_changes_between_identical_runs():
    assert fleet.page("secure_cluster", table_of_three()) == fleet.page("secure_cluster", table_of_three())
    assert fleet.markdown("secure_cluster", table_of_three()) == fleet.markdown("secure_cluster", table_of_three())


def test_write_only_when_it_reads_differently_and_never_in_check_mode(tmp_path):
    path = str(tmp_path / "reports" / "fleet.md")
    assert fleet.write(path, "one\n", check_mode=True) is True and not os.path.exists(path)
    assert fleet.write(path, "one\n", check_mode=False) is True
    mtime = os.stat(path).st_mtime_ns
    assert fleet.write(path, "one\n", check_mode=False) is False and os.stat(path).st_mtime_ns == mtime
    assert fleet.write(path, "two\n", check_mode=True) is True and Path(path).read_text() == "one\n"
    assert fleet.write(path, "two\n", check_mode=False) is True and Path(path).read_text() == "two\n"


def test_progress_lines():
    a, b, c = table_of_three()
    assert fleet.line(a) == "prod-a done, changed 1 step (edge_nodes)"
    assert fleet.line(b).startswith("prod-b not reached: cannot reach the Kubernetes API server")
    assert fleet.line(c) == "prod-c failed: edge_nodes: still on non-edge nodes"
    assert fleet.line({**a, "changed_steps": []}) == "prod-a done, unchanged"


def test_the_plan_gives_each_declared_step_on_or_off():
    plan = fleet.plan_from(PLAN)
    assert plan["edge_nodes"] is True and plan["strongswan_vpn"] is False
    assert "provider" not in plan
    assert fleet.plan_from(None) == {} and fleet.plan_from({"msg": "Hello world!"}) == {}


def test_a_failed_step_is_named_by_the_declared_tag_of_its_task_whatever_the_tags_order():
    for tags in (["edge_nodes", "edge_nodes_apply"], ["edge_nodes_apply", "edge_nodes"], ["always", "edge_nodes"]):
        assert fleet.failed_step({"step": "", "tags": tags}) == "edge_nodes"
    assert fleet.failed_step({"step": "checks", "tags": ["host_firewall"]}) == "checks"
    assert fleet.failed_step({"step": "", "tags": ["always"]}) == "pattern"
    assert fleet.failed_step({}) == "pattern"


def run_fleet_play(tmp_path, *args, hosts=("a", "b")):
    """The fleet_report action on hosts whose variables set_fact gives: one done, one not reached."""
    reports = tmp_path / "reports"
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"ansible.builtin.set_fact": {fleet.FIRST_READ: {"changed": False}, fleet.PLAN_SHOWN: PLAN,
                                      "nodeport_lockdown_result": {"changed": True}},
         "when": "inventory_hostname == 'a'"},
        {"ansible.builtin.set_fact": {fleet.FAILURE: {"step": "read", "task": "t", "msg": "connection refused"}},
         "when": "inventory_hostname == 'b'"},
        {"containers_workload.secure_cluster.fleet_report": {"dir": str(reports)}, "run_once": True,
         "register": "fleet"},
        {"ansible.builtin.debug": {"msg": "STATS {{ fleet.stats | to_json }}"}, "run_once": True}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(tmp_path / "play.yml"),
                             "-i", ",".join(hosts) + ",", "-c", "local", "-e",
                             "ansible_python_interpreter={{ ansible_playbook_python }}", *args],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout, reports


def test_the_action_writes_both_pages_prints_progress_and_nothing_in_check_mode(tmp_path):
    out, reports = run_fleet_play(tmp_path, "--check")
    assert not reports.exists()
    assert "fleet: a done, changed 1 step (nodeport_lockdown)" in out
    assert "fleet: b not reached: connection refused" in out
    assert "(not written in check mode)" in out
    out, reports = run_fleet_play(tmp_path)
    # The pages, and each cluster's record for a page of several runs.
    assert sorted(p.name for p in reports.iterdir()) == ["a.fleet.json", "b.fleet.json", "fleet.html", "fleet.md"]
    stats = json.loads(out.split("STATS ", 1)[1].split('"\n', 1)[0].replace('\\"', '"'))
    assert stats["hosts"]["b"]["status"] == "not reached" and stats["totals"]["done"] == 1
    mtime = (reports / "fleet.html").stat().st_mtime_ns
    run_fleet_play(tmp_path)
    assert (reports / "fleet.html").stat().st_mtime_ns == mtime  # reads the same: not written again


def test_a_one_host_play_prints_no_fleet_lines(tmp_path):
    out, reports = run_fleet_play(tmp_path, hosts=("a",))
    assert "fleet:" not in out and (reports / "fleet.md").exists()


def test_records_of_slices_add_up_to_the_page_of_the_whole_run_from_artifacts_and_from_files(tmp_path):
    a, b, c = table_of_three()
    whole = fleet.page("secure_cluster", [a, b, c])
    # Three slices (AWX: hosts by name, every third), each handing on its artifacts; AWX merges them key by key.
    merged = {}
    for table in ([a], [b], [c]):
        merged.update(fleet.artifacts("secure_cluster", table, {"md": "m", "html": "h"}))
    kind, rows = fleet.gathered(merged, None)
    assert kind == "secure_cluster" and [r["host"] for r in rows] == ["prod-a", "prod-b", "prod-c"]
    assert fleet.page(kind, rows) == whole
    # The same records as files gathered in one directory.
    for row in (c, a, b):
        (tmp_path / f"{row['host']}.fleet.json").write_text(json.dumps(fleet.row_record("secure_cluster", row)))
    assert fleet.gathered(None, str(tmp_path)) == (kind, rows)
    (tmp_path / "x.fleet.json").write_text(json.dumps(fleet.row_record("audit", {**a, "host": "x"})))
    try:
        fleet.gathered(None, str(tmp_path))
    except ValueError as exc:
        assert "different runs (audit, secure_cluster)" in str(exc)
    else:
        raise AssertionError("records of two kinds made one page")


def test_each_host_has_its_own_artifact_key_and_it_is_a_variable_name():
    names = ["prod-a", "prod_a", "prod.a", "prod a", "PROD_A", "javascript:alert(1)"]
    keys = [fleet.artifact_key(n) for n in names]
    assert len(set(keys)) == len(names) and all(k.isidentifier() for k in keys)
    assert fleet.artifact_key("prod_a") == "secure_cluster_fleet_host_prod_a"
    assert fleet.row_file("/r", "../x") is None and fleet.row_file("/r", ".hidden") is None
