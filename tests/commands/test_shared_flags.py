"""One CLI: every shared flag has the same spelling, destination, type and help in every command
that takes it (args.py owns them); a bad value gives the same one-line usage error everywhere; the
older spellings are gone; every writer refuses an existing output without --overwrite in the same
words."""

from __future__ import annotations

import argparse

import pytest

from ifan_trt.cli import build_parser, main
from ifan_trt.commands import args as arg_groups
from ifan_trt.errors import IfanError
from tests.helpers.cli import COMMAND_LINES as BASE

# flags whose help is the same text everywhere (a repeatable model flag adds "; repeatable")
SAME_HELP = ["--checkpoint", "--onnx", "--engine", "--backend", "--plugin", "--in-bit", "--iac-mode", "--overwrite",
             "--crop-official", "--tile", "--max-pixels", "--overlap", "--verbose", "--quiet", "--debug", "--in-flight"]
SHARED = SAME_HELP + ["--device", "--threads", "--json", "--output", "--calib-images", "--calib-count",
                      "--calib-size", "--calib-method"]
# declared by the command itself, on purpose: build's ONNX is required
OWN = {("build", "--onnx")}


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _occurrences(flag: str) -> dict[str, argparse.Action]:
    found = {}
    for name, parser in _commands().items():
        for action in parser._actions:
            if flag in action.option_strings and (name, flag) not in OWN:
                found[name] = action
    return found


def test_every_command_is_covered():
    assert sorted(_commands()) == sorted(BASE)


@pytest.mark.parametrize("flag", SHARED)
def test_a_shared_flag_is_the_same_everywhere(flag):
    found = _occurrences(flag)
    assert len(found) >= 2, (flag, sorted(found))
    signatures = {name: (tuple(a.option_strings), a.dest, a.type, a.choices, a.const) for name, a in found.items()}
    assert len(set(signatures.values())) == 1, signatures
    if flag in SAME_HELP:
        helps = {name: a.help.removesuffix("; repeatable") for name, a in found.items()}
        assert len(set(helps.values())) == 1, helps


def test_the_shared_spellings():
    assert _occurrences("--plugin")["deblur"].option_strings == ["--plugin"]
    assert _occurrences("--crop-official")["eval"].option_strings == ["--crop-official"]
    assert _occurrences("--output")["train"].option_strings == ["-o", "--output"]
    assert _occurrences("--output")["synth"].option_strings == ["-o", "--output"]
    assert _occurrences("--output")["precision"].option_strings == ["-o", "--output"]
    assert _occurrences("--calib-images")["precision"].option_strings == ["--calib-images"]
    assert sorted(_occurrences("--calib-size")) == ["benchmark", "build", "precision"]
    assert _occurrences("--json")["check"].help == "write the report as JSON (with machine, versions, command; - for standard output)"


def test_in_flight_on_the_commands_that_stream_reaches_their_options(monkeypatch, tmp_path):
    """--in-flight: deblur (videos), demo and serve, default 2; the value reaches the request of
    the job and the options of the run (DemoOptions, ServeOptions)."""
    assert sorted(_occurrences("--in-flight")) == ["deblur", "demo", "serve"]
    assert {a.default for a in _occurrences("--in-flight").values()} == {2}
    from ifan_trt.commands import deblur, demo, serve

    args = build_parser().parse_args(["deblur", "in.mp4", "-o", "out.mp4", "--in-flight", "3"])
    args.compare = args.left = args.right = None
    assert deblur.request_from(args).in_flight == 3
    seen = {}
    monkeypatch.setattr("ifan_trt.runtime.demo.live.Demo.__init__", lambda self, source, open_model, options: (
        seen.setdefault("demo", options.frames_in_flight), (_ for _ in ()).throw(KeyboardInterrupt))[1])
    monkeypatch.setattr("ifan_trt.runtime.serving.serve.serve", lambda open_executor, options, model="", on_ready=None: (
        seen.setdefault("serve", options.in_flight), (_ for _ in ()).throw(KeyboardInterrupt))[1])
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    for argv in (["demo", "0", "--headless", "--in-flight", "1", "--onnx", str(model)],
                 ["serve", "--in-flight", "4", "--onnx", str(model)]):
        args = build_parser().parse_args(argv)
        with pytest.raises(KeyboardInterrupt):
            args.func(args)
    assert seen == {"demo": 1, "serve": 4}


def test_messages_options_on_every_command():
    for name, parser in _commands().items():
        flags = {s for a in parser._actions for s in a.option_strings}
        assert {"--verbose", "--quiet", "--debug"} <= flags, name


@pytest.mark.parametrize("flag,value,message", [
    ("--threads", "0", "argument --threads: must be between 1 and 1024, got 0"),
    ("--threads", "many", "argument --threads: expected an integer, got 'many'"),
    ("--in-bit", "12", "argument --in-bit: invalid choice: 12 (choose from "),  # argparse quotes by version
    ("--iac-mode", "exact", "argument --iac-mode: invalid choice: 'exact' (choose from "),
    ("--in-flight", "0", "argument --in-flight: must be between 1 and 8, got 0"),
])
def test_a_bad_value_is_the_same_usage_line_everywhere(capsys, flag, value, message):
    commands = sorted({name for name, parser in _commands().items()
                       for a in parser._actions if flag in a.option_strings})
    assert len(commands) >= 3, commands
    lines = {}
    for name in commands:
        assert main([*BASE[name], flag, value]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"ifan {name}: error: {message}") and err.count("\n") == 1, (name, err)
        lines[name] = err.removeprefix(f"ifan {name}: ")
    assert len(set(lines.values())) == 1, lines


