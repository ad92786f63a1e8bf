"""`ifan demo [SOURCE]`: live deblurring from a camera, a Jetson CSI camera, a stream or a video
file, shown side by side or as a wipe with FPS / latency / backend overlay; `--headless --record`
for machines without a display. Keys: q quit, s snapshot, space pause."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ifan_trt.errors import IfanError
from ifan_trt.files import check_not_input, check_output_file
from ifan_trt.options import int_range, positive_int

from . import args as arg_groups


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="live deblurring from a camera, stream or video file",
                              description="Live deblurring demo. SOURCE: a camera index (0), /dev/videoN, csi or "
                                          "csi:N (Jetson CSI camera via GStreamer), an rtsp:// or http:// URL, a "
                                          "GStreamer pipeline ending in appsink, or a video file. Keys: q quits, "
                                          "s saves a snapshot, space pauses.")
    p.add_argument("source", nargs="?", default="0", help="video source (default: camera 0)")
    arg_groups.add_model(p)
    p.add_argument("--view", choices=("side", "wipe"), default="side",
                   help="side by side (default) or a wipe (sweeps by itself; drag it with the left mouse button, "
                        "right button to let it sweep again)")
    p.add_argument("--headless", action="store_true", help="no window (use with --record)")
    p.add_argument("--record", metavar="FILE", help="record what is shown to a video file (.mp4, .avi, ...)")
    arg_groups.add_overwrite(p)
    p.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where s saves snapshots (default .)")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames from the source")
    p.add_argument("--width", type=int_range(1, 16384), default=1280, help="camera width to request (default 1280)")
    p.add_argument("--height", type=int_range(1, 16384), default=720, help="camera height to request (default 720)")
    p.add_argument("--fps", type=int_range(1, 1000), default=30, help="camera frame rate to request (default 30)")
    p.add_argument("--no-pace", action="store_true",
                   help="read video files as fast as possible instead of at their frame rate")
    arg_groups.add_tiling(p, overlap=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ifan_trt.runtime.backends import open_executor, resolve_backend
    from ifan_trt.runtime.live import Demo, DemoOptions
    from ifan_trt.runtime.pipeline import Tiling
    from ifan_trt.runtime.sources import parse_source
    from ifan_trt.runtime.tiling import parse_tile
    from ifan_trt.runtime.video import is_video

    if args.max_frames is not None and args.max_frames < 1:
        raise IfanError(f"--max-frames {args.max_frames}: must be >= 1")
    record = Path(args.record) if args.record else None
    if record is not None:
        if not is_video(record):
            raise IfanError(f"{record}: --record needs a video file name (.mp4, .avi, .mkv, .mov, .m4v)")
        check_output_file(record, args.overwrite, what="--record")
    source = parse_source(args.source, args.width, args.height, args.fps)
    if source.kind == "file" and record is not None:
        check_not_input(record, [source.target], what="--record")
    resolve_backend(args.backend, args.checkpoint, args.onnx, args.engine)  # option errors before any camera opens
    options = DemoOptions(view=args.view, headless=args.headless, record=record,
                          snapshot_dir=Path(args.snapshot_dir), max_frames=args.max_frames, pace=not args.no_pace,
                          tiling=Tiling(tile=parse_tile(args.tile) if args.tile else None, max_pixels=args.max_pixels),
                          size=(args.width, args.height), fps=args.fps, overwrite=args.overwrite)

    def open_model():
        return open_executor(args.backend, checkpoint=args.checkpoint, onnx=args.onnx, engine=args.engine,
                             threads=args.threads, device=args.device, plugin=args.plugin, in_bit=args.in_bit,
                             iac_mode=args.iac_mode)

    if args.headless and not args.record:
        print("ifan demo: --headless without --record shows nothing; only the summary is printed", file=sys.stderr)
    stats = Demo(source, open_model, options).run()
    print(f"ifan demo: {stats.summary()}")
    if record is not None and stats.shown:
        print(f"wrote {record}")
    return 0
