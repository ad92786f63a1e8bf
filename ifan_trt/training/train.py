"""Train IFAN on the CPU on synthetic defocus made on the fly (`ifan train`).

Every step draws a fresh batch from the generator with the seed (seed, step), so data never
repeats, needs no disk, and a resumed run sees exactly the batches it would have seen. The
learning rate follows a cosine over the run's progress = max(step / steps, time / budget): a
wall-clock budget ends the run on time on a shared machine and still anneals the rate.

Outputs: OUT (our checkpoint format, usable at any time: rewritten at every checkpoint) and
OUT.state.pt (optimizer, step, elapsed time: what --resume needs). The training record (command,
seed, data, steps, time, validation and test metrics) is the checkpoint's meta.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.log import get as get_logger
from ifan_trt.files import atomic_write, check_not_input, check_output_file, require_regular_file as read_input_path
from ifan_trt.sizes import parse_size

_logger = get_logger(__name__)

WHY = ("ch=16 (feature width 64) and N=8: a quarter of the official width and half its IAC "
       "iterations, ~2.4 M parameters and ~1/12 of the official convolution MACs, so training "
       "fits in a few hours on 2 shared CPU cores (the bundled model: 3.2 h) and inference stays fast on a CPU or a Jetson; "
       "official IAC mode so every tool (ONNX, the TensorRT plugin, the compact layout) treats it "
       "like the released checkpoints")


@dataclass(frozen=True)
class TrainRequest:
    """One training run (`ifan train`): output is the checkpoint to write (OUT.state.pt beside it);
    the defaults are the bundled model's size (ch 16, N 8) and the generator's defaults."""
    output: str | os.PathLike
    overwrite: bool = False
    ch: int = 16  # base width ch1 (official 32)
    n_iters: int = 8  # IAC iterations N (official 17)
    patch: int = 128  # training patch size, a multiple of 8
    batch: int = 4
    scene: str = "384x512"  # HxW of the scenes patches are cut from; "0": each patch a whole small scene
    crops_per_scene: int = 2
    lr: float = 5e-4
    lr_warmup: int = 200
    loss: str = "l2"  # a key of LOSSES
    loss_disp: float = 1.0
    loss_reblur: float = 1.0
    reblur_warmup: int = 0
    loss_no_harm: float = 0.0
    dual: bool = False
    steps: int = 100000
    budget_min: float = 80.0
    seed: int = 0
    max_radius: float = 10.0
    jpeg_prob: float = 0.2
    noise: float = 0.01
    small_blur_prob: float = 0.0
    soft_prob: float = 0.0  # share of scenes whose sharp content is itself soft
    grain: float = 0.0  # largest sigma of the grain in the sharp scenes
    low_contrast_prob: float = 0.0  # share of scenes with their contrast reduced
    dof_prob: float = 0.0  # share of scenes whose sharp photo has its own depth of field
    dof_max_radius: float = 6.0  # largest CoC radius of that depth of field
    threads: int = 2
    ckpt_every_min: float = 5.0
    log_every: int = 50
    val_count: int = 8
    eval_data: str | os.PathLike | None = None
    resume: bool = False
    init: str | os.PathLike | None = None


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    state: Path
    steps: int
    minutes: float
    validation: dict  # {"val_psnr_input", "val_psnr_model"} in dB


def full_command(args: TrainRequest) -> str:
    """The run as one `ifan train` command with every option spelled out (defaults included), so
    the record reproduces the run even if defaults change; --resume is not part of the recipe."""
    parts = ["ifan", "train"]
    for key, value in asdict(args).items():
        if key in ("resume", "overwrite") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, shlex.quote(str(value))]
    return " ".join(parts)


def charbonnier(x, y, eps: float = 1e-3):
    return ((x - y) ** 2 + eps * eps).sqrt().mean()


def psnr_loss(x, y, group: int = 1, eps: float = 1e-6):
    """Minus the mean PSNR (dB; eps caps it at 60 dB) of groups of `group` consecutive patches,
    the MSE pooled within a group. The test metric is the mean of per-image PSNRs, in which a
    nearly sharp image damaged by 0.01 RMS weighs as much as a blurred one gained back; plain MSE
    hardly sees the former. Pooling the crops of one scene (group = crops per scene) weighs its
    sharp and blurred regions the way the PSNR of the whole image does."""
    import math

    mse = ((x - y) ** 2).flatten(1).mean(1).view(-1, group).mean(1)
    return 10 / math.log(10) * (mse + eps).log().mean()


LOSSES = {  # loss(output, target, crops_per_scene), description
    "l2": (lambda x, y, g: ((x - y) ** 2).mean(), "mean squared error"),
    "charbonnier": (lambda x, y, g: charbonnier(x, y), "Charbonnier (eps 1e-3)"),
    "psnr": (lambda x, y, g: psnr_loss(x, y), "minus the mean per-patch PSNR (eps 1e-6)"),
    "psnr-scene": (psnr_loss, "minus the mean PSNR of each scene's crops, MSE pooled over them (eps 1e-6)"),
}


def make_batch(seed: int, step: int, batch: int, patch: int, max_radius: float, jpeg_prob: float,
               scene: tuple[int, int] | None = None, crops_per_scene: int = 1, dual: bool = False,
               small_blur_prob: float = 0.0, noise: float = 0.01, soft_prob: float = 0.0, grain: float = 0.0,
               low_contrast_prob: float = 0.0, dof_prob: float = 0.0, dof_max_radius: float = 6.0):
    """Batch `step` of run `seed`: patches of scenes of size scene=(h, w) (None: the patch and its
    margin are a whole scene), `crops_per_scene` from each. (blurry, sharp), and with dual=True
    (blurry, sharp, left, right): the dual-pixel views of the same scene and lens.

    Scene k of a run (k counts scenes over the steps) is drawn from the seed (seed, k), as image k
    of `ifan synth --seed SEED --photos train` is: with scene=None and no JPEG the patches are the
    centres of that set's images (and of its views with --dual). The windows come from (seed, k, 1)."""
    import torch

    from ifan_trt.training.synthetic import TRAIN_PHOTOS, make_crops

    margin = 16  # render a little larger and crop: the blur at the border sees real context
    side = patch + 2 * margin
    h, w = scene or (side, side)
    if h < side or w < side:
        raise IfanError(f"scene {h}x{w}: smaller than the patch plus its {margin} px margin ({side})")
    scenes_per_step = -(-batch // crops_per_scene)
    views: tuple[list, ...] = ([], [], [], [])
    for j in range(scenes_per_step):
        k = step * scenes_per_step + j
        n = min(crops_per_scene, batch - j * crops_per_scene)
        if scene is None:
            windows = [(0, 0, side, side)] * n
        else:
            place = np.random.default_rng([seed, k, 1])
            windows = [(int(place.integers(0, h - side + 1)), int(place.integers(0, w - side + 1)), side, side)
                       for _ in range(n)]
        for s in make_crops(np.random.default_rng([seed, k]), h, w, windows, TRAIN_PHOTOS, max_radius,
                            noise=noise, jpeg_prob=jpeg_prob, dual=dual, small_blur_prob=small_blur_prob,
                            soft_prob=soft_prob, grain=grain, low_contrast_prob=low_contrast_prob,
                            dof_prob=dof_prob, dof_max_radius=dof_max_radius):
            for out, img in zip(views, (s.source, s.target, s.left, s.right)):
                if img is not None:
                    out.append(img[margin:-margin, margin:-margin])
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(np.stack(a))).permute(0, 3, 1, 2)
    return tuple(to_t(v) for v in views[:4 if dual else 2])


