"""One output policy for every command that writes: an existing output is refused without
--overwrite; an output that is any input (symlinked folder, hard link) or lies in an input data set
is refused even with it; only regular files are replaced; output-path problems are found before any
work, in one line naming the output."""

from __future__ import annotations

import os

import pytest

from tests.robustness import hostile as h
from tests.robustness.hostile import check_invariants, error_line

pytest.importorskip("torch")
pytestmark = pytest.mark.timeout(120)


def _files(sb, *names, data=b"existing"):
    for name in names:
        sb.path(name).write_bytes(data)


def _set(sb, root="set"):
    h.image(sb.path(f"{root}/source/a.png"))
    h.image(sb.path(f"{root}/target/a.png"), seed=1)


def _deblur(sb, *extra):
    h.image(sb.path("in.png"))
    return ["deblur", "in.png", "--checkpoint", sb.ck, *extra]


def _dual(sb, *extra):
    for name in ("in.png", "l.png", "r.png"):
        h.image(sb.path(name))
    return ["deblur", "in.png", "--checkpoint", sb.dual, "--left", "l.png", "--right", "r.png", *extra]


def _eval(sb, *extra):
    _set(sb)
    return ["eval", "--data", "set", "--checkpoint", sb.ck, *extra]


def _alias(sb, target, name):
    os.symlink(target, sb.root / name)


