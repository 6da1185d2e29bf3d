"""What travels to the lent GPU machine and the exact `run` call that starts the benchmark there.

The machine has no network and its own Python 3.12 with torch, transformers and most of what the
benchmark imports; of the benchmark's import path it lacks only `av` (imported at module level by
the engine's audio and prompt modules) and `voluptuous` (the config schema). Their cp312
manylinux x86-64 wheels go into one ignored folder, installed there offline beside the machine's
own packages (`--target` + PYTHONPATH), as the rehearsal does on the CPU.

  python -m benchmarks.device.carry prepare   # download the wheels, check sizes, print the call
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CARRY = ".bench-device"  # ignored by .gitignore
WHEELS = f"{CARRY}/wheels"
MISSING = ("av==18.1.0", "voluptuous==0.16.0")  # what the machine lacks on the import path
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
LIMIT_MIB = 64.0  # the working tree plus carried paths
COMMAND_LIMIT = 2000
BUDGET_S = 420  # the benchmark's own hard limit (7 min) ...
TIMEOUT_S = 480  # ... inside the command's: start, install and writing out fit in the rest
SITE = "/tmp/verba-site"


BENCH_ARGS = f"--size csm-1b --device cuda --budget-s {BUDGET_S}"


def command(bench_args: str = BENCH_ARGS, python: str = "python3") -> str:
    """The shell command for the device tool; the rehearsal runs it with another python and
    the tiny model on the CPU."""
    return (
        "set -o pipefail; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1; "
        f"{python} -m pip install -q --no-index --no-deps --no-compile --no-cache-dir "
        f"--upgrade --target {SITE} {WHEELS}/*.whl 2>&1 | tee $OUT/log || exit 1; "
        f"export PYTHONPATH={SITE}; "
        f"{python} -m benchmarks.device.bench {bench_args} --out $OUT 2>&1 | tee -a $OUT/log"
    )


def run_call() -> dict[str, Any]:
    """The arguments of the device tool's `run`."""
    return {"command": command(), "carry": [CARRY], "timeout_s": TIMEOUT_S}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def tree_bytes(root: Path = ROOT) -> int:
    """What travels without `carry`: tracked and untracked-not-ignored files (shared/ too)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    files = (root / name.decode() for name in listed if name)
    return sum(f.stat().st_size for f in files if f.is_file())


def sizes(root: Path = ROOT) -> dict[str, float]:
    tree, carried = tree_bytes(root), folder_bytes(root / CARRY)
    return {
        "tree_mib": tree / 2**20,
        "carried_mib": carried / 2**20,
        "total_mib": (tree + carried) / 2**20,
        "limit_mib": LIMIT_MIB,
    }


def download(root: Path = ROOT) -> None:
    """The wheels of MISSING for the machine's Python 3.12 (x86-64), one version each."""
    target = root / WHEELS
    target.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(target),
         *MISSING],
        check=True,
    )  # fmt: skip


def check(measured: dict[str, float], call: dict[str, Any]) -> None:
    """Refuse what the device tool would refuse."""
    if measured["total_mib"] > LIMIT_MIB:
        raise SystemExit(f"carried {measured['total_mib']:.1f} MiB > {LIMIT_MIB:.0f} MiB")
    if len(call["command"]) > COMMAND_LIMIT:
        raise SystemExit(f"command {len(call['command'])} > {COMMAND_LIMIT} characters")
    if not call["timeout_s"] <= 600:
        raise SystemExit("timeout_s is at most 600")


def prepare(root: Path = ROOT) -> dict[str, Any]:
    download(root)
    measured, call = sizes(root), run_call()
    check(measured, call)
    return {"run": call, "command_chars": len(call["command"]), **measured}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("prepare", "command"))
    parser.add_argument("--python", default="python3")
    parser.add_argument("--bench-args", default=BENCH_ARGS)
    args = parser.parse_args()
    if args.what == "command":
        print(command(args.bench_args, args.python))
        return
    result = prepare()
    print(f"carried {result['carried_mib']:.1f} MiB + tree {result['tree_mib']:.1f} MiB = "
          f"{result['total_mib']:.1f} MiB of {LIMIT_MIB:.0f}; command {result['command_chars']} "
          "characters (of 2000). The device tool's run call:")  # fmt: skip
    print(json.dumps(result["run"], indent=2))


if __name__ == "__main__":
    main()
