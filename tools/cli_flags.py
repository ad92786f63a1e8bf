"""List every long option of every `ifan` command, and the options whose meaning differs between
commands: a flag name means one thing, with one type, metavar, choices and default, everywhere.

    python tools/cli_flags.py           # counts, aliases and differences
    python tools/cli_flags.py --all     # also every option with its dest, type, default, metavar, help
    python tools/cli_flags.py --check   # exit 1 on an alias or a difference not listed below

tests/commands/test_one_meaning.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

# Options whose default depends on the command's job, on purpose (type, metavar and meaning are the
# same). Each help text states its default.
COMMAND_DEFAULTS = {
    "--batch": "images per run: the engine's largest batch where one runs (deblur, eval), 1 to check, 4 per "
               "training step",
    "--device": "benchmark compares every precision on the CPU by default; the other commands pick the best device",
    "--shape": "benchmark times every precision on the CPU by default, at a smaller shape than profile's 720x1280",
    "--size": "synth renders images of a fixed size; check runs at the graph's size when none is given",
    "--seed": "synth's test set must not be drawn from the training seeds (0, and 1 for validation)",
    "--jpeg-prob": "a synthetic test set is clean unless asked; training augments with JPEG by default",
    "--threads": "training uses 2 threads (measured fastest for the small model); runners use the library's own",
    "--iac-split": "export writes the graph as the network is; build splits it where that lowers the peak (auto)",
    "--max-batch": "serve batches up to 4 requests; a Triton repository defaults to the engine's largest batch",
}


def commands() -> dict[str, argparse.ArgumentParser]:
    from ifan_trt.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _type(action: argparse.Action) -> str:
    """The value type, with a range type's bounds (its closure) so that int_range(0, 9) and
    int_range(1) differ."""
    t = action.type
    if t is None:
        return "str"
    cells = tuple(c.cell_contents for c in (getattr(t, "__closure__", None) or ()))
    return getattr(t, "__name__", repr(t)) + (repr(cells) if cells else "")


def meaning(action: argparse.Action) -> tuple:
    """What a user can rely on across commands; a repeatable option (append) means the same as a
    single one, taken several times."""
    kind = "store" if isinstance(action, (argparse._StoreAction, argparse._AppendAction)) else type(action).__name__
    return (action.dest, _type(action), action.metavar, tuple(action.choices or ()), action.const, kind,
            action.nargs if kind == "store" else None)


def options() -> dict[str, dict[str, argparse.Action]]:
    """{--flag: {command: action}} of every long option (--help left out)."""
    found: dict[str, dict[str, argparse.Action]] = defaultdict(dict)
    for name, parser in commands().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                if flag.startswith("--"):
                    found[flag][name] = action
    return dict(found)


def aliases() -> list[tuple[str, tuple[str, ...]]]:
    """(command, long spellings) of every option with more than one long spelling."""
    out = []
    for name, parser in commands().items():
        for action in parser._actions:
            longs = tuple(f for f in action.option_strings if f.startswith("--"))
            if len(longs) > 1:
                out.append((name, longs))
    return out


def _default(action: argparse.Action):
    """The default as a user meets it: a repeatable option's empty list is "none given"."""
    return None if isinstance(action, argparse._AppendAction) and not action.default else action.default


def differences() -> dict[str, dict[str, tuple]]:
    """{--flag: {command: (meaning, default)}} where a flag differs between commands (defaults
    only where COMMAND_DEFAULTS does not list the flag)."""
    out = {}
    for flag, by_command in options().items():
        seen = {c: (meaning(a), None if flag in COMMAND_DEFAULTS else repr(_default(a))) for c, a in by_command.items()}
        if len(set(seen.values())) > 1:
            out[flag] = seen
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="audit the long options of every ifan command")
    parser.add_argument("--all", action="store_true", help="list every option of every command")
    parser.add_argument("--check", action="store_true", help="exit 1 on an alias or a difference")
    args = parser.parse_args(argv)
    found = options()
    if args.all:
        for flag, by_command in sorted(found.items()):
            for name, a in by_command.items():
                print(f"{flag}\t{name}\tdest={a.dest}\ttype={_type(a)}\tdefault={a.default!r}\t"
                      f"metavar={a.metavar}\tchoices={a.choices}\t{' '.join((a.help or '').split())}")
    print(f"{len(commands())} commands, {len(found)} distinct long options")
    spelled = aliases()
    print(f"aliases: {len(spelled)}" + "".join(f"\n  {name}: {' '.join(s)}" for name, s in spelled))
    diff = differences()
    print(f"options with two meanings: {len(diff)}")
    for flag, seen in diff.items():
        for name, (m, default) in seen.items():
            print(f"  {flag} {name}: dest={m[0]} type={m[1]} metavar={m[2]} choices={m[3]} default={default}")
    print(f"defaults chosen by the command: {len(COMMAND_DEFAULTS)} ({', '.join(COMMAND_DEFAULTS)})")
    return 1 if args.check and (spelled or diff) else 0


if __name__ == "__main__":
    sys.exit(main())