CASES = {
    # deblur
    "deblur_exists": (lambda sb: (_files(sb, "out.png"), _deblur(sb, "-o", "out.png"))[1],
                      "out.png", "exists; pass --overwrite"),
    "deblur_is_input": (lambda sb: _deblur(sb, "-o", "in.png", "--overwrite"), "in.png", "is an input"),
    "deblur_alias_folder": (lambda sb: (_alias(sb, ".", "alias"), _deblur(sb, "-o", "alias/in.png", "--overwrite"))[1],
                            "alias/in.png", "is an input"),
    "deblur_hard_link": (lambda sb: (argv := _deblur(sb, "-o", "hl.png", "--overwrite"),
                                     os.link(sb.root / "in.png", sb.root / "hl.png"))[0], "hl.png", "is an input"),
    "deblur_output_fifo": (lambda sb: (h.fifo(sb.path("out.png")), _deblur(sb, "-o", "out.png", "--overwrite"))[1],
                           "out.png", "is a FIFO"),
    "deblur_output_symlink": (lambda sb: (_files(sb, "other.png"), _alias(sb, "other.png", "out.png"),
                                          _deblur(sb, "-o", "out.png", "--overwrite"))[2],
                              "out.png", "is a symbolic link"),
    "deblur_output_device_link": (lambda sb: (_alias(sb, "/dev/null", "out.png"),
                                              _deblur(sb, "-o", "out.png", "--overwrite"))[1],
                                  "out.png", "only regular files are replaced"),
    "deblur_output_folder_of_file": (lambda sb: (_files(sb, "f.png"), _deblur(sb, "-o", "f.png/x.png"))[1],
                                     "f.png/x.png", "is a file, not a folder"),
    "deblur_folder_into_file": (lambda sb: (h.image(sb.path("in/a.png")), _files(sb, "out.txt"),
                                            ["deblur", "in", "-o", "out.txt", "--checkpoint", sb.ck])[2],
                                "out.txt", "not a folder"),
    "deblur_folder_into_itself": (lambda sb: (h.image(sb.path("in/a.png")),
                                              ["deblur", "in", "-o", "in", "--overwrite", "--checkpoint", sb.ck])[1],
                                  "in/a.png", "is an input"),
    "deblur_recursive_into_itself": (lambda sb: (h.image(sb.path("in/a.png")),
                                                 ["deblur", "in", "-r", "-o", "in/out", "--checkpoint", sb.ck])[1],
                                     "-o in/out", "inside the input data"),
    "deblur_left_is_output": (lambda sb: _dual(sb, "-o", "l.png", "--overwrite"), "l.png", "is an input"),
    "deblur_right_alias": (lambda sb: (argv := _dual(sb, "-o", "alias/r.png", "--overwrite"),
                                       _alias(sb, ".", "alias"))[0], "alias/r.png", "is an input"),
    "deblur_compare_is_output": (lambda sb: _deblur(sb, "-o", "out.png", "--compare", "out.png"),
                                 "--compare out.png", "is the output"),
    "deblur_compare_is_input": (lambda sb: _deblur(sb, "-o", "out.png", "--compare", "in.png", "--overwrite"),
                                "in.png", "is an input"),
    "deblur_compare_exists": (lambda sb: (_files(sb, "cmp.png"), _deblur(sb, "-o", "out.png", "--compare",
                                                                         "cmp.png"))[1], "cmp.png", "exists"),
    "deblur_video_exists": (lambda sb: (h.video(sb.path("v.avi")), _files(sb, "o.avi"),
                                        ["deblur", "v.avi", "-o", "o.avi", "--checkpoint", sb.ck])[2],
                            "o.avi", "exists"),
    "deblur_video_is_input": (lambda sb: (h.video(sb.path("v.avi")),
                                          ["deblur", "v.avi", "-o", "v.avi", "--overwrite", "--checkpoint", sb.ck])[1],
                              "v.avi", "is an input"),
    # export
    "export_alias_of_checkpoint": (lambda sb: (_alias(sb, ".", "alias"),
                                               ["export", "--checkpoint", sb.ck, "-o", "alias/ck.pth"])[1],
                                   "alias/ck.pth", "is an input"),
    "export_hard_link": (lambda sb: (ck := sb.ck, os.link(sb.root / ck, sb.root / "hl.onnx"),
                                     ["export", "--checkpoint", ck, "-o", "hl.onnx", "--overwrite"])[2],
                         "hl.onnx", "is an input"),
    "export_exists": (lambda sb: (_files(sb, "m.onnx"), ["export", "--checkpoint", sb.ck, "-o", "m.onnx"])[1],
                      "m.onnx", "exists; pass --overwrite"),
    "export_folder": (lambda sb: (sb.path("m.onnx/keep").write_text("x"),
                                  ["export", "--checkpoint", sb.ck, "-o", "m.onnx", "--overwrite"])[1],
                      "m.onnx", "is a folder"),
    "export_parent_file": (lambda sb: (_files(sb, "f"), ["export", "--checkpoint", sb.ck, "-o", "f/m.onnx"])[1],
                           "f/m.onnx", "is a file, not a folder"),
    # precision / check / build: checked before any export, measurement or TensorRT
    "fp16_is_input": (lambda sb: (_files(sb, "m.onnx"), ["precision", "m.onnx", "--to", "fp16", "-o", "m.onnx"])[1],
                      "m.onnx", "is an input"),
    "fp16_exists": (lambda sb: (_files(sb, "m.onnx", "o.onnx"), ["precision", "m.onnx", "--to", "fp16", "-o",
                                                                 "o.onnx"])[1], "o.onnx", "exists"),
    "fp16_default_exists": (lambda sb: (_files(sb, "m.onnx", "m.fp16.onnx"), ["precision", "m.onnx", "--to",
                                                                              "fp16"])[1], "m.fp16.onnx", "exists"),
    "calibrate_is_input": (lambda sb: (_files(sb, "m.onnx"), h.image(sb.path("pics/a.png")),
                                       ["precision", "m.onnx", "--to", "int8", "--calib-images", "pics", "-o", "m.onnx"])[2],
                           "m.onnx", "is an input"),
    "calibrate_exists": (lambda sb: (_files(sb, "m.onnx", "m.int8.onnx"), h.image(sb.path("pics/a.png")),
                                     ["precision", "m.onnx", "--to", "int8", "--calib-images", "pics"])[2], "m.int8.onnx",
                                     "exists"),
    "calibrate_into_images": (lambda sb: (_files(sb, "m.onnx"), h.image(sb.path("pics/a.png")),
                                          ["precision", "m.onnx", "--to", "int8", "--calib-images", "pics", "-o",
                                           "pics/q.onnx"])[2],
                              "pics/q.onnx", "inside the input data"),
    "calibrate_cache_is_model": (lambda sb: (_files(sb, "m.onnx"), h.image(sb.path("pics/a.png")),
                                             ["precision", "m.onnx", "--to", "int8", "--calib-images", "pics", "-o",
                                              "q.onnx", "--cache", "m.onnx"])[2], "m.onnx", "is an input"),
    "cpu_calibrate_exists": (lambda sb: (_files(sb, "m.onnx", "m.int8-cpu.onnx"), h.image(sb.path("pics/a.png")),
                                         ["precision", "m.onnx", "--to", "int8-cpu", "--calib-images", "pics"])[2],
                             "m.int8-cpu.onnx", "exists"),
    "fp16_intermediate_export_exists": (lambda sb: (ck := sb.ck, _files(sb, "ck.fp32.onnx"),
                                                    ["precision", ck, "--to", "fp16", "-o", "f.onnx"])[2], "ck.fp32.onnx",
                                        "is not the export of ck.pth"),
    "calibrate_intermediate_export_exists": (lambda sb: (ck := sb.ck, _files(sb, "ck.fp32.onnx"),
                                                         h.image(sb.path("pics/a.png")),
                                                         ["precision", ck, "--to", "int8", "--calib-images", "pics", "-o", "q.onnx"])[3],
                                             "ck.fp32.onnx", "--overwrite"),
    "check_json_is_model": (lambda sb: (_files(sb, "a.onnx", "b.onnx"),
                                        ["check", "b.onnx", "--against", "a.onnx", "--json", "a.onnx"])[1],
                            "--json a.onnx", "is an input"),
    "check_json_exists": (lambda sb: (_files(sb, "a.onnx", "b.onnx", "r.json"),
                                      ["check", "b.onnx", "--against", "a.onnx", "--json", "r.json"])[1],
                          "--json r.json", "exists"),
    "check_plot_is_json": (lambda sb: (_files(sb, "a.onnx", "b.onnx"),
                                       ["check", "b.onnx", "--against", "a.onnx", "--json", "r.x",
                                        "--plot", "r.x"])[1], "--plot r.x", "is the --json file"),
    "check_plot_folder": (lambda sb: (_files(sb, "a.onnx", "b.onnx"), sb.path("p/keep").write_text("x"),
                                      ["check", "b.onnx", "--against", "a.onnx", "--plot", "p"])[2],
                          "--plot p", "is a folder"),
    "build_is_input": (lambda sb: (_files(sb, "m.onnx"), ["build", "--onnx", "m.onnx", "-o", "m.onnx"])[1],
                       "m.onnx", "is the input ONNX"),
    "build_exists": (lambda sb: (_files(sb, "m.onnx", "m.plan"), ["build", "--onnx", "m.onnx", "-o", "m.plan"])[1],
                     "m.plan", "exists"),
    "build_sidecar_exists": (lambda sb: (_files(sb, "m.onnx", "m.plan.json"),
                                         ["build", "--onnx", "m.onnx", "-o", "m.plan"])[1], "m.plan.json", "exists"),
    "build_missing_folder": (lambda sb: (_files(sb, "m.onnx"), ["build", "--onnx", "m.onnx", "-o", "no/m.plan"])[1],
                             "no/m.plan", "no such folder"),
    "build_fifo_onnx": (lambda sb: (h.fifo(sb.path("m.onnx")), ["build", "--onnx", "m.onnx", "-o", "m.plan"])[1],
                        "m.onnx", "is a FIFO"),
    # eval
    "eval_save_in_target": (lambda sb: _eval(sb, "--save-dir", "set/target"), "--save-dir set/target",
                            "inside the input data"),
    "eval_save_in_source": (lambda sb: _eval(sb, "--save-dir", "set/source/out"), "--save-dir set/source/out",
                            "inside the input data"),
    "eval_save_alias_of_target": (lambda sb: (argv := _eval(sb, "--save-dir", "t2"), _alias(sb, "set/target", "t2"))[0],
                                  "--save-dir t2", "inside the input data"),
    "eval_csv_is_image": (lambda sb: _eval(sb, "--csv", "set/target/a.png", "--overwrite"), "--csv set/target/a.png",
                          "is an input"),
    "eval_csv_exists": (lambda sb: (argv := _eval(sb, "--csv", "m.csv"), _files(sb, "m.csv"))[0], "--csv m.csv",
                        "exists"),
    "eval_table_is_checkpoint": (lambda sb: _eval(sb, "--table", "ck.pth", "--overwrite"), "--table ck.pth",
                                 "is an input"),
    "eval_saved_image_exists": (lambda sb: (argv := _eval(sb, "--save-dir", "res"), _files(sb, "res/a.png"))[0],
                                "res/a.png", "exists"),
    # synth
    "synth_set_exists": (lambda sb: (_set(sb), ["synth", "-o", "set", "--count", "1", "--photos", "none",
                                                "--size", "16x16"])[1], "--output set/source", "--overwrite"),
    "synth_would_mix": (lambda sb: (_set(sb), h.image(sb.path("set/source/00007.png")),
                                    ["synth", "-o", "set", "--count", "1", "--photos", "none", "--size", "16x16",
                                     "--overwrite"])[2], "--output set/source", "would mix"),
    "synth_out_is_file": (lambda sb: (_files(sb, "set"), ["synth", "-o", "set", "--count", "1"])[1],
                          "set", "is a file, not a folder"),
    # train
    "train_out_is_init": (lambda sb: ["train", "-o", sb.ck, "--init", sb.ck], "ck.pth", "is an input"),
    "train_out_hard_link_of_init": (lambda sb: (ck := sb.ck, os.link(sb.root / ck, sb.root / "hl.pth"),
                                                ["train", "-o", "hl.pth", "--init", ck, "--overwrite"])[2],
                                    "hl.pth", "is an input"),
    "train_out_exists": (lambda sb: (_files(sb, "m.pth"), ["train", "-o", "m.pth"])[1], "m.pth", "exists"),
    "train_out_folder": (lambda sb: (sb.path("m.pth/keep").write_text("x"), ["train", "-o", "m.pth"])[1],
                         "m.pth", "is a folder"),
    "train_state_exists": (lambda sb: (_files(sb, "m.pth.state.pt"), ["train", "-o", "m.pth"])[1],
                           "m.pth.state.pt", "exists"),
    # profile
    "profile_json_is_model": (lambda sb: (_files(sb, "m.onnx"), ["profile", "--onnx", "m.onnx", "--json", "m.onnx"])[1],
                              "--json m.onnx", "is an input"),
    "profile_json_exists": (lambda sb: (_files(sb, "m.onnx", "r.json"),
                                        ["profile", "--onnx", "m.onnx", "--json", "r.json"])[1], "--json r.json",
                            "exists"),
    "profile_out_dir_is_file": (lambda sb: (_files(sb, "m.onnx", "rep"),
                                            ["profile", "--onnx", "m.onnx", "--out-dir", "rep"])[1], "rep",
                                "is a file, not a folder"),
    "profile_csv_is_json": (lambda sb: (_files(sb, "m.onnx"), ["profile", "--onnx", "m.onnx", "--json", "r",
                                                               "--csv", "r"])[1], "r", "is an input"),
    "profile_report_in_out_dir_exists": (lambda sb: (_files(sb, "m.onnx", "rep/profile.json"),
                                                     ["profile", "--onnx", "m.onnx", "--out-dir", "rep"])[1],
                                         "rep/profile.json", "exists"),
    # demo --record
    "demo_record_exists": (lambda sb: (h.video(sb.path("v.avi")), _files(sb, "rec.avi"),
                                       ["demo", "v.avi", "--headless", "--record", "rec.avi"])[2], "--record rec.avi",
                           "exists"),
    "demo_record_is_input": (lambda sb: (h.video(sb.path("v.avi")),
                                         ["demo", "v.avi", "--headless", "--record", "v.avi", "--overwrite"])[1],
                             "--record v.avi", "is an input"),
    "demo_record_missing_folder": (lambda sb: (h.video(sb.path("v.avi")),
                                               ["demo", "v.avi", "--headless", "--record", "no/rec.avi"])[1],
                                   "no/rec.avi", "no such folder"),
    "demo_record_folder": (lambda sb: (h.video(sb.path("v.avi")), sb.path("r.avi/keep").write_text("x"),
                                       ["demo", "v.avi", "--headless", "--record", "r.avi", "--overwrite"])[2],
                           "r.avi", "is a folder"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_policy(sandbox, name):
    setup, names, says = CASES[name]
    argv = setup(sandbox)
    result = sandbox.run(*argv)
    error_line(result, argv[0], names, says)
    check_invariants(result, sandbox.root)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", ["deblur", "export"])
def test_read_only_output_folder_is_found_first(sandbox, command):
    ro = sandbox.path("ro/keep")
    ro.write_text("x")
    os.chmod(ro.parent, 0o555)
    argv = _deblur(sandbox, "-o", "ro/out.png") if command == "deblur" else \
        ["export", "--checkpoint", sandbox.ck, "-o", "ro/m.onnx"]
    result = sandbox.run(*argv)
    error_line(result, command, "ro", "not writable")
    check_invariants(result, sandbox.root)


def test_overwrite_replaces_only_the_output(sandbox):
    argv = _deblur(sandbox, "-o", "out.png", "--overwrite")
    sandbox.path("out.png").write_bytes(b"old")
    result = sandbox.run(*argv)
    assert result.code == 0, result.err
    h.read_back(sandbox.root / "out.png")
    result.before.pop("out.png")  # the one file the run may change
    check_invariants(result, sandbox.root, {"out.png"})


def test_synth_overwrite_of_the_same_set_replaces_it(sandbox):
    argv = ["synth", "-o", "set", "--count", "1", "--photos", "none", "--size", "16x16", "--seed", "3"]
    assert sandbox.run(*argv).code == 0
    result = sandbox.run(*argv[:-1], "4", "--overwrite")
    assert result.code == 0, result.err
    changed = {k for k, v in result.before.items() if result.after[k] != v}
    assert changed == {"set/source/00000.png", "set/target/00000.png"}
    for name in changed:
        result.before.pop(name)
    check_invariants(result, sandbox.root, changed)


def test_compare_in_a_new_folder_is_made_like_the_output(sandbox):
    """-o and --compare follow one rule: a missing folder is made (checked before any work)."""
    result = sandbox.run(*_deblur(sandbox, "-o", "res/out.png", "--compare", "cmp/side.png"))
    assert result.code == 0, result.err
    h.read_back(sandbox.root / "res/out.png")
    assert h.read_back(sandbox.root / "cmp/side.png").shape[1] > 2 * 16  # input | output
    check_invariants(result, sandbox.root, {"res/out.png", "cmp/side.png"})


@pytest.mark.parametrize("hw", [(5, 5), (5, 40), (40, 7)])
def test_crop_official_of_an_image_smaller_than_the_multiple_is_one_line(sandbox, hw):
    h.image(sandbox.path("tiny.png"), *hw)
    result = sandbox.run("deblur", "tiny.png", "-o", "out.png", "--checkpoint", sandbox.ck, "--crop-official")
    error_line(result, "deblur", "tiny.png", f"{hw[0]}x{hw[1]} is smaller than 8x8", "--crop-official")
    check_invariants(result, sandbox.root)
