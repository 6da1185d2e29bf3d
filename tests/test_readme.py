"""The README's commands, links and clone URL, extracted from the README so they cannot drift:
scripts exist, every `wyoming-verba` command and flag exists, and the quick start's check runs as
written against a real server process."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.process import ROOT, fake_edge_process, run_cli, server_process

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```[a-z]*\n(.*?)^```", README, re.M | re.S)
CLI = ".venv/bin/wyoming-verba"


def _block_lines() -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for block in BLOCKS
        for line in block.splitlines()
        if line.split("#", 1)[0].strip()
    ]


def _cli_commands() -> list[list[str]]:
    """Every `wyoming-verba …` command in code blocks and inline code, as argument lists."""
    spans = re.findall(r"`([^`\n]*wyoming-verba [^`\n]*)`", README) + _block_lines()
    commands = []
    for span in spans:
        if "wyoming-verba " not in span or "…" in span:
            continue
        text = span[span.index("wyoming-verba ") + len("wyoming-verba ") :]
        commands.append(shlex.split(text.replace("[", " ").replace("]", " ").replace("|", " ")))
    return commands


def test_readme_is_short_and_its_clone_url_is_the_manifests() -> None:
    assert len(README.splitlines()) <= 200
    manifest = json.loads((ROOT / "custom_components/verba/manifest.json").read_text())
    url, anchor = manifest["documentation"].split("#")
    assert f"git clone {url}\n" in README
    assert f"\n## {anchor.replace('-', ' ').title()}\n" in README  # the manifest's link lands
    assert "pip install wyoming-verba" not in README  # nothing is published


def test_scripts_and_links_exist() -> None:
    scripts = set(re.findall(r"\bscript/[a-z-]+", README))
    assert {"script/run", "script/test"} <= scripts
    for script in scripts:
        assert os.access(ROOT / script, os.X_OK), script
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target
    for page in (ROOT / "docs").glob("*.md"):
        prose = re.sub(r"`[^`\n]*`", "", page.read_text())  # examples in code are not links
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", prose):
            assert (page.parent / target).exists(), (page.name, target)
    for line in _block_lines():
        if line.startswith("cp "):
            assert (ROOT / shlex.split(line)[1]).is_file(), line
        if line.startswith("docker compose -f"):
            assert (ROOT / shlex.split(line)[3]).is_file(), line


def test_every_command_and_flag_exists() -> None:
    commands = _cli_commands()
    assert len(commands) >= 10
    helps: dict[str, str] = {}
    for args in commands:
        name = args[0]
        if name not in helps:
            result = run_cli(name, "--help")
            assert result.returncode == 0, (args, result.stderr)
            helps[name] = result.stdout
        for flag in (arg for arg in args if arg.startswith("-")):
            assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", helps[name]), (args, flag)


def test_quick_start_check_runs_as_written(tmp_path: Path) -> None:
    checks = [line for line in _block_lines() if line.startswith(CLI)]
    assert [shlex.split(line)[1] for line in checks] == ["health", "say", "voices"]
    settings = {
        "server": {"uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": str(tmp_path)},
    }
    with fake_edge_process() as edge_url:
        settings["edge"] = {"endpoint": edge_url}
        with server_process(tmp_path, settings) as (_process, port, _log):
            uri = f"tcp://127.0.0.1:{port}"
            results = [run_in(tmp_path, [*shlex.split(line)[1:], "--uri", uri]) for line in checks]
    for line, result in zip(checks, results, strict=True):
        assert result.returncode == 0, (line, result.stderr)
    assert results[0].stdout.startswith("healthy:")
    assert (tmp_path / "hello.wav").stat().st_size > 1000
    assert "edge:en-US-AriaNeural" in results[2].stdout


def run_in(folder: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_verba", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
