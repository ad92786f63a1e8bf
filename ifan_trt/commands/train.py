"""`ifan train`: train IFAN on synthetic defocus on the CPU (ifan_trt.training.train runs it)."""

import argparse
from dataclasses import fields

from ifan_trt.commands.options import float_range, int_range, nonneg_float, nonneg_int, positive_float, positive_int, probability, threads
from ifan_trt.training import train

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "train", "train IFAN on synthetic defocus on the CPU", train.__doc__,
                               run, formatter_class=argparse.RawDescriptionHelpFormatter)
    arg_groups.add_output(p, "checkpoint to write (our format)", required=True)
    arg_groups.add_overwrite(p)
    add_training_options(p)


def run(args: argparse.Namespace) -> int:
    train.run(train.TrainRequest(**{f.name: getattr(args, f.name) for f in fields(train.TrainRequest)}))
    return 0


def add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ch", type=int_range(1, 128), default=16, help="base width ch1 (official 32)")
    p.add_argument("--n-iters", type=int_range(1, 64), default=8, help="IAC iterations N (official 17)")
    p.add_argument("--patch", type=positive_int, default=128, help="training patch size (multiple of 8)")
    p.add_argument("--batch", type=positive_int, default=4, help="images per training step (default 4)")
    p.add_argument("--scene", default="384x512",
                   help="HxW of the scenes patches are cut from: the size of the images the model is for "
                        "(content scale relative to the CoC); 0 renders each patch as a whole small scene")
    p.add_argument("--crops-per-scene", type=positive_int, default=2, help="patches cut from one scene (saves rendering)")
    p.add_argument("--lr", type=positive_float, default=5e-4)
    p.add_argument("--lr-warmup", type=positive_int, default=200, metavar="N", help="steps of linear learning-rate warm-up")
    p.add_argument("--loss", choices=tuple(train.LOSSES), default="l2",
                   help="l2: mean squared error; psnr: minus the mean per-patch PSNR, the test metric (keeps "
                        "nearly sharp inputs intact); psnr-scene: the same with the MSE pooled over the crops "
                        "of a scene, as the PSNR of a whole image pools it; Charbonnier (~L1) spent a small "
                        "model on denoising flat areas and measured worse PSNR than the input after 900 steps")
    p.add_argument("--loss-disp", type=nonneg_float, default=1.0, metavar="W",
                   help="weight of the disparity loss (the DME's map warps the right dual-pixel view onto the left, "
                        "at 1/8 scale); 0 disables it and the dual-pixel views are not rendered (official: 1)")
    p.add_argument("--loss-reblur", type=nonneg_float, default=1.0, metavar="W",
                   help="weight of the reblurring loss (a reblurring network, kept only in OUT.state.pt, blurs the "
                        "sharp image with the predicted filters; compared with the input at 1/8 scale); 0 disables "
                        "it (official: 1)")
    p.add_argument("--reblur-warmup", type=nonneg_int, default=0, metavar="N",
                   help="for the first N steps the reblurring loss trains only the reblurring network, not the "
                        "model (use with --init: a new reblurring network would first pull a trained model's "
                        "filters towards its random start)")
    p.add_argument("--loss-no-harm", type=nonneg_float, default=0.0, metavar="W",
                   help="weight of a no-harm term (ours, not the paper's): the mean over patches of the dB by "
                        "which the output is further from the target than the input was; 0 disables it")
    p.add_argument("--dual", action="store_true", help="train IFAN_dual (reads the left and right views too)")
    p.add_argument("--steps", type=positive_int, default=100000, help="step cap (the budget usually ends first)")
    p.add_argument("--budget-min", type=positive_float, default=80.0, help="wall-clock training budget, minutes")
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default 0; validation uses seed+1)")
    p.add_argument("--max-radius", type=float_range(0.0, 200.0), default=10.0, help="largest CoC radius in pixels")
    p.add_argument("--jpeg-prob", type=probability, default=0.2, help="share of sources JPEG-compressed (default 0.2)")
    p.add_argument("--noise", type=nonneg_float, default=0.01, metavar="SIGMA",
                   help="largest sigma of the read and of the shot noise added to the blurred input "
                        "(0: none; with noise the model also learns to denoise, and so alters noisy "
                        "sharp photos)")
    p.add_argument("--small-blur-prob", type=probability, default=0.0, metavar="P",
                   help="share of scenes whose largest CoC radius is drawn in [0, 2] px instead of "
                        "[0.5, --max-radius] (nearly sharp and exactly sharp inputs)")
    p.add_argument("--soft-prob", type=probability, default=0.0, metavar="P",
                   help="share of scenes whose sharp content is itself soft (low-passed, sigma 0.5-2 px), so "
                        "that softness alone is not restored past the original")
    p.add_argument("--grain", type=nonneg_float, default=0.0, metavar="SIGMA",
                   help="largest sigma of a grain in the sharp scenes themselves (the target keeps it, so "
                        "grain is neither removed from sharp photos nor invented in blurred ones)")
    p.add_argument("--low-contrast-prob", type=probability, default=0.0, metavar="P",
                   help="share of scenes whose sRGB values are drawn towards their mean by a factor in [0.2, 0.6] "
                        "(flat, hazy photos: their detail is small, so invented contrast costs many dB)")
    p.add_argument("--dof-prob", type=probability, default=0.0, metavar="P",
                   help="share of scenes whose sharp photo has its own depth of field (in focus on one "
                        "object, largest CoC radius drawn in [1, --dof-max-radius] px), blurred again evenly "
                        "for the input: only the added blur is removed")
    p.add_argument("--dof-max-radius", type=float_range(1.0, 200.0), default=6.0, metavar="PX",
                   help="largest CoC radius of that depth of field (default 6)")
    p.add_argument("--threads", type=threads, default=2, help="CPU threads for PyTorch (default 2)")
    p.add_argument("--ckpt-every-min", type=positive_float, default=5.0)
    p.add_argument("--log-every", type=positive_int, default=50)
    p.add_argument("--val-count", type=positive_int, default=8, help="fixed validation images (seed+1)")
    p.add_argument("--eval-data", help="folder for `ifan eval` on the final model (recorded in meta)")
    p.add_argument("--resume", action="store_true", help="continue from OUT.state.pt")
    p.add_argument("--init", help="start from this checkpoint's weights (fine-tuning: new optimizer "
                                  "and schedule; its training record is kept in meta['init_record'])")
