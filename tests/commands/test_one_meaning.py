"""A flag name means one thing in every command: the same destination, type (with its bounds),
metavar, choices and default wherever it appears (tools/cli_flags.py walks the parsers); no option
has a second spelling, and argparse's abbreviations are off."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from ifan_trt.cli import main
from tests.helpers.cli import COMMAND_LINES as BASE

_spec = importlib.util.spec_from_file_location("cli_flags", Path(__file__).resolve().parents[2] / "tools" / "cli_flags.py")
cli_flags = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli_flags)


def test_no_flag_has_two_meanings():
    assert cli_flags.differences() == {}


def test_no_option_has_a_second_spelling():
    assert cli_flags.aliases() == []


def test_every_command_default_is_needed_and_stated():
    """A flag listed as defaulting by command appears in two commands with two defaults, and
    each help says what its default is."""
    found = cli_flags.options()
    for flag in cli_flags.COMMAND_DEFAULTS:
        actions = found[flag]
        assert len({repr(cli_flags._default(a)) for a in actions.values()}) > 1, flag
        for name, action in actions.items():
            assert "default" in (action.help or ""), (flag, name)


def _two_commands(first: dict, second: dict, flag: str = "--shape") -> dict[str, argparse.ArgumentParser]:
    parsers = {}
    for name, options in (("one", first), ("two", second)):
        p = argparse.ArgumentParser(prog=name)
        p.add_argument(flag, **options)
        parsers[name] = p
    return parsers


def test_the_walk_sees_a_flag_with_two_meanings(monkeypatch):
    # what `--shape` was before: HxW in one command, BxCxHxW in another
    monkeypatch.setattr(cli_flags, "commands", lambda: _two_commands({"metavar": "HxW"}, {"metavar": "BxCxHxW"}))
    assert set(cli_flags.differences()) == {"--shape"}
    from ifan_trt.commands.options import int_range

    # the same type name with other bounds is another type
    monkeypatch.setattr(cli_flags, "commands", lambda: _two_commands({"type": int_range(1, 8)}, {"type": int_range(0)}))
    assert set(cli_flags.differences()) == {"--shape"}
    monkeypatch.setattr(cli_flags, "commands", lambda: _two_commands({"type": int_range(1)}, {"type": int_range(1)}))
    assert cli_flags.differences() == {}


def test_the_check_fails_on_a_difference(monkeypatch, capsys):
    # a default that differs, for a flag not listed as defaulting by command
    monkeypatch.setattr(cli_flags, "commands", lambda: _two_commands({"default": "a"}, {"default": "b"}, "--name"))
    assert cli_flags.main(["--check"]) == 1
    assert "options with two meanings: 1" in capsys.readouterr().out


@pytest.mark.parametrize("argv,flag", [
    (["synth", "-o", "set", "--out", "x"], "--out"),  # was an alias of --output
    (["export", "-o", "m.onnx", "--iac-f", "onnx"], "--iac-f"),
    (["deblur", "in.png", "--plugin-lib", "x.so"], "--plugin-lib"),
])
def test_an_abbreviation_or_old_spelling_is_refused(capsys, argv, flag):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ifan {argv[0]}: error: unrecognized arguments: {flag}") and err.count("\n") == 1


def test_the_base_lines_cover_every_command():
    assert sorted(BASE) == sorted(cli_flags.commands())
