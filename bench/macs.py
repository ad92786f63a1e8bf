"""The arithmetic each benchmark row does: MACs of IFAN's convolutions and of its IAC at a size,
counted by running the model on PyTorch's meta device (shapes only, no data, about a second),
split into what runs FP32 and what runs INT8 (bench.report.split_macs).

    python -m bench.macs --sizes 720x1280,1080x1920      # one JSON line: row -> size -> MACs

Rows a and b run the official filter layout (all 15,232 filter channels at N=17); c, d and e the
pruned export (8,704); e's convs are INT8 except the thin RGB ones. The CPU rewrites (streamed F,
sub-pixel upconvs) do the same MACs. The IAC-alone rows (f) are memory-bound: no floor.
"""

from __future__ import annotations

import argparse
import json
import sys

from ifan_trt.sizes import parse_size

from .report import conv_macs, iac_macs, split_macs

ROW_LAYOUT = {"a": ("full", False), "b": ("full", False), "c": ("compact", False), "d": ("compact", False),
              "e": ("compact", True)}


def network_macs(config, h: int, w: int, layout: str) -> tuple[list[tuple[int, int, int]], int]:
    """(convs as (MACs, Cin, Cout), IAC MACs) of one forward pass of a 1x3xHxW input."""
    import torch

    from ifan_trt.model import IFAN

    with torch.device("meta"):
        model = IFAN(config, filter_layout=layout)
    convs: list[tuple[int, int, int]] = []

    def count(module, inputs, output):
        transposed = isinstance(module, torch.nn.ConvTranspose2d)
        cin, cout = inputs[0].shape[1], output.shape[1]
        convs.append((conv_macs(tuple(output.shape), tuple(module.weight.shape), transposed,
                                tuple(inputs[0].shape)), cin, cout))

    iac_in = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.register_forward_hook(count)
    model.iac.register_forward_hook(lambda module, inputs, output: iac_in.append(tuple(inputs[0].shape)))
    with torch.no_grad():
        model(torch.empty(1, 3, h, w, device="meta"))
    b, c, fh, fw = iac_in[0]
    return convs, iac_macs(config.n_iters, c, fh, fw, config.filter_size, b)


def row_macs(sizes: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """row -> size -> {"fp32", "int8"} MACs for the full-size model (IFANConfig's defaults)."""
    from ifan_trt.model import IFANConfig

    out: dict[str, dict[str, dict[str, int]]] = {key: {} for key in ROW_LAYOUT}
    for size in sizes:
        h, w = parse_size(size, "--sizes")
        counted = {layout: network_macs(IFANConfig(), h, w, layout) for layout in ("full", "compact")}
        for key, (layout, int8) in ROW_LAYOUT.items():
            convs, iac = counted[layout]
            out[key][size] = split_macs(convs, iac, int8)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.macs", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="720x1280,1080x1920", help="HxW list")
    args = parser.parse_args(argv)
    print(json.dumps(row_macs(args.sizes.split(","))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
