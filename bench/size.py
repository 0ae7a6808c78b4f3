"""Size of Headway's wheel and of the environment it installs into (issue 9).

    uv run python bench/size.py            # ~1 min -> bench/results/size.json

1. `uv build --wheel` into a temporary folder: the wheel's size, its number of files and
   its largest files.
2. A fresh virtual environment (`uv venv`) with only the wheel and its runtime
   dependencies (`uv pip install`), the versions pinned to uv.lock's (`uv export --no-dev`
   as constraints), offline from uv's cache when it can (online otherwise): the size of
   its site-packages and the 15 largest distributions in it.
3. The same with the optional extra `spark` (PySpark, for the Spark backend).

For comparison, the development environment (.venv: the runtime dependencies and the dev
group) is measured the same way. Sizes are what the files take on disk (du's figure:
allocated blocks) and their apparent size (the bytes in them). MB is 10^6 bytes, MiB 2^20.

Exit status: 0 when everything was built and installed, 2 when a step failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MB = 1_000_000
MIB = 1024 * 1024
TOP = 15

# Run by the measured environment's own Python (standard library only): every
# distribution's files from its RECORD, with their sizes on disk and apparent sizes.
CENSUS = textwrap.dedent(
    """
    import json, os, sys, sysconfig
    from importlib import metadata
    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    owned = {}
    dists = []
    for dist in metadata.distributions(path=[site]):
        disk = apparent = count = 0
        for file in dist.files or []:
            path = os.path.realpath(file.locate())
            if path in owned or not os.path.isfile(path):
                continue
            owned[path] = dist.metadata["Name"]
            info = os.lstat(path)
            disk += info.st_blocks * 512
            apparent += info.st_size
            count += 1
        dists.append({"name": dist.metadata["Name"], "version": dist.version,
                      "disk_bytes": disk, "apparent_bytes": apparent, "files": count})
    disk = apparent = count = 0
    for folder, _, names in os.walk(site):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            disk += info.st_blocks * 512
            apparent += info.st_size
            count += 1
    print(json.dumps({"site_packages": site, "disk_bytes": disk, "apparent_bytes": apparent,
                      "files": count, "distributions": dists}))
    """
)


class Failed(Exception):
    pass


def run(command: list[str], **kwargs: Any) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise Failed(f"$ {' '.join(command)}\n{done.stderr[-3000:] or done.stdout[-3000:]}")
    return str(done.stdout)


def run_offline_first(command: list[str], **kwargs: Any) -> str:
    """Runs a uv command offline (from its cache); online only when that fails."""
    try:
        return run([*command, "--offline"], **kwargs)
    except Failed:
        return run(command, **kwargs)


def census(python: Path, weigh: bool = True, extras: tuple[str, ...] = ()) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run([str(python), "-c", CENSUS]))
    result["extras"] = list(extras)
    result["distributions"].sort(key=lambda d: d["disk_bytes"], reverse=True)
    # While the environment exists: its metadata tells what pulls in what.
    result["by_direct_dependency"] = weight_by_dependency(result) if weigh else []
    return result


def build_wheel(scratch: Path) -> Path:
    out = scratch / "dist"
    run_offline_first(["uv", "build", "--wheel", "--out-dir", str(out), str(ROOT)], cwd=ROOT)
    wheels = sorted(out.glob("headway-*.whl"))
    if len(wheels) != 1:
        raise Failed(f"expected one wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def wheel_facts(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
    largest = sorted(members, key=lambda m: m.file_size, reverse=True)[:10]
    top_folders: dict[str, int] = {}
    for member in members:
        parts = member.filename.split("/")
        folder = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
        top_folders[folder] = top_folders.get(folder, 0) + member.compress_size
    return {
        "file": wheel.name,
        "bytes": wheel.stat().st_size,
        "files": len(members),
        "uncompressed_bytes": sum(m.file_size for m in members),
        "largest_files": [{"path": m.filename, "bytes": m.file_size} for m in largest],
        "compressed_bytes_by_folder": dict(
            sorted(top_folders.items(), key=lambda item: item[1], reverse=True)[:10]
        ),
    }


def install(scratch: Path, wheel: Path, extra: str | None, python: str) -> dict[str, Any]:
    """A fresh venv with the wheel (and `extra`) and the locked versions of its deps."""
    name = f"venv-{extra or 'runtime'}"
    venv = scratch / name
    constraints = scratch / f"{name}-constraints.txt"
    export = ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"]
    if extra:
        export += ["--extra", extra]
    constraints.write_text(run(export, cwd=ROOT), encoding="utf-8")
    run(["uv", "venv", "--quiet", "--python", python, str(venv)], cwd=scratch)
    target = f"headway[{extra}] @ {wheel.as_uri()}" if extra else str(wheel)
    venv_python = venv / "bin" / "python"
    run_offline_first(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv_python),
            "--constraint",
            str(constraints),
            target,
        ],
        cwd=scratch,
    )
    # The installed environment must work: the command line starts and imports Django.
    run([str(venv / "bin" / "headway"), "--version"], cwd=scratch)
    return census(venv_python, extras=(extra,) if extra else ())


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def weight_by_dependency(env: dict[str, Any]) -> list[dict[str, Any]]:
    """Each direct dependency of Headway with the disk space it brings: its own and that of
    the distributions only it pulls in (shared ones are left out of every figure)."""
    sizes = {normalized(d["name"]): d["disk_bytes"] for d in env["distributions"]}
    installed = {
        normalized(dist.metadata["Name"]): dist
        for dist in metadata.distributions(path=[env["site_packages"]])
    }
    # Which extras of each distribution are asked for, from Headway's down (sqlglot[c]
    # pulls in sqlglotc; duckdb[all] is not asked for, so pandas is not duckdb's).
    asked: dict[str, set[str]] = {"headway": {"", *env.get("extras", [])}}
    edges: dict[str, set[str]] = {}
    changed = True
    while changed:
        changed = False
        for name, extras in list(asked.items()):
            children: set[str] = set()
            for text in installed[name].requires or []:
                requirement = Requirement(text)
                marker = requirement.marker
                if marker is not None and not any(marker.evaluate({"extra": e}) for e in extras):
                    continue
                child = normalized(requirement.name)
                if child not in installed:
                    continue
                children.add(child)
                wanted = {"", *requirement.extras}
                if not wanted <= asked.get(child, set()):
                    asked[child] = asked.get(child, set()) | wanted
                    changed = True
            edges[name] = children
    direct = sorted(edges.get("headway", set()))

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reached = {name: reach(name) for name in direct}
    rows = []
    for name in direct:
        others = set().union(*(reached[o] for o in direct if o != name))
        alone = reached[name] - others
        rows.append(
            {
                "dependency": name,
                "disk_bytes": sum(sizes[n] for n in alone),
                "disk_mb": round(sum(sizes[n] for n in alone) / MB, 1),
                "share": round(sum(sizes[n] for n in alone) / env["disk_bytes"], 3),
                "brings": sorted(alone - {name}, key=lambda n: -sizes[n]),
            }
        )
    return sorted(rows, key=lambda row: -row["disk_bytes"])


def summary(env: dict[str, Any]) -> dict[str, Any]:
    return {
        "disk_bytes": env["disk_bytes"],
        "disk_mb": round(env["disk_bytes"] / MB, 1),
        "apparent_bytes": env["apparent_bytes"],
        "files": env["files"],
        "distributions": len(env["distributions"]),
        "by_direct_dependency": env["by_direct_dependency"],
        "top": [
            {
                "name": d["name"],
                "version": d["version"],
                "disk_mb": round(d["disk_bytes"] / MB, 1),
                "share": round(d["disk_bytes"] / env["disk_bytes"], 3),
            }
            for d in env["distributions"][:TOP]
        ],
    }


def print_env(title: str, env: dict[str, Any]) -> None:
    print(
        f"\n{title}: {env['disk_bytes'] / MB:.1f} MB on disk ({env['disk_bytes'] / MIB:.1f} MiB),"
        f" {env['apparent_bytes'] / MB:.1f} MB apparent, {env['files']:,} files, "
        f"{len(env['distributions'])} distributions"
    )
    for d in env["distributions"][:TOP]:
        share = d["disk_bytes"] / env["disk_bytes"]
        print(f"  {d['name']:28} {d['version']:14} {d['disk_bytes'] / MB:8.1f} MB  {share:6.1%}")
    if env["by_direct_dependency"]:
        print("  by direct dependency, with what only it pulls in:")
    for row in env["by_direct_dependency"][:8]:
        brings = ", ".join(row["brings"][:6]) + (", ..." if len(row["brings"]) > 6 else "")
        print(
            f"    {row['dependency']:26} {row['disk_mb']:8.1f} MB  {row['share']:6.1%}"
            + (f"  (with {brings})" if brings else "")
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "size.json")
    ap.add_argument(
        "--python", default=sys.executable, help="the interpreter of the new environments"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="headway-size-") as folder:
        scratch = Path(folder)
        try:
            wheel = build_wheel(scratch)
            facts = wheel_facts(wheel)
            print(
                f"wheel {facts['file']}: {facts['bytes'] / MB:.2f} MB "
                f"({facts['bytes'] / MIB:.2f} MiB), {facts['files']} files, "
                f"{facts['uncompressed_bytes'] / MB:.1f} MB uncompressed"
            )
            runtime = install(scratch, wheel, None, args.python)
            spark = install(scratch, wheel, "spark", args.python)
        except Failed as error:
            print(f"failed:\n{error}", file=sys.stderr)
            return 2
    dev = census(Path(sys.executable), weigh=False)
    print_env("runtime environment (the wheel and its dependencies)", runtime)
    print_env("with the extra spark", spark)
    print_env("development environment (.venv, for comparison)", dev)
    spark_only = spark["disk_bytes"] - runtime["disk_bytes"]
    print(f"\nthe extra spark adds {spark_only / MB:.1f} MB")
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wheel": facts,
        "runtime": summary(runtime),
        "spark": summary(spark),
        "spark_adds_disk_bytes": spark_only,
        "development": summary(dev),
        "runtime_distributions": [
            {"name": d["name"], "version": d["version"], "disk_bytes": d["disk_bytes"]}
            for d in runtime["distributions"]
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