@pytest.mark.parametrize("old,command", [
    ("--plugin-lib", "deblur"), ("--official-crop", "eval"), ("--out", "synth"), ("--iac-form", "export"),
    ("--method", "precision"), ("--images", "precision"), ("--count", "precision"), ("--size", "precision"),
])
def test_old_spellings_are_refused(capsys, old, command):
    assert main([*BASE[command], old, "x"]) == 2
    assert capsys.readouterr().err.startswith(f"ifan {command}: error: unrecognized arguments: {old}")


def test_options_for_no_named_model_are_refused():
    def check(argv):
        with pytest.raises(IfanError) as info:
            arg_groups.check_model_options(build_parser().parse_args(argv))
        return str(info.value)

    assert check(["deblur", "in.png", "--onnx", "m.onnx", "--plugin", "x.so"]) == \
        "--plugin: applies to TensorRT engines only (--engine FILE)"
    assert check(["profile", "--onnx", "m.onnx", "--plugin", "x.so"]) == \
        "--plugin: applies to TensorRT engines only (--engine FILE)"
    assert check(["profile", "--onnx", "m.onnx", "--in-bit", "16"]).startswith("--in-bit: applies to checkpoints only")
    # a checkpoint among the models: --in-bit applies to it
    arg_groups.check_model_options(build_parser().parse_args(["profile", "--onnx", "m.onnx", "--checkpoint", "c.pth",
                                                              "--in-bit", "16"]))


def _image(path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(path)


def _touch(*paths):
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"existing")


# (command line, files present, the output the refusal names)
WRITERS = {
    "deblur": (["deblur", "in.png", "-o", "out.png"], ["out.png"], "out.png"),
    "export": (["export", "--checkpoint", "c.pth", "-o", "m.onnx"], ["c.pth", "m.onnx"], "m.onnx"),
    "precision": (["precision", "m.onnx", "--to", "int8", "--calib-images", "pics"], ["m.onnx", "m.int8.onnx"],
                  "m.int8.onnx"),
    "build": (["build", "--onnx", "m.onnx", "-o", "m.plan"], ["m.onnx", "m.plan"], "m.plan"),
    "train": (["train", "-o", "m.pth"], ["m.pth"], "m.pth"),
    "check": (["check", "m.onnx", "--json", "r.json"], ["m.onnx", "r.json"], "--json r.json"),
    "inspect": (["inspect", "m.onnx", "--json", "r.json"], ["m.onnx", "r.json"], "--json r.json"),
    "profile": (["profile", "--onnx", "m.onnx", "--json", "r.json"], ["m.onnx", "r.json"], "--json r.json"),
    "eval": (["eval", "--data", "set", "--json", "r.json"], ["r.json"], "--json r.json"),
    "demo": (["demo", "clip.avi", "--headless", "--json", "r.json"], ["r.json"], "--json r.json"),
    "benchmark": (["benchmark", "--onnx", "m.onnx", "--data", "set", "--out-dir", "out", "--json", "r.json"],
                  ["m.onnx", "r.json"], "--json r.json"),
}


def test_every_writer_is_covered():
    takes_overwrite = {name for name, p in _commands().items() if any("--overwrite" in a.option_strings
                                                                      for a in p._actions)}
    assert takes_overwrite == set(WRITERS) | {"synth"}  # synth refuses a non-empty set folder (its own test)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_an_existing_output_is_refused_without_overwrite(tmp_path, monkeypatch, capsys, name):
    argv, present, label = WRITERS[name]
    monkeypatch.chdir(tmp_path)
    _touch(*(tmp_path / p for p in present))
    (tmp_path / "set" / "source").mkdir(parents=True)
    (tmp_path / "pics").mkdir()
    if name == "deblur":
        _image(tmp_path / "in.png")
    before = {p: (tmp_path / p).read_bytes() for p in present}
    assert main(argv) == 1
    assert capsys.readouterr().err == f"ifan {name}: error: {label}: exists; pass --overwrite to replace it\n"
    assert {p: (tmp_path / p).read_bytes() for p in present} == before


def test_build_json_follows_the_output_rule(tmp_path, monkeypatch, capsys):
    """build's --json: an existing file needs --overwrite, and it cannot be the engine's sidecar."""
    monkeypatch.chdir(tmp_path)
    _touch(tmp_path / "m.onnx", tmp_path / "r.json")
    assert main(["build", "--onnx", "m.onnx", "-o", "m.plan", "--json", "r.json"]) == 1
    assert capsys.readouterr().err == "ifan build: error: --json r.json: exists; pass --overwrite to replace it\n"
    assert main(["build", "--onnx", "m.onnx", "-o", "m.plan", "--json", "m.plan.json"]) == 1
    assert capsys.readouterr().err == ("ifan build: error: --json m.plan.json: is the engine's sidecar; "
                                       "choose another file\n")
    assert (tmp_path / "r.json").read_bytes() == b"existing" and not (tmp_path / "m.plan").exists()


def test_inspect_json_with_overwrite_replaces_it(tmp_path, capsys):
    pytest.importorskip("onnx")
    import json

    from ifan_trt.weights import default_onnx_path

    report = tmp_path / "r.json"
    report.write_text("old")
    assert main(["inspect", str(default_onnx_path()), "--json", str(report), "--overwrite"]) == 0
    assert json.loads(report.read_text())["command"].endswith("--overwrite")
