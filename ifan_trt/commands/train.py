"""`ifan train`: train IFAN on synthetic defocus on the CPU (the options and the run live with the
training code, ifan_trt.training.train; the shared output options are added here)."""

import argparse

from ifan_trt.training import train

from . import args as arg_groups


def register(subparsers) -> None:
    p = arg_groups.add_command(subparsers, "train", "train IFAN on synthetic defocus on the CPU", train.__doc__,
                               train.run, formatter_class=argparse.RawDescriptionHelpFormatter)
    arg_groups.add_output(p, "checkpoint to write (our format)", required=True)
    arg_groups.add_overwrite(p)
    train.add_arguments(p)
