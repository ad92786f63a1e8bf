"""docs/cli.md's command reference is generated from the parsers (tools/cli_reference.py) and must
equal what the parsers say today, so that the page cannot drift from `ifan COMMAND --help`."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_the_parsers():
    tool = _tool()
    page = tool.PAGE.read_text(encoding="utf-8")
    assert tool.MARKER in page, f"docs/cli.md lost its marker line: {tool.MARKER}"
    assert page == tool.page_with(tool.render(), page), (
        "docs/cli.md's command reference differs from the parsers; regenerate it with: "
        "python tools/cli_reference.py")


def test_cli_reference_lists_every_command_and_option():
    """The generator leaves nothing out: every subcommand has its section and every visible flag
    of it appears in that section."""
    from ifan_trt.cli import build_parser

    tool = _tool()
    generated = tool.render()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    sections = dict(zip(sub.choices, generated.split("\n### ifan ")[1:]))
    assert list(sections) == list(sub.choices)
    for name, parser in sub.choices.items():
        assert sections[name].startswith(f"{name}\n"), name
        for action in parser._actions:
            if action.help is argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert f"`{flag}" in sections[name], f"ifan {name}: {flag} missing from docs/cli.md"
