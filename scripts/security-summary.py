#!/usr/bin/env python3
"""One line for each of the security checks of scripts/test, from their JSON reports.

    python scripts/security-summary.py bandit REPORT.json
    python scripts/security-summary.py pip-audit REPORT.json EXIT_STATUS

bandit: the count of findings by severity (the report was made with -lll, so it lists only
the high ones, which are printed in full; its totals count every severity). Exit 1 if any
is high.

pip-audit: how many locked packages were audited and the known vulnerabilities found, each
with the versions that fix it. Exit 1 if there is any. When pip-audit could not audit (it
wrote no report: no access to PyPI's or OSV's vulnerability data, or a package it could not
find), say so loudly; that fails only when HEADWAY_REQUIRE_AUDIT=1, since the availability
of a service elsewhere says nothing about the code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def bandit(report: Path) -> int:
    data = json.loads(report.read_text(encoding="utf-8"))
    totals = data["metrics"]["_totals"]
    for issue in data["results"]:
        print(
            f"{issue['filename']}:{issue['line_number']}: {issue['test_id']} "
            f"[{issue['issue_severity'].lower()} severity, {issue['issue_confidence'].lower()} "
            f"confidence] {issue['issue_text']}"
        )
    high = int(totals["SEVERITY.HIGH"])
    print(
        f"bandit: {high} high, {int(totals['SEVERITY.MEDIUM'])} medium, "
        f"{int(totals['SEVERITY.LOW'])} low severity findings in {int(totals['loc']):,} lines "
        f"of src ({int(totals['nosec'])} marked nosec); high ones fail the build"
    )
    return 1 if high else 0


def pip_audit(report: Path, status: int) -> int:
    text = report.read_text(encoding="utf-8").strip() if report.exists() else ""
    if not text:
        print(
            f"!! pip-audit: the locked dependencies were NOT audited (exit status {status}, "
            "no report: see its error above; it needs PyPI's JSON API or OSV)",
            file=sys.stderr,
        )
        return 1 if os.environ.get("HEADWAY_REQUIRE_AUDIT") == "1" else 0
    data = json.loads(text)
    dependencies = data.get("dependencies", [])
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    found = [(dep, vuln) for dep in dependencies for vuln in dep.get("vulns", [])]
    for dep, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
        aliases = ", ".join(vuln.get("aliases", []))
        print(
            f"{dep['name']} {dep['version']}: {vuln['id']}"
            f"{f' ({aliases})' if aliases else ''}, fixed in {fixes}"
        )
    for dep in skipped:
        print(f"{dep['name']}: not audited ({dep['skip_reason']})")
    packages = {dep["name"] for dep, _ in found}
    print(
        f"pip-audit: {len(dependencies) - len(skipped)} locked packages audited, "
        f"{len(found)} known {'vulnerability' if len(found) == 1 else 'vulnerabilities'}"
        + (f" (in {', '.join(sorted(packages))})" if packages else "")
        + (f", {len(skipped)} not audited" if skipped else "")
    )
    return 1 if found or status else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "bandit":
        return bandit(Path(argv[1]))
    if len(argv) >= 3 and argv[0] == "pip-audit":
        return pip_audit(Path(argv[1]), int(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
