"""The fleet page of a real three-cluster run: two IKS-profile clusters (one stays healthy, the other drifts between
runs: the test removes an edge taint and deletes the lockdown policy by hand) and one whose kubeconfig points at a
closed port. All are rows; the run fails for the unreachable one only; the nightly audit names the drift and its
gate fails the drifted cluster; AWX (ansible-runner) gets the summary through set_stats; headless Chromium renders
the page."""

from __future__ import annotations

import html.parser
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

from conftest import (REPO, closed_port, cluster_down, cluster_up, demo_cluster_up, drift_by_hand, run_playbook,
                      unique, user_kubeconfig)

CHROMIUM = "/usr/bin/chromium"


def fleet_inventory(cluster, drifting, workdir: Path) -> tuple[Path, str]:
    """One inventory, three IKS-profile clusters: two real ones and a copy of the first's kubeconfig on a closed
    port. Each real cluster has its own IBM Cloud API emulator."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    down = f"https://127.0.0.1:{closed_port()}"
    for entry in config["clusters"]:
        entry["cluster"]["server"] = down
    (workdir / "down.kubeconfig").write_text(yaml.safe_dump(config))
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "edge_nodes_per_zone": 1, "edge_nodes_min_per_zone": 1,
              "exposure_report_dir": str(workdir / "reports")}

    def iks(of) -> dict:
        return {"secure_cluster_iks_cluster": of.env["IKS_CLUSTER"],
                "secure_cluster_ibmcloud_api_key": of.env["IBMCLOUD_API_KEY"],
                "secure_cluster_iks_endpoint": of.env["IKS_API_URL"]}
    hosts = {"fl-fine": {**common, **iks(cluster), "secure_cluster_kubeconfig": cluster.kubeconfig},
             "fl-drift": {**common, **iks(drifting), "secure_cluster_kubeconfig": drifting.kubeconfig},
             "fl-down": {**common, **iks(cluster), "secure_cluster_kubeconfig": str(workdir / "down.kubeconfig")}}
    path = workdir / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
    return path, down


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory):
    """secure-cluster.yml over the three clusters in one batch (max_fail_percentage 50: the real ones finish)."""
    name, drifting_name = unique("fl-iks"), unique("fl-drift")
    cluster = cluster_up(name, "--nodes", "6", "--profile", "iks")
    try:
        drifting = demo_cluster_up(drifting_name)  # with the demo app, whose NodePorts the lockdown blocks
        workdir = tmp_path_factory.mktemp("fleet")
        inventory, down = fleet_inventory(cluster, drifting, workdir)
        extra = json.dumps({"secure_cluster_serial": 3, "secure_cluster_max_fail_percentage": 50})
        result = run_playbook(cluster, "secure-cluster.yml", "-i", str(inventory), "-e", extra, check=False)
        yield {"cluster": cluster, "drifting": drifting, "workdir": workdir, "inventory": inventory, "down": down,
               "result": result, "extra": extra}
    finally:
        cluster_down(name)
        cluster_down(drifting_name)


def md_rows(path: Path) -> dict:
    return {line.split(" | ")[0].strip("| `"): line for line in path.read_text().splitlines()
            if line.startswith("| `")}


def md_cell(path: Path, host: str, column: str) -> str:
    """One cell of the fleet page's Markdown table, found by the header's column name."""
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| cluster |"))
    row = next(line for line in lines if line.startswith(f"| `{host}` |"))
    names = [cell.strip() for cell in header.strip("|").split(" | ")]
    return [cell.strip() for cell in row.strip("|").split(" | ")][names.index(column)]


def test_every_cluster_is_a_row_and_only_the_unreachable_one_fails(fleet_run):
    result, reports = fleet_run["result"], fleet_run["workdir"] / "reports"
    assert result.returncode == 2, result.stdout[-3000:]
    recap = result.stdout.split("PLAY RECAP")[1]
    assert re.search(r"fl-down\s+:.*failed=1", recap) and re.search(r"fl-fine\s+:.*failed=0", recap), recap
    assert re.search(r"fl-drift\s+:.*failed=0", recap), recap
    # The error is printed where it happened and again when the host fails after the page.
    assert f"cannot reach the Kubernetes API server at {fleet_run['down']}" in result.stdout
    assert "Plan the edge nodes" in result.stdout  # the fine cluster ran its steps
    rows = md_rows(reports / "fleet.md")
    assert list(rows) == ["fl-fine", "fl-drift", "fl-down"]
    assert "| yes | done, changed | changed |" in rows["fl-fine"], rows["fl-fine"]
    assert "| yes | done, changed | changed |" in rows["fl-drift"], rows["fl-drift"]
    assert "skipped (secure_cluster_private_ingress)" in rows["fl-fine"]
    assert "[before](./fl-fine-before.html), [after](./fl-fine-after.html)" in rows["fl-fine"]
    assert (reports / "fl-fine-after.html").exists()
    assert f"| no | not reached: cannot reach the Kubernetes API server at {fleet_run['down']}" in rows["fl-down"]
    page = (reports / "fleet.html").read_text()
    assert 'id="host-fl-fine" class="done"' in page and 'id="host-fl-down" class="unreached"' in page
    lines = [line for line in result.stdout.splitlines() if line.startswith("fleet:")]
    assert re.match(r"fleet: fl-fine done, changed \d+ steps \(edge_nodes, .*nodeport_lockdown", lines[0]), lines
    assert lines[1].startswith("fleet: fl-drift done, changed ")
    assert lines[2].startswith("fleet: fl-down not reached: cannot reach")
    assert lines[3].startswith("fleet: 3 clusters: 2 done (2 changed), 0 failed, 1 not reached - ")


def test_a_rerun_of_the_fine_cluster_alone_keeps_its_row_unchanged_and_the_page_follows_limit(fleet_run):
    reports = fleet_run["workdir"] / "reports"
    result = run_playbook(fleet_run["cluster"], "secure-cluster.yml", "-i", str(fleet_run["inventory"]),
                          "-e", fleet_run["extra"], "--limit", "fl-fine")
    assert "changed=0" in result.stdout
    assert "fleet:" not in result.stdout  # one cluster in the play: no progress lines
    rows = md_rows(reports / "fleet.md")
    assert list(rows) == ["fl-fine"] and "| yes | done, unchanged | unchanged |" in rows["fl-fine"]
    mtime = (reports / "fleet.html").stat().st_mtime_ns
    run_playbook(fleet_run["cluster"], "secure-cluster.yml", "-i", str(fleet_run["inventory"]),
                 "-e", fleet_run["extra"], "--limit", "fl-fine")
    assert (reports / "fleet.html").stat().st_mtime_ns == mtime  # reads the same: not written again


def test_the_audit_writes_the_fleet_page_too_and_fails_only_the_unreachable_cluster(fleet_run, tmp_path):
    inventory = yaml.safe_load(fleet_run["inventory"].read_text())
    for host in inventory["all"]["hosts"].values():
        host["exposure_report_dir"] = str(tmp_path)
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    mark = fleet_run["cluster"].audit_mark()
    result = run_playbook(fleet_run["cluster"], "playbooks/audit.yml", "-i", str(tmp_path / "inventory.yml"),
                          check=False)
    assert result.returncode == 2 and fleet_run["cluster"].writes_since(mark) == []
    rows = md_rows(tmp_path / "fleet.md")
    assert list(rows) == ["fl-fine", "fl-drift", "fl-down"]
    assert rows["fl-fine"].startswith("| `fl-fine` | yes | done |") and "[before](./fl-fine-before.html)" \
        in rows["fl-fine"]
    assert "| no | not reached: cannot reach the Kubernetes API server" in rows["fl-down"]
    assert "# Fleet: audit" in (tmp_path / "fleet.md").read_text()


def test_ansible_runner_hands_the_fleet_summary_to_awx_through_set_stats(fleet_run, tmp_path, monkeypatch):
    """As AWX runs a job template: a private data dir, the inventory and the project; the stats event carries
    secure_cluster_fleet."""
    import ansible_runner
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(fleet_run["inventory"].read_text())
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    result = ansible_runner.run(private_data_dir=str(tmp_path), project_dir=str(REPO), playbook="secure-cluster.yml",
                                extravars=json.loads(fleet_run["extra"]), ident="fleet", quiet=True,
                                envvars={"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")})
    assert result.status == "failed" and result.rc == 2
    events = [json.loads(p.read_text()) for p in (tmp_path / "artifacts" / "fleet" / "job_events").glob("*.json")]
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1
    fleet = stats[0]["event_data"]["artifact_data"]["secure_cluster_fleet"]
    assert fleet["totals"]["clusters"] == 3 and fleet["totals"]["done"] == 2 and fleet["totals"]["not_reached"] == 1
    assert fleet["hosts"]["fl-fine"]["status"] == "done" and fleet["hosts"]["fl-fine"]["changed_steps"] == []
    assert fleet["hosts"]["fl-drift"]["status"] == "done" and fleet["hosts"]["fl-drift"]["changed_steps"] == []
    assert fleet["hosts"]["fl-down"]["status"] == "not reached"
    assert "cannot reach the Kubernetes API server" in fleet["hosts"]["fl-down"]["message"]
    assert fleet["pages"]["html"].endswith("/reports/fleet.html")


def test_the_nightly_audit_names_the_drift_and_its_gate_fails_the_drifted_cluster_only(fleet_run, tmp_path, monkeypatch):
    """Someone removes an edge taint and deletes the lockdown policy of one cluster; the audit job (as AWX runs it,
    with secure_cluster_fail_on: drift) fails that cluster, writes nothing, and says so on both pages and in the
    set_stats summary."""
    import ansible_runner
    node = drift_by_hand(fleet_run["drifting"])
    marks = {c: fleet_run[c].audit_mark() for c in ("cluster", "drifting")}
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(fleet_run["inventory"].read_text())
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    result = ansible_runner.run(private_data_dir=str(tmp_path), project_dir=str(REPO), playbook="playbooks/audit.yml",
                                extravars={"secure_cluster_fail_on": "drift"}, ident="nightly", quiet=True,
                                envvars={"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")})
    assert result.status == "failed" and result.rc == 2
    assert all(fleet_run[c].writes_since(mark) == [] for c, mark in marks.items())
    events = [json.loads(p.read_text()) for p in (tmp_path / "artifacts" / "nightly" / "job_events").glob("*.json")]
    fleet = next(e for e in events if e.get("event") == "playbook_on_stats")["event_data"]["artifact_data"][
        "secure_cluster_fleet"]
    hosts = fleet["hosts"]
    assert fleet["kind"] == "audit" and fleet["totals"]["failed"] == 1 and fleet["totals"]["not_reached"] == 1
    assert hosts["fl-fine"]["status"] == "done" and hosts["fl-fine"]["drift"] == 0
    assert hosts["fl-drift"]["status"] == "failed" and hosts["fl-drift"]["drift"] >= 2  # the taint, the NodePorts
    assert hosts["fl-drift"]["message"].startswith("exposure gate (secure_cluster_fail_on=drift): ")
    assert f"medium EdgeNode {node}" in hosts["fl-drift"]["message"]
    assert hosts["fl-down"]["status"] == "not reached"

    reports = fleet_run["workdir"] / "reports"
    rows = md_rows(reports / "fleet.md")
    assert list(rows) == ["fl-fine", "fl-drift", "fl-down"]
    assert md_cell(reports / "fleet.md", "fl-drift", "drift") == str(hosts["fl-drift"]["drift"])
    assert "exposure gate" in md_cell(reports / "fleet.md", "fl-drift", "status")
    assert md_cell(reports / "fleet.md", "fl-fine", "drift") == "-"
    drifted = (reports / "fl-drift-before.md").read_text().split("## Reappeared since the last report")[1]
    assert f"| medium | EdgeNode | `{node}` | edge node without taint dedicated=edge:NoExecute" in drifted
    assert "| high | NodePort | `shop/" in drifted.split("## Network")[0]


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct colours of a sample of rows) of an 8-bit RGB or RGBA PNG, read with zlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            idat += body
        else:
            chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    colours, previous = set(), bytearray(stride)
    for y in range(height):
        filter_type, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filters (none, sub, up, average, paeth)
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        if y % 8 == 0:
            colours.update(bytes(line[x:x + 3]) for x in range(0, stride, channels))
        previous = line
    return width, height, len(colours)


def chromium(*args: str) -> subprocess.CompletedProcess:
    if os.environ.get("SECURE_CLUSTER_NO_BROWSER"):
        pytest.skip("SECURE_CLUSTER_NO_BROWSER is set: the fleet page is not rendered in Chromium")
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_chromium_renders_the_fleet_page_with_every_row(fleet_run, tmp_path):
    page = fleet_run["workdir"] / "reports" / "fleet.html"
    if 'id="host-fl-down"' not in page.read_text():  # the --limit re-run rewrote it with one row
        run_playbook(fleet_run["cluster"], "secure-cluster.yml", "-i", str(fleet_run["inventory"]),
                     "-e", fleet_run["extra"], check=False)
    shot = tmp_path / "fleet.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1400,500", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    width, height, colours = png_size_and_colours(shot)
    assert (width, height) == (1400, 500)
    assert colours > 8, "the screenshot is (nearly) one colour: the page did not render"
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert 'id="host-fl-fine"' in dom and 'id="host-fl-down"' in dom and 'id="host-fl-drift"' in dom
    assert "not reached" in dom and "<svg" in dom
    if os.environ.get("SECURE_CLUSTER_KEEP_SCREENSHOT"):
        Path(os.environ["SECURE_CLUSTER_KEEP_SCREENSHOT"]).write_bytes(shot.read_bytes())


# An inventory host name a kubeconfig context or a careless inventory could give: a script URL, HTML, a table break.
HOSTILE = "javascript:alert(1)<img src=x onerror=alert(2)>|x"


def test_a_rollback_that_fails_in_a_step_names_that_step_on_the_fleet_page(fleet_run, tmp_path):
    """An identity that may read everything but delete nothing: the rollback fails at its first delete, the NodePort
    lockdown policy, and says so where it failed, on the page and in the recap."""
    from kubernetes import client
    cluster = fleet_run["cluster"]
    rbac = client.RbacAuthorizationV1Api(cluster.client())
    user = unique("fl-reader")
    rbac.create_cluster_role({"metadata": {"name": user},
                              "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": user}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    inventory = yaml.safe_load(fleet_run["inventory"].read_text())
    host = {**inventory["all"]["hosts"]["fl-fine"], "exposure_report_dir": str(tmp_path),
            "secure_cluster_kubeconfig": user_kubeconfig(cluster, user, tmp_path)}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": {"fl-fine": host}}}))
    result = run_playbook(cluster, "playbooks/rollback.yml", "-i", str(tmp_path / "inventory.yml"), check=False)
    assert result.returncode == 2, result.stdout[-3000:]
    assert re.search(r"fl-fine\s+:.*failed=1.*rescued=1", result.stdout.split("PLAY RECAP")[1]), result.stdout[-2000:]
    assert "nodeport_lockdown failed: " in result.stdout
    assert md_cell(tmp_path / "fleet.md", "fl-fine", "status").startswith("failed: nodeport_lockdown: ")
    assert md_cell(tmp_path / "fleet.md", "fl-fine", "nodeport_lockdown") == "failed"
    assert md_cell(tmp_path / "fleet.md", "fl-fine", "edge_nodes") == "not run"  # undone last: never reached
    assert "# Fleet: rollback run" in (tmp_path / "fleet.md").read_text()


def test_the_rollback_writes_the_fleet_page_and_hands_set_stats_on_with_hostile_host_names_as_text(
        fleet_run, tmp_path, monkeypatch):
    """The rollback as AWX runs it, with the fine cluster under a hostile inventory name: every cluster a row, the
    summary in set_stats, and the name shown as text and linked relative and quoted, in Chromium too."""
    import ansible_runner
    inventory = yaml.safe_load(fleet_run["inventory"].read_text())
    hosts = inventory["all"]["hosts"]
    for host in hosts.values():
        host["exposure_report_dir"] = str(tmp_path / "reports")
    hosts = {HOSTILE if name == "fl-fine" else name: host for name, host in hosts.items()}
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    result = ansible_runner.run(private_data_dir=str(tmp_path), project_dir=str(REPO), playbook="playbooks/rollback.yml",
                                extravars=json.loads(fleet_run["extra"]), ident="rollback", quiet=True,
                                envvars={"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")})
    assert result.status == "failed" and result.rc == 2  # fl-down only
    events = [json.loads(p.read_text()) for p in (tmp_path / "artifacts" / "rollback" / "job_events").glob("*.json")]
    fleet = next(e for e in events if e.get("event") == "playbook_on_stats")["event_data"]["artifact_data"][
        "secure_cluster_fleet"]
    assert fleet["kind"] == "rollback" and fleet["totals"]["clusters"] == 3 and fleet["totals"]["done"] == 2
    assert fleet["totals"]["not_reached"] == 1 and fleet["hosts"]["fl-down"]["status"] == "not reached"
    assert fleet["hosts"][HOSTILE]["status"] == "done"
    assert {"edge_nodes", "nodeport_lockdown"} <= set(fleet["hosts"][HOSTILE]["changed_steps"])
    assert "edge_nodes" in fleet["hosts"]["fl-drift"]["changed_steps"]

    reports = tmp_path / "reports"
    md = (reports / "fleet.md").read_text()
    assert "# Fleet: rollback run" in md and "<img" not in md
    row = next(line for line in md.splitlines() if line.startswith("| javascript:"))
    assert row.startswith("| javascript:alert(1)&lt;img src=x onerror=alert(2)&gt;\\|x | yes | done, changed |")
    assert "[after](./javascript%3Aalert%281%29%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3E%7Cx-after.html)" in row
    assert (reports / f"{HOSTILE}-after.html").exists()
    dom = chromium("--dump-dom", (reports / "fleet.html").as_uri()).stdout
    assert ">javascript:alert(1)&lt;img src=x onerror=alert(2)&gt;|x</td>" in dom  # the name, as text

    class Elements(html.parser.HTMLParser):
        tags: list = []
        hrefs: list = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.hrefs += [v for k, v in attrs if k == "href"]
    elements = Elements()
    elements.feed(dom)  # what Chromium built: no element from the name, every link relative to the page
    assert "img" not in elements.tags and "script" not in elements.tags
    assert elements.hrefs and all(h.startswith("./") for h in elements.hrefs), elements.hrefs
