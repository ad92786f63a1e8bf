"""The one logger: library modules log under `ifan`, nothing reaches a terminal without a handler
(the Python API never prints), and the command words records `ifan CMD: warning: ...`."""

from __future__ import annotations

import io
import logging

from ifan_trt import log


def test_module_loggers_hang_under_ifan():
    assert log.get("ifan_trt.calib.prepare").name == "ifan.calib.prepare"
    assert log.get("ifan_trt.runtime.tensorrt.build").name == "ifan.runtime.tensorrt.build"
    assert log.get("ifan_trt").name == "ifan"


def test_without_a_handler_nothing_is_printed(capsys, caplog):
    # what the Python API gives: the records, for whoever listens; no line on stderr
    with caplog.at_level(logging.INFO, logger="ifan"):
        log.get("ifan_trt.runtime.images.batch").warning("in.tif: 3 pages; only the first was read")
    assert capsys.readouterr() == ("", "")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ifan.runtime.images.batch", "WARNING", "in.tif: 3 pages; only the first was read")]


def _terminal(level: int) -> str:
    stream = io.StringIO()
    with log.to_terminal("ifan build", level, stream):
        lib = log.get("ifan_trt.runtime.tensorrt.build")
        lib.debug("parsing")
        lib.info("wrote e.plan")
        lib.warning("TensorRT 12.0.0 is newer than the versions ifan-trt was written for")
        lib.error("in/b.png: not a readable image", extra={"verdict": log.SKIPPED})
        lib.error("the build failed")
    lib.warning("after the command: not shown")
    return stream.getvalue()


def test_the_command_words_each_level():
    assert _terminal(log.level_for()).splitlines() == [
        "wrote e.plan",
        "ifan build: warning: TensorRT 12.0.0 is newer than the versions ifan-trt was written for",
        "ifan build: skipped in/b.png: not a readable image",
        "ifan build: error: the build failed"]


def test_quiet_keeps_errors_and_verbose_adds_debug():
    assert _terminal(log.level_for(quiet=True)).splitlines() == [
        "ifan build: skipped in/b.png: not a readable image", "ifan build: error: the build failed"]
    assert _terminal(log.level_for(verbose=True)).splitlines()[0] == "parsing"
