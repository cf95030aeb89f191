"""Drift and the gate on a real IKS-profile cluster: the pattern, then someone removes an edge taint and deletes the
NodePort lockdown by hand, and the nightly audit names both and, with secure_cluster_fail_on, fails the host."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import REPO, drift_by_hand, module_cluster, run_playbook

INVENTORY = str(REPO / "playbooks" / "inventory" / "local.yml")
HOST = "local-demo"


cluster = module_cluster("dr-drift")


@pytest.fixture(scope="module")
def reports(cluster, tmp_path_factory):
    """The reports of one run of the pattern (its before audit is the cluster's first)."""
    path = tmp_path_factory.mktemp("reports")
    run_playbook(cluster, "secure-cluster.yml", "-i", INVENTORY, "-e", f"exposure_report_dir={path}")
    return path


@pytest.fixture(scope="module")
def pre_drift(tmp_path_factory):
    """Copies of the reports as they were before the drift (their state the pattern run's), one per later run."""
    return tmp_path_factory.mktemp("pre-drift")


def state(reports) -> list[dict]:
    return json.loads((reports / f"{HOST}.last.json").read_text())["findings"]


def audit(cluster, reports, *extra):
    mark = cluster.audit_mark()
    result = run_playbook(cluster, "playbooks/audit.yml", "-i", INVENTORY, "-e", f"exposure_report_dir={reports}",
                          *extra, check=False)
    return result, cluster.writes_since(mark)


def test_the_first_audit_has_nothing_to_compare_with_and_the_run_keeps_the_state(reports):
    before = (reports / f"{HOST}-before.md").read_text()
    assert "## Reappeared since the last report\n\nFirst audit of this cluster: nothing to compare with." in before
    assert "Reappeared" not in (reports / f"{HOST}-after.md").read_text()
    assert oct((reports / f"{HOST}.last.json").stat().st_mode & 0o777) == "0o644"
    assert all(f["severity"] != "info" for f in state(reports))


def test_a_truncated_state_is_named_in_a_warning_and_the_audit_rebuilds_it(cluster, reports):
    """A run killed while writing the state (or a full disk) left half of it: the next audit warns, passes and
    writes a whole state again."""
    path = reports / f"{HOST}.last.json"
    whole = path.read_text()
    path.write_text(whole[:len(whole) // 2])
    result, writes = audit(cluster, reports, "-e", "secure_cluster_fail_on=drift")
    assert writes == [] and result.returncode == 0, result.stdout[-3000:]
    out = " ".join(result.stderr.split())  # warnings go to stderr, wrapped when long
    assert f"[WARNING]: the cluster's last state {path} is unreadable (not JSON: " in out, result.stderr[-3000:]
    assert "it is rebuilt from this audit, which therefore names no drift" in out
    assert isinstance(state(reports), list)  # whole JSON again: the findings of this audit
    assert "The last state was unreadable, so nothing to compare with" in (reports / f"{HOST}-before.md").read_text()
    assert [p.name for p in reports.iterdir() if p.name.endswith(".tmp")] == []


def test_the_high_gate_on_the_secured_cluster_fails_exactly_when_a_high_finding_is_open(cluster, reports):
    high = [f for f in state(reports) if f["severity"] == "high"]
    result, writes = audit(cluster, reports, "-e", "secure_cluster_fail_on=high")
    assert writes == []
    assert result.returncode == (2 if high else 0), result.stdout[-3000:]
    assert ("exposure gate (secure_cluster_fail_on=high)" in result.stdout) == bool(high)
    assert "Nothing reappeared since the last report." in (reports / f"{HOST}-before.md").read_text()


def test_the_audit_names_the_drift_and_the_drift_gate_fails_the_host_without_writing(cluster, reports, pre_drift):
    node = drift_by_hand(cluster)
    untouched = shutil.copytree(reports, pre_drift / "audit")
    shutil.copytree(reports, pre_drift / "pattern")

    gated, writes = audit(cluster, reports, "-e", "secure_cluster_fail_on=drift")
    assert writes == []
    assert gated.returncode == 2, gated.stdout[-3000:]
    message = gated.stdout[gated.stdout.index("exposure gate (secure_cluster_fail_on=drift): "):]
    assert "reappeared since the last report: " in message
    assert f"medium EdgeNode {node}" in message and "high NodePort shop/" in message
    page = (reports / f"{HOST}-before.md").read_text()
    part = page.split("## Reappeared since the last report")[1].split("## Network")[0]
    assert f"| medium | EdgeNode | `{node}` | edge node without taint dedicated=edge:NoExecute" in part
    assert "| high | NodePort | `shop/" in part
    html = (reports / f"{HOST}-before.html").read_text()
    assert f"<code>{node}</code>" in html.split('<h2 id="drift">')[1].split("<h2>Network")[0]
    # The state now is this audit's: what drifted is named once.
    assert any(f["kind"] == "EdgeNode" and f["object"] == node for f in state(reports))

    # Without the gate, the same audit (against the state of before the drift) names it too and passes.
    plain, writes = audit(cluster, untouched)
    assert writes == [] and plain.returncode == 0, plain.stdout[-3000:]
    assert "exposure gate" not in plain.stdout
    assert f"| medium | EdgeNode | `{node}` |" in (untouched / f"{HOST}-before.md").read_text().split("## Network")[0]
    assert ", drift " in plain.stdout


def test_the_pattern_repairs_the_drift_and_its_after_audit_fails_with_what_the_before_audit_found(cluster, pre_drift):
    """The before audit does not gate (the steps must run); the after audit does, with the before audit's drift."""
    untouched = pre_drift / "pattern"  # the state of before the drift; the cluster as the previous test left it
    result = run_playbook(cluster, "secure-cluster.yml", "-i", INVENTORY, "-e", f"exposure_report_dir={untouched}",
                          "-e", "secure_cluster_fail_on=drift", check=False)
    assert result.returncode == 2, result.stdout[-3000:]
    # The before audit does not gate: the message first appears after the after audit (then again where the
    # playbook fails the host, after the fleet page).
    gate, out = "exposure gate (secure_cluster_fail_on=drift)", result.stdout
    after_audit = out.rindex("exposure_report : Audit what the cluster exposes and write the report]")
    assert gate not in out[:after_audit] and gate in out[after_audit:]
    assert "medium EdgeNode " in result.stdout and "high NodePort shop/" in result.stdout
    after = (untouched / f"{HOST}-after.md").read_text()
    assert "| EdgeNode |" not in after and "| high | NodePort |" not in after
    assert not [f for f in state(untouched) if f["kind"] == "EdgeNode" or f["severity"] == "high"]
