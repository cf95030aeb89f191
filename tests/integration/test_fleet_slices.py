"""One fleet page across AWX job slices (issue 31): six clusters (five real small ones and one whose API server
is a closed port), audited as three slices the way AWX runs a sliced job template (each slice its own
ansible-runner private data dir, inventory and report directory; hosts by name, every third), the slices'
artifacts merged as AWX merges a workflow's (a top-level dict update, in the order the slices finished), then
playbooks/fleet_page.yml given them as extra vars, as the workflow's next job. Its page names every cluster once
with its status, and is the page of the same records of one unsliced run; so is the page of the slices' record
files gathered in one directory."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, closed_port, cluster_down, cluster_up, unique

SLICES = 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Six inventory hosts: five real 3-worker clusters and a copy of the first's kubeconfig on a closed port."""
    names = [unique(f"sl{i}") for i in range(5)]
    clusters = []
    try:
        for name in names:
            clusters.append(cluster_up(name, "--nodes", "3", "--profile", "generic"))
        workdir = tmp_path_factory.mktemp("slices")
        config = yaml.safe_load(Path(clusters[0].kubeconfig).read_text())
        for entry in config["clusters"]:
            entry["cluster"]["server"] = f"https://127.0.0.1:{closed_port()}"
        (workdir / "down.kubeconfig").write_text(yaml.safe_dump(config))
        common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        hosts = {f"cluster-{i}": {**common, "secure_cluster_kubeconfig": c.kubeconfig} for i, c in enumerate(clusters)}
        hosts["cluster-down"] = {**common, "secure_cluster_kubeconfig": str(workdir / "down.kubeconfig")}
        yield {"hosts": hosts, "workdir": workdir}
    finally:
        for name in names:
            cluster_down(name)


def runner(workdir: Path, ident: str, hosts: dict, playbook: str, extravars: dict, monkeypatch) -> dict:
    """One job as AWX runs it: its own private data dir and inventory; returns its status, rc and artifacts (the
    artifact_data of its stats event, which AWX keeps as the job's artifacts)."""
    import ansible_runner
    private = workdir / ident
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    result = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO), playbook=playbook,
                                extravars=extravars, ident=ident, quiet=True,
                                envvars={"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build")})
    events = [json.loads(p.read_text()) for p in (private / "artifacts" / ident / "job_events").glob("*.json")]
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, ident
    return {"status": result.status, "rc": result.rc, "artifacts": stats[0]["event_data"].get("artifact_data") or {}}


def page_rows(path: Path) -> dict:
    """host: status cell of a fleet page's Markdown (every row once: a second row of a host fails)."""
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| cluster |"))
    names = [cell.strip() for cell in header.strip("|").split(" | ")]
    rows = {}
    for line in lines:
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            host = cells[0].strip("`")
            assert host not in rows, f"{host} has two rows"
            rows[host] = cells[names.index("status")]
    return rows


def test_the_slices_artifacts_merged_as_awx_merges_them_make_the_page_of_the_whole_fleet(fleet, monkeypatch):
    workdir, hosts = fleet["workdir"], fleet["hosts"]
    ordered = sorted(hosts)  # AWX orders an inventory's hosts by name, then slice n takes every SLICES-th from n
    merged, slice_dirs = {}, []
    for number in range(1, SLICES + 1):
        mine = {h: hosts[h] for h in ordered[number - 1::SLICES]}
        reports = workdir / f"reports-slice{number}"
        job = runner(workdir, f"slice{number}", mine, "playbooks/audit.yml", {"exposure_report_dir": str(reports)},
                     monkeypatch)
        # The slice with the unreachable cluster fails (rc 2), the others pass; each hands on its records only.
        assert (job["status"], job["rc"]) == (("failed", 2) if "cluster-down" in mine else ("successful", 0))
        records = {k for k in job["artifacts"] if k.startswith("secure_cluster_fleet_host_")}
        assert len(records) == len(mine)
        merged.update(job["artifacts"])  # AWX: artifacts.update(job.artifacts), slice by slice
        slice_dirs.append(reports)
    # One key per slice would keep the last slice's summary only: it does, the per-cluster records add up.
    assert merged["secure_cluster_fleet"]["totals"]["clusters"] == len(ordered[SLICES - 1::SLICES])

    pages = workdir / "fleet-page"
    follow_up = runner(workdir, "fleet-page", {}, "playbooks/fleet_page.yml",
                       {**merged, "exposure_report_dir": str(pages)}, monkeypatch)
    assert (follow_up["status"], follow_up["rc"]) == ("successful", 0)
    rows = page_rows(pages / "fleet.md")
    assert sorted(rows) == ordered
    assert rows["cluster-down"].startswith("not reached: cannot reach the Kubernetes API server")
    assert all(rows[h] == "done" for h in ordered if h != "cluster-down")
    summary = follow_up["artifacts"]["secure_cluster_fleet"]
    assert summary["totals"]["clusters"] == 6 and summary["totals"]["done"] == 5
    assert summary["totals"]["not_reached"] == 1 and summary["hosts"]["cluster-down"]["status"] == "not reached"

    # The same fleet in one unsliced run: the same statuses on its own page, and the same page of its records.
    whole_reports = workdir / "reports-whole"
    whole = runner(workdir, "whole", hosts, "playbooks/audit.yml", {"exposure_report_dir": str(whole_reports)},
                   monkeypatch)
    assert (whole["status"], whole["rc"]) == ("failed", 2)
    assert page_rows(whole_reports / "fleet.md") == rows
    whole_page = workdir / "fleet-page-whole"
    runner(workdir, "fleet-page-whole", {}, "playbooks/fleet_page.yml",
           {**whole["artifacts"], "exposure_report_dir": str(whole_page)}, monkeypatch)
    assert (whole_page / "fleet.md").read_text() == (pages / "fleet.md").read_text()
    assert (whole_page / "fleet.html").read_text() == (pages / "fleet.html").read_text()

    # The slices' record files gathered in one directory (as from several execution nodes): the same page.
    gathered = workdir / "gathered"
    gathered.mkdir()
    for reports in slice_dirs:
        for record in reports.glob("*.fleet.json"):
            shutil.copy(record, gathered)
    from_files = workdir / "fleet-page-files"
    runner(workdir, "fleet-page-files", {}, "playbooks/fleet_page.yml",
           {"secure_cluster_fleet_from": str(gathered), "exposure_report_dir": str(from_files)}, monkeypatch)
    assert (from_files / "fleet.html").read_text() == (pages / "fleet.html").read_text()
