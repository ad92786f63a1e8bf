"""`ifan demo [SOURCE]`: live deblurring from a camera, a Jetson CSI camera, a stream or a video
file, shown side by side or as a wipe with FPS / latency / backend overlay; `--headless --record`
for machines without a display. Keys: q quit, s snapshot, space pause."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file
from ifan_trt.options import float_range, int_range, positive_int

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "demo", "live deblurring from a camera, stream or video file",
                               "Live deblurring demo. SOURCE: a camera index (0), /dev/videoN, csi or csi:N (Jetson "
                               "CSI camera via GStreamer), an rtsp:// or http:// URL, rtp://:PORT (what --output "
                               "rtp:// sends), a GStreamer pipeline ending in appsink, or a video file. Keys: q "
                               "quits, s saves a snapshot, space pauses.", run)
    p.add_argument("source", nargs="?", default="0", help="video source (default: camera 0)")
    arg_groups.add_model(p)
    p.add_argument("--view", choices=("side", "wipe"), default="side",
                   help="side by side (default) or a wipe (sweeps by itself; drag it with the left mouse button, "
                        "right button to let it sweep again)")
    p.add_argument("--headless", action="store_true", help="no window (use with --record)")
    p.add_argument("--record", metavar="FILE", help="record what is shown to a video file (.mp4, .avi, ...), "
                                                    "one picture per source frame (it lasts as long as the source)")
    p.add_argument("--output", metavar="STREAM", help="stream what is shown: rtp://HOST:PORT (Motion-JPEG over "
                                                      "RTP/UDP) or a GStreamer pipeline starting with appsrc")
    arg_groups.add_json(p, "the latency percentiles, frame counts, source, model, backend and precision", stdout=True)
    arg_groups.add_overwrite(p)
    p.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where s saves snapshots (default .)")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames from the source")
    p.add_argument("--width", type=int_range(1, 16384), default=1280, help="camera width to request (default 1280)")
    p.add_argument("--height", type=int_range(1, 16384), default=720, help="camera height to request (default 720)")
    p.add_argument("--fps", type=int_range(1, 1000), default=30, help="camera frame rate to request (default 30)")
    p.add_argument("--reconnect", type=int_range(0, 1000), default=10, metavar="N",
                   help="reopen a live source that fails up to N times (default 10; the count starts again once "
                        "it has run for 10 s). Files and pipelines that end (filesrc, num-buffers=) are not reopened")
    p.add_argument("--reconnect-wait", type=float_range(0, 3600), default=2.0, metavar="S",
                   help="seconds between reconnection attempts (default 2)")
    p.add_argument("--source-timeout", type=float_range(0.1, 3600), default=15.0, metavar="S",
                   help="a source that opens but delivers no frame for S seconds is an error (default 15)")
    p.add_argument("--no-pace", action="store_true",
                   help="read video files as fast as possible instead of at their frame rate")
    arg_groups.add_in_flight(p)
    arg_groups.add_tiling(p, overlap=False)


def _check_outputs(args) -> tuple[Path | None, Path | None]:
    from ifan_trt.opencv import GSTREAMER_FIX, opencv_build
    from ifan_trt.runtime.demo.stream_output import output_pipeline
    from ifan_trt.runtime.images.video import is_video

    record = Path(args.record) if args.record else None
    if record is not None:
        if not is_video(record):
            raise IfanError(f"{record}: --record needs a video file name (.mp4, .avi, .mkv, .mov, .m4v)")
        check_output_file(record, args.overwrite, what="--record")
    if args.output is not None:
        if output_pipeline(args.output) is None:
            raise IfanError(f"--output {args.output}: not a stream; give rtp://HOST:PORT or a GStreamer pipeline "
                            "starting with appsrc (files go to --record)")
        if not opencv_build().gstreamer:
            raise IfanError(f"--output {args.output}: streaming needs an OpenCV built with GStreamer; {GSTREAMER_FIX}")
    arg_groups.check_json(args)
    return record, Path(args.json) if args.json else None


def run(args: argparse.Namespace) -> int:
    from ifan_trt.opencv import opencv_build
    from ifan_trt.runtime.executors.backends import open_executor, resolve_backend
    from ifan_trt.runtime.demo.live import Demo, DemoOptions
    from ifan_trt.runtime.demo.sources import parse_source

    record, json_path = _check_outputs(args)
    if args.headless and not (record or args.output):
        print("ifan demo: --headless without --record or --output shows nothing; only the summary is printed",
              file=sys.stderr)
    source = parse_source(args.source, args.width, args.height, args.fps)
    if source.kind == "file" and record is not None:
        check_not_input(record, [source.target], what="--record")
    arg_groups.check_model_options(args)  # option errors before any camera opens
    resolve_backend(args.backend, args.checkpoint, args.onnx, args.engine)
    build = opencv_build()
    print(f"ifan demo: {build.describe()}; source: {source.label}", file=sys.stderr)
    options = DemoOptions(view=args.view, headless=args.headless, record=record, output=args.output,
                          snapshot_dir=Path(args.snapshot_dir), max_frames=args.max_frames, pace=not args.no_pace,
                          reconnect_wait_s=args.reconnect_wait, reconnect_tries=args.reconnect,
                          source_timeout_s=args.source_timeout,
                          tiling=arg_groups.tiling_from(args),
                          size=(args.width, args.height), fps=args.fps, overwrite=args.overwrite,
                          frames_in_flight=args.in_flight)

    def open_model():
        return open_executor(args.backend, checkpoint=args.checkpoint, onnx=args.onnx, engine=args.engine,
                             threads=args.threads, device=args.device, plugin=args.plugin, in_bit=args.in_bit,
                             iac_mode=args.iac_mode)

    demo = Demo(source, open_model, options)
    stats = demo.run()
    print(f"ifan demo: {stats.summary()}")
    print(f"ifan demo: {stats.percentiles()}")
    if record is not None and stats.shown:
        print(f"wrote {record}")
    if json_path is not None:
        _write_json(json_path, demo, args, build.describe())
    if demo.gave_up:
        raise IfanError(f"{source.label}: lost, and {args.reconnect} reconnection attempts did not bring it back to "
                        "steady running")
    return 0


def _write_json(path: Path, demo, args, opencv: str) -> None:
    from ifan_trt.reports import to_stdout, write_json
    from ifan_trt.runtime.demo.latency import demo_report

    model = args.engine or args.onnx or args.checkpoint or "default (bundled checkpoint)"
    report = demo_report(demo.stats, source=args.source, model=str(model), backend=demo.backend_name,
                         precision=demo.precision, opencv=opencv, memory_path=demo.memory_path,
                         frames_in_flight=demo.frames_in_flight, device_memory=demo.device_memory)
    write_json(path, report)  # the envelope of every --json: machine, versions, command
    if not to_stdout(path):
        print(f"wrote {path}")
