"""The files the collection writes survive a crash, and what the cluster or the inventory puts in them stays text:
hostile host names, namespaces and messages on the fleet page and the exposure report, in HTML and Markdown."""

import html.parser
import json
import os
import re

import pytest

from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import report as exposure_report
from ansible_collections.containers_workload.secure_cluster.plugins.module_utils.audit import files as report_files
from ansible_collections.containers_workload.secure_cluster.plugins.plugin_utils import fleet, pages

HOSTILE_HOST = "javascript:alert(1)<img src=x onerror=alert(2)>|x&y`z"
HOSTILE_NS = "ns<script>alert(3)</script>|\ninjected"
HOSTILE_MSG = "denied </td><script>alert(4)</script> [click](javascript:alert(5)) | next\n| forged | row |"


class Page(html.parser.HTMLParser):
    """The elements, attributes and text a browser would build from the page."""

    def __init__(self):
        super().__init__()
        self.tags, self.hrefs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]

    def handle_data(self, data):
        self.text.append(data)


def parsed(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def md_table_rows(text: str) -> list[list[str]]:
    """The cells of each table row as GFM splits them (on pipes not escaped)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| "):
            cells, cell, escaped = [], "", False
            for c in line.strip()[1:-1]:
                if c == "|" and not escaped:
                    cells.append(cell)
                    cell = ""
                else:
                    cell += c
                escaped = c == "\\" and not escaped
            rows.append(cells + [cell])
    return rows


def assert_markdown_is_text(text: str) -> None:
    for bad in ("<script", "<img", "</td>"):
        assert bad not in text, bad
    assert not re.search(r"(?<!\\)\]\(javascript:", text)  # a link needs an unescaped "]("
    # Every row of a table has as many cells as its header: nothing broke out of its cell or its row.
    for block in re.findall(r"(?:^\|.*\n)+", text, flags=re.M):
        widths = {len(r) for r in md_table_rows(block)}
        assert len(widths) == 1, block


def fleet_table():
    hostile = {fleet.FIRST_READ: {"provider": "ibm"}, fleet.PLAN_SHOWN: {fleet.PLAN: {"edge_nodes": True}},
               "edge_nodes_result": {"changed": True}, fleet.EDGE_PREVIEW: {"edge_nodes": [HOSTILE_NS]},
               "exposure_report_before": {"summary": {"high": 1, "medium": 0, "low": 0, "info": 0},
                                          "report": {"html": f"/r/{HOSTILE_HOST}-before.html"}},
               fleet.FAILURE: {"step": "nodeport_lockdown", "msg": HOSTILE_MSG}}
    hosts = [HOSTILE_HOST, "fine"]
    table, unused = fleet.rows("rollback", hosts, {HOSTILE_HOST: hostile, "fine": {}}, hosts, hosts, 1)
    return table


def test_the_fleet_page_shows_hostile_host_names_and_messages_as_text_and_links_them_relative_and_quoted():
    table = fleet_table()
    page = fleet.page("rollback", table)
    dom = parsed(page)
    assert "script" not in dom.tags and "img" not in dom.tags
    assert dom.hrefs == ["./javascript%3Aalert%281%29%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3E%7Cx%26y%60z-before.html"]
    text = "".join(dom.text)
    assert HOSTILE_HOST in text and "nodeport_lockdown: denied </td><script>alert(4)</script>" in text
    md = fleet.markdown("rollback", table)
    assert_markdown_is_text(md)
    row = next(r for r in md_table_rows(md) if "javascript" in r[0])
    header = md_table_rows(md)[0]
    assert len(row) == len(header)
    assert row[0].strip() == "javascript:alert(1)&lt;img src=x onerror=alert(2)&gt;\\|x&amp;y\\`z"
    assert "[before](./javascript%3Aalert%281%29" in row[-1]
    assert "\\[click\\](javascript:alert(5)) \\| next \\| forged \\| row \\|" in row[2]


def test_the_exposure_report_shows_hostile_names_namespaces_and_messages_as_text():
    findings = [{"severity": "high", "kind": "NodePort", "object": f"{HOSTILE_NS}/web", "exposure": HOSTILE_MSG,
                 "fix": "<b>close</b>"},
                {"severity": "medium", "kind": "Subject", "object": "User:`eve`", "exposure": HOSTILE_MSG,
                 "fix": "drop it", "area": "access"},
                {"severity": "medium", "kind": "Tamper", "object": HOSTILE_NS, "exposure": HOSTILE_MSG,
                 "fix": "x", "area": "tamper"}]
    summary = {"high": 1, "medium": 2, "low": 0, "info": 0, "nodeports_blocked": False, "public_albs_enabled": 0,
               "vpn": False, "edge_nodes": 0, "access_unknown": ["<Roles>"]}
    audit = {"summary": summary, "findings": findings, "drift": findings[:1]}
    args = (HOSTILE_HOST, "before", audit, {"<step>": True}, [HOSTILE_NS], [f"Subject {HOSTILE_HOST}"], False)
    md = exposure_report.markdown(*args)
    assert_markdown_is_text(md)
    assert md.startswith("# Exposure report: javascript:alert(1)&lt;img src=x onerror=alert(2)&gt;\\|x&amp;y\\`z")
    rows = [r for r in md_table_rows(md) if len(r) == 5 and r[0].strip() == "high"]
    assert len(rows) == 2 and all("\\| forged \\| row \\|" in r[3] for r in rows)  # drift and network
    assert "- ns&lt;script&gt;alert(3)&lt;/script&gt;\\| injected" in md  # what closed: escaped, on one line
    page = pages.exposure(*args)
    dom = parsed(page)
    assert not {"script", "img", "b"} & set(dom.tags) and dom.hrefs == []
    assert HOSTILE_MSG in "".join(dom.text) and "<Roles>" in "".join(dom.text)


def test_markdown_text_keeps_names_readable_and_code_spans_where_they_read_as_written():
    m = report_files.markdown_text
    assert m("shop/web", code=True) == "`shop/web`"
    assert m("a|b", code=True) == "`a\\|b`"
    assert m("secure_cluster_private_ingress") == "secure_cluster_private_ingress"
    assert m("_lead *bold* ~x~") == "\\_lead \\*bold\\* \\~x\\~"
    assert m("two\nlines\r\nand\ttab") == "two lines and tab"


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "reports" / "c.last.json"
    assert report_files.write_if_changed(str(path), "old\n", check_mode=False)
    os.chmod(path, 0o600)  # a user's chmod survives a replacement

    def no_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="No space left"):
        report_files.write_if_changed(str(path), "new\n", check_mode=False)
    monkeypatch.undo()
    assert path.read_text() == "old\n" and os.listdir(path.parent) == ["c.last.json"]

    class Unwritable:
        def __str__(self):
            raise RuntimeError("cannot render")
    with pytest.raises(RuntimeError):
        report_files.write_atomic(str(path), str(Unwritable()))
    assert path.read_text() == "old\n" and os.listdir(path.parent) == ["c.last.json"]
    assert report_files.write_if_changed(str(path), "new\n", check_mode=False)
    assert path.read_text() == "new\n" and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert not report_files.write_if_changed(str(path), "new\n", check_mode=False)
    fresh = tmp_path / "reports" / "fresh.md"
    report_files.write_atomic(str(fresh), "x")
    assert oct(os.stat(fresh).st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("damaged", [b"", b'{"findings": [{"severity": "high", "ki', b"\xff\xfe\x00", b"[1, 2]",
                                     b'{"findings": {}}', b'{"findings": [{"severity": "bad", "kind": "k", "object": "o"}]}',
                                     b'{"findings": [{"severity": "high", "kind": 3, "object": "o"}]}'])
def test_a_damaged_state_is_named_read_as_none_and_rebuilt(tmp_path, damaged):
    report = {"dir": str(tmp_path), "name": "c", "phase": "before", "plan": {}, "compare_with": []}
    (tmp_path / "c.last.json").write_bytes(damaged)
    last, unreadable = exposure_report.last_state(report)
    assert last is None
    assert unreadable.startswith(f"the cluster's last state {tmp_path}/c.last.json is unreadable (")
    assert unreadable.endswith("it is rebuilt from this audit, which therefore names no drift")
    finding = {"severity": "high", "kind": "NodePort", "object": "shop/web", "exposure": "open", "fix": "close"}
    audit = {"summary": {"high": 1, "medium": 0, "low": 0, "info": 0, "nodeports_blocked": False,
                         "public_albs_enabled": 0, "vpn": False, "edge_nodes": 0}, "findings": [finding], "drift": []}
    wrote = pages.write_exposure(exposure_report.write(report, audit, last, False, unreadable), False)
    assert wrote["state"] in wrote["written"]
    assert json.loads((tmp_path / "c.last.json").read_text()) == {"findings": [finding]}
    assert exposure_report.last_state(report) == ([finding], "")
    assert "The last state was unreadable, so nothing to compare with: the cluster" in (tmp_path / "c-before.md").read_text()
    assert "The last state was unreadable" in (tmp_path / "c-before.html").read_text()
