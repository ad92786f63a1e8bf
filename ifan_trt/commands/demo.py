"""`ifan demo [SOURCE]`: live deblurring from a camera, a Jetson CSI camera, a stream or a video
file, shown side by side or as a wipe with FPS / latency / backend overlay; `--headless --record`
for machines without a display. Keys: q quit, s snapshot, space pause."""

from __future__ import annotations

import argparse
import sys

from ifan_trt.errors import IfanError
from ifan_trt.commands.options import float_range, int_range, positive_int
from ifan_trt.sizes import parse_size

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "demo", "live deblurring from a camera, stream or video file",
                               "Live deblurring demo. SOURCE: a camera index (0), /dev/videoN, csi or csi:N (Jetson "
                               "CSI camera via GStreamer), an rtsp:// or http:// URL, rtp://:PORT (what --stream "
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
    p.add_argument("--stream", metavar="URL", help="stream what is shown: rtp://HOST:PORT (Motion-JPEG over "
                                                    "RTP/UDP) or a GStreamer pipeline starting with appsrc")
    arg_groups.add_json(p, "the latency percentiles, frame counts, source, model, backend and precision", stdout=True)
    arg_groups.add_overwrite(p)
    p.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where s saves snapshots (default .)")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames from the source")
    arg_groups.add_size(p, "--capture-size", "camera frame size to request", "720x1280")
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


def run(args: argparse.Namespace) -> int:
    from ifan_trt.jobs.demo import DemoRequest, demo
    from ifan_trt.reports import to_stdout, write_json

    arg_groups.check_json(args)
    arg_groups.check_model_options(args)
    height, width = parse_size(args.capture_size, "--capture-size", minimum=1)
    if max(height, width) > 16384:
        raise IfanError(f"--capture-size {args.capture_size}: at most 16384 on a side")
    request = DemoRequest(args.source, arg_groups.run_model_from(args), args.view, args.headless, args.record,
                          args.stream, args.snapshot_dir, args.max_frames, width, height, args.fps,
                          args.reconnect, args.reconnect_wait, args.source_timeout, not args.no_pace,
                          **{k: v for k, v in arg_groups.tiling_fields(args).items() if k != "overlap"},
                          frames_in_flight=args.in_flight, overwrite=args.overwrite,
                          names=arg_groups.flag)
    result = demo(request, on_start=lambda line: print(f"ifan demo: {line}", file=sys.stderr))
    print(f"ifan demo: {result.stats.summary()}")
    print(f"ifan demo: {result.stats.percentiles()}")
    if result.record is not None:
        print(f"wrote {result.record}")
    if args.json:
        write_json(args.json, result.report)  # the envelope of every --json: machine, versions, command
        if not to_stdout(args.json):
            print(f"wrote {args.json}")
    if result.lost:
        raise IfanError(result.lost)
    return 0