def parse_scene(text: str) -> tuple[int, int] | None:
    """'HxW' (rows first, as every size), or '0' for a whole small scene per patch."""
    if text == "0":
        return None
    return parse_size(text, "scene")


def lr_at(progress: float, base: float, step: int, warmup: int = 200) -> float:
    warm = min(1.0, (step + 1) / warmup)
    return base * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


VAL_PSNR_CAP = 80.0  # dB


def validate(model, val) -> dict:
    import torch

    from ifan_trt.metrics import psnr

    with torch.no_grad():
        p_in, p_out = [], []
        for x, y, *views in val:
            out = model(x, *views) if model.config.dual else model(x)  # views: (left, right)
            # an exactly sharp input (no noise, in focus) is infinitely close: capped, so the mean stays finite
            p_in.append(min(VAL_PSNR_CAP, psnr(x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy())))
            p_out.append(min(VAL_PSNR_CAP, psnr(out[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy())))
    return {"val_psnr_input": float(np.mean(p_in)), "val_psnr_model": float(np.mean(p_out))}


def log(msg: str) -> None:
    _logger.info(f"{time.strftime('%H:%M:%S')} {msg}")


def check_outputs(args: TrainRequest) -> tuple[Path, Path]:
    """OUT and OUT.state.pt: new unless resume or overwrite, never the init checkpoint."""
    out = Path(args.output)
    state_path = out.with_name(out.name + ".state.pt")
    replace = args.resume or args.overwrite
    if args.eval_data and not Path(args.eval_data).is_dir():  # found now, not after the training
        raise IfanError(f"eval_data {args.eval_data}: no such folder")
    for path in (out, state_path):
        check_not_input(path, [args.init], [args.eval_data], what="output")
        check_output_file(path, overwrite=replace, create_parent=True, what="output")
    return out, state_path


def load_state(path: Path) -> dict:
    """The training state, loaded without running code, every field type-checked."""
    import pickle

    import torch

    try:
        st = torch.load(read_input_path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise IfanError(f"{path}: not a plain training state (corrupt, or it holds pickled code)") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile):
        raise IfanError(f"{path}: not a readable training state (corrupt or truncated)") from None
    kinds = {"model": dict, "optimizer": dict, "step": int, "elapsed": (int, float), "history": list}
    if not isinstance(st, dict):
        raise IfanError(f"{path}: not a training state (holds a {type(st).__name__})")
    if "reblur" in st and not isinstance(st["reblur"], dict):
        raise IfanError(f"{path}: not a training state ('reblur' of the wrong type)")
    for key, kind in kinds.items():
        if not isinstance(st.get(key), kind) or isinstance(st.get(key), bool):
            raise IfanError(f"{path}: not a training state ({key!r} missing or of the wrong type)")
    if st["step"] < 0 or not math.isfinite(st["elapsed"]) or st["elapsed"] < 0:
        raise IfanError(f"{path}: not a training state (step {st['step']}, elapsed {st['elapsed']})")
    return st


def run(args: TrainRequest) -> TrainResult:
    """Train (or resume, or fine-tune from init) until the step cap or the budget; the checkpoint
    is usable at every checkpoint and final at the end."""
    import torch

    if args.loss not in LOSSES:
        raise IfanError(f"loss {args.loss!r}: expected one of {', '.join(LOSSES)}")
    if args.patch % 8:
        raise IfanError(f"patch {args.patch}: must be a multiple of 8")
    if args.loss == "psnr-scene" and args.batch % args.crops_per_scene:
        raise IfanError(f"loss psnr-scene: batch {args.batch} is not a multiple of crops_per_scene "
                        f"{args.crops_per_scene}")
    out, state_path = check_outputs(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    training = Training(args, out, state_path)
    training.train()
    v = training.finish()
    return TrainResult(out, state_path, training.step, round(training.elapsed / 60, 2), v)


class Training:
    """One run of `ifan train`: the model and optimizer (from --init or --resume), the loop over
    the wall-clock budget, checkpoints with their training record."""

    def __init__(self, args: TrainRequest, out: Path, state_path: Path):
        import torch

        from ifan_trt.model import IFAN, IFANConfig
        from ifan_trt.training.objective import Objective, ReblurNet

        self.args, self.out, self.state_path = args, out, state_path
        self.config = IFANConfig(n_iters=args.n_iters, ch=args.ch, iac_mode="official", dual=args.dual)
        self.model = IFAN(self.config)
        # the reblurring network is trained with the model but saved only in the training state
        self.reblur_net = (ReblurNet(self.model.F[-1].out_channels, self.config.feat_channels, args.n_iters)
                           if args.loss_reblur > 0 else None)
        self.objective = Objective(self.model, LOSSES[args.loss][0], args.loss_disp, args.loss_reblur, self.reblur_net,
                                   harm_weight=args.loss_no_harm)
        self.opt = torch.optim.Adam(list(self.objective.parameters()), lr=args.lr)
        self.step, self.elapsed, self.history = 0, 0.0, []
        self.command = full_command(args)
        self.init_record = self._init() if args.init else None
        if args.resume:
            self._resume()
        self.budget = args.budget_min * 60
        self.scene = parse_scene(args.scene)
        # fixed validation set: seed + 1, never a training seed
        self.val = [make_batch(args.seed + 1, i, 1, 192, args.max_radius, 0.0, self.scene, dual=args.dual,
                               noise=args.noise)
                    for i in range(args.val_count)]

    def _init(self) -> dict:
        from ifan_trt.checkpoint import load_checkpoint

        start = load_checkpoint(self.args.init)
        if start.config != self.config:
            raise IfanError(f"{self.args.init}: is {start.config.variant}, not {self.config.variant}; "
                            "match ch and n_iters")
        self.model.load_state_dict(start.model.state_dict())
        return {"sha256": start.sha256, **start.meta}

    def _resume(self) -> None:
        if not self.state_path.is_file():
            raise IfanError(f"{self.state_path}: no training state to resume; start without resume")
        st = load_state(self.state_path)
        try:
            if (self.reblur_net is None) != ("reblur" not in st):
                raise ValueError("the state was saved with" + (" " if "reblur" in st else "out ") + "a reblurring "
                                 "network (loss_reblur)")
            self.model.load_state_dict(st["model"])
            if self.reblur_net is not None:
                self.reblur_net.load_state_dict(st["reblur"])
            self.opt.load_state_dict(st["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise IfanError(f"{self.state_path}: does not match this model and optimizer "
                            f"({str(exc).splitlines()[0]}); resume with the options of the original run") from None
        self.step, self.elapsed, self.history = st["step"], st["elapsed"], st["history"]
        log(f"resumed at step {self.step}, {self.elapsed / 60:.1f} min done")

    def meta(self, final: bool, metrics: dict | None = None) -> dict:
        import torch

        from ifan_trt.training.synthetic import TRAIN_PHOTOS

        args = self.args
        return {
            "what": "ifan-trt default model, trained on synthetic defocus (ifan_trt.training.synthetic)",
            "command": self.command, "seed": args.seed, "config": self.config.to_dict(), "why_this_size": WHY,
            "data": {"generator": "ifan_trt.training.synthetic.make_crops, scene k of the run from (seed, k), windows from (seed, k, 1)",
                     "dual_pixel_views": self.objective.needs_views,
                     "photos": "skimage.data " + ", ".join(TRAIN_PHOTOS)
                               + " (coffee held out) + tinted CC0 textures + dead leaves",
                     "patch": args.patch, "scene": args.scene, "crops_per_scene": args.crops_per_scene,
                     "render_margin": 16, "max_radius_px": args.max_radius,
                     "jpeg_prob": args.jpeg_prob, "small_blur_prob": args.small_blur_prob, "soft_prob": args.soft_prob, "grain": args.grain, "low_contrast_prob": args.low_contrast_prob, "dof_prob": args.dof_prob, "dof_max_radius": args.dof_max_radius, "noise": f"shot + read, sigma <= {args.noise} each"},
            "loss": self.loss_record(),
            "optimizer": f"Adam lr {args.lr}, grad-norm clip 1.0 (network and reblurring network together), {args.lr_warmup}-step warmup, cosine to 2% over max(step/steps, time/budget)",
            "batch": args.batch, "steps": self.step, "train_minutes": round(self.elapsed / 60, 2),
            "budget_min": args.budget_min, "threads": args.threads,
            "final": final, "history": self.history[-40:], "metrics": metrics or {},
            "init_record": self.init_record,
            "torch": str(torch.__version__), "python": platform.python_version(),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def loss_record(self) -> str:
        args = self.args
        text = LOSSES[args.loss][1] + " between the unclipped output and the sharp target"
        if args.loss_disp > 0:
            text += f" + {args.loss_disp:g} * L_disp (right view warped by the DME's disparity vs left view, 1/8 scale)"
        if args.loss_reblur > 0:
            text += f" + {args.loss_reblur:g} * L_reblur (reblurring network on the sharp image vs the input, 1/8 scale"
            text += f"; the first {args.reblur_warmup} steps train the reblurring network only)" if args.reblur_warmup else ")"
        if args.loss_no_harm > 0:
            text += f" + {args.loss_no_harm:g} * L_no_harm (mean over patches of the dB lost against the input)"
        return text

    def checkpoint(self, final: bool, metrics: dict | None = None) -> None:
        import torch

        from ifan_trt.checkpoint import save_checkpoint

        save_checkpoint(self.model, self.out, self.meta(final, metrics), overwrite=True)
        with atomic_write(self.state_path, overwrite=True) as fh:  # plain containers: loads with weights_only=True
            state = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                     "elapsed": self.elapsed, "history": self.history}
            if self.reblur_net is not None:
                state["reblur"] = self.reblur_net.state_dict()
            torch.save(state, fh)

    def one_step(self) -> tuple[dict[str, float], float]:
        """One optimisation step; (the objective's terms, learning rate)."""
        import torch

        args = self.args
        batch = make_batch(args.seed, self.step, args.batch, args.patch, args.max_radius, args.jpeg_prob, self.scene,
                           args.crops_per_scene, dual=self.objective.needs_views,
                           small_blur_prob=args.small_blur_prob, noise=args.noise, soft_prob=args.soft_prob, grain=args.grain,
                           low_contrast_prob=args.low_contrast_prob, dof_prob=args.dof_prob,
                           dof_max_radius=args.dof_max_radius)
        lr = lr_at(max(self.step / args.steps, self.elapsed / self.budget), args.lr, self.step, args.lr_warmup)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.objective.reblur_trains_network = self.step >= args.reblur_warmup
        terms = self.objective(*batch, crops_per_scene=args.crops_per_scene)
        self.opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        # one bad synthetic batch must not derail a short run
        torch.nn.utils.clip_grad_norm_([p for g in self.opt.param_groups for p in g["params"]], 1.0)
        self.opt.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}, lr

    def validate(self) -> dict:
        self.model.eval()
        v = validate(self.model, self.val)
        self.model.train()
        self.history.append({"step": self.step, "minutes": round(self.elapsed / 60, 2), **v})
        return v

    def train(self) -> None:
        args = self.args
        log(f"training {self.config.variant}: {sum(p.numel() for p in self.model.parameters()) / 1e6:.2f} M params, "
            f"patch {args.patch}, batch {args.batch}, budget {args.budget_min} min")
        self.model.train()
        t_last, last_ckpt, losses = time.time(), time.time(), []
        while self.step < args.steps and self.elapsed < self.budget:
            terms, lr = self.one_step()
            losses.append(terms)
            now = time.time()
            self.elapsed += now - t_last
            t_last = now
            if self.step % args.log_every == 0:
                mean = {k: np.mean([t[k] for t in losses]) for k in losses[0]}
                log(f"step {self.step} loss " + " ".join(f"{k} {v:.6f}" for k, v in mean.items()) + f" lr {lr:.2e} "
                    f"{self.elapsed / self.step:.2f} s/step, {self.elapsed / 60:.1f}/{args.budget_min:.0f} min")
                losses = []
            if now - last_ckpt > args.ckpt_every_min * 60:
                v = self.validate()
                log(f"val step {self.step}: input {v['val_psnr_input']:.2f} dB -> model {v['val_psnr_model']:.2f} dB")
                self.checkpoint(False)
                last_ckpt = t_last = time.time()  # validation time is not training time

    def finish(self) -> dict:
        v = self.validate()
        self.model.eval()
        log(f"done: {self.step} steps in {self.elapsed / 60:.1f} min; "
            f"val {v['val_psnr_input']:.2f} -> {v['val_psnr_model']:.2f} dB")
        self.checkpoint(True, {"validation": v})
        if not self.args.eval_data:
            return v
        try:
            from ifan_trt.training.evaluate import evaluate_folder

            table = evaluate_folder(self.args.eval_data, checkpoint=str(self.out), csv_path=None, progress=False)
            self.checkpoint(True, {"validation": v, "test": table})
            log("test: " + json.dumps(table))
        except Exception as exc:  # the weights are saved either way; the record says why not
            log(f"final evaluation failed: {exc!r}")
        return v
