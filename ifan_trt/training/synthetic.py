"""Synthetic defocus data: sharp scenes with depth, rendered through a thin lens.

A scene is a stack of layers (colour, alpha, inverse depth), far to near: a background plane
with a smooth depth ramp and a few textured foreground objects at their own depths. Textures
are redistributable photos bundled with scikit-image (public domain / CC0, see PHOTOS) or
procedural dead-leaves images.

Rendering (in linear light):
- thin lens: CoC radius in pixels = strength * |1/z - 1/z_focus|, i.e. proportional to the
  inverse-depth distance from the focal plane (`coc_radius`);
- aperture: a disc or a regular polygon (`aperture_kernel`), anti-aliased;
- occlusion: pixels are grouped into layers of equal radius and composited back to front with
  the blurred alpha ("over"), so near blur spreads over the background but far blur does not
  leak over a near sharp object; the accumulated alpha normalises the result;
- dual-pixel views: the same with the left / right half of the aperture, mirrored behind the
  focal plane (optional, `dual=True`).
Then sensor noise (shot + read) and optional JPEG. Everything is drawn from one
``numpy.random.Generator``: the same seed gives the same images.

Needs scikit-image for the photos (the ``train`` extra); dead leaves alone need only numpy/cv2.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ifan_trt.errors import IfanError
from ifan_trt.files import check_output_folder, write_bytes
from ifan_trt.progress import Bars, bar

GAMMA = 2.2
# skimage.data photos we may redistribute derived images of, with their licence (skimage docs)
PHOTOS = {
    "astronaut": "public domain (NASA)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions",
    # smooth, low-contrast content with small bright features and dark surrounds: what a model
    # trained on crisp scenes over-sharpens (a moon's craters, shadows in a photo)
    "cell": "CC0 (Paul Müller et al.)",
    "retina": "CC0 (Mikael Häggström)",
}
# grey CC0 textures, tinted at random
TEXTURES = {
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "camera": "CC0 (Lav Varshney)",
}
# coffee is kept out of training so it can check generalisation (and make the bundled sample)
TRAIN_PHOTOS = tuple(p for p in PHOTOS if p != "coffee")

_CACHE: dict[str, np.ndarray] = {}


def _skimage_image(name: str) -> np.ndarray:
    """A bundled skimage.data image as linear float32 RGB (cached)."""
    if name not in _CACHE:
        try:
            import skimage.data
        except ImportError:
            raise IfanError("synthetic photos need scikit-image: pip install 'ifan-trt[train]' "
                            "(or use --photos none for dead leaves only)") from None
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3].astype(np.float32) / 255.0
        _CACHE[name] = img ** GAMMA
    return _CACHE[name]


def to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.clip(srgb, 0, 1) ** GAMMA


def to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.clip(linear, 0, 1) ** (1.0 / GAMMA)


# ---------------------------------------------------------------- textures

def dead_leaves(rng: np.random.Generator, h: int, w: int, n: int | None = None) -> np.ndarray:
    """Dead-leaves image (linear RGB): discs and polygons with power-law sizes, later ones on top,
    with a mild per-leaf gradient so surfaces are not perfectly flat."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = rng.uniform(0.05, 0.9, 3)
    n = n or int(200 + h * w / 50)
    rmin, rmax = 2.5, max(h, w) / 3
    # r ~ r^-3 (scale invariant): inverse-CDF sampling
    u = rng.random(n)
    radii = (rmin ** -2 - u * (rmin ** -2 - rmax ** -2)) ** -0.5
    for r in radii:
        colour = tuple(float(c) for c in rng.uniform(0.0, 1.0, 3) ** 1.5)
        cx, cy = rng.uniform(-r, w + r), rng.uniform(-r, h + r)
        if rng.random() < 0.6:
            cv2.circle(img, (int(cx * 16), int(cy * 16)), int(r * 16), colour, -1, cv2.LINE_AA, 4)
        else:
            k = int(rng.integers(3, 7))
            ang = rng.uniform(0, 2 * np.pi) + np.sort(rng.uniform(0, 2 * np.pi, k))
            pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)
            cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
    # fine texture: fixed-pattern grain so flat areas carry high frequencies too
    grain = rng.normal(1.0, rng.uniform(0.0, 0.08), (h, w, 1)).astype(np.float32)
    return np.clip(img * grain, 0, 1)


def _crop_photo(rng: np.random.Generator, img: np.ndarray, h: int, w: int, tint: bool) -> np.ndarray:
    ih, iw = img.shape[:2]
    # downscaling sharpens; upscale only as much as the crop needs
    scale = max(h / ih, w / iw, rng.uniform(0.45, 1.1))
    ch, cw = min(ih, int(math.ceil(h / scale))), min(iw, int(math.ceil(w / scale)))
    y, x = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
    crop = img[y:y + ch, x:x + cw]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (w, h), interpolation=interp)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if tint:
        crop = crop * rng.uniform(0.3, 1.0, 3).astype(np.float32)
    return np.ascontiguousarray(np.clip(crop, 0, 1), dtype=np.float32)


def texture(rng: np.random.Generator, h: int, w: int, photos: tuple[str, ...]) -> np.ndarray:
    """A random texture: a photo crop (55%), a tinted CC0 texture (15%) or dead leaves."""
    u = rng.random()
    # a target must be sharp: photos that would need more than the 1.1x upscale the random
    # scale allows are left out at this size (e.g. chelsea, 451x300, for a 384x512 image)
    fits = lambda name: max(h / _skimage_image(name).shape[0], w / _skimage_image(name).shape[1]) <= 1.1
    photos = tuple(p for p in photos if fits(p))
    if photos and u < 0.55:
        name = photos[int(rng.integers(len(photos)))]
        return _crop_photo(rng, _skimage_image(name), h, w, tint=False)
    textures = [t for t in TEXTURES if fits(t)]
    if photos and textures and u < 0.70:
        name = textures[int(rng.integers(len(textures)))]
        return _crop_photo(rng, _skimage_image(name), h, w, tint=True)
    return dead_leaves(rng, h, w)


# ---------------------------------------------------------------- scene

@dataclass
class Layer:
    colour: np.ndarray     # (H, W, 3) linear RGB
    alpha: np.ndarray      # (H, W) coverage in [0, 1]
    inv_depth: np.ndarray  # (H, W) 1/z, larger = nearer


def _shape_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An anti-aliased object silhouette: ellipse, polygon or a blob of a few of them."""
    mask = np.zeros((h, w), np.float32)
    size = min(h, w) * rng.uniform(0.12, 0.45)
    cx, cy = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(0.1 * h, 0.9 * h)
    for _ in range(int(rng.integers(1, 4))):
        ox, oy = cx + rng.normal(0, size / 3), cy + rng.normal(0, size / 3)
        if rng.random() < 0.5:
            axes = (int(size * rng.uniform(0.4, 1) * 16), int(size * rng.uniform(0.4, 1) * 16))
            cv2.ellipse(mask, (int(ox * 16), int(oy * 16)), axes, rng.uniform(0, 180), 0, 360,
                        1.0, -1, cv2.LINE_AA, 4)
        else:
            k = int(rng.integers(3, 9))
            ang = rng.uniform(0, 2 * np.pi) + np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = size * rng.uniform(0.5, 1.0, k)
            pts = np.stack([ox + rad * np.cos(ang), oy + rad * np.sin(ang)], 1)
            cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    return np.clip(mask, 0, 1)


def _ramp(rng: np.random.Generator, h: int, w: int, near: float, far: float) -> np.ndarray:
    """A plane in inverse depth spanning [far, near] along a random direction, plus a mild bend."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(theta) + yy * np.sin(theta))
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    t = t ** rng.uniform(0.6, 1.6)
    return (far + (near - far) * t).astype(np.float32)


def make_scene(rng: np.random.Generator, h: int, w: int,
               photos: tuple[str, ...] = TRAIN_PHOTOS) -> list[Layer]:
    """Background with a depth ramp + 0..4 objects, far to near. Inverse depth in [0, 1]."""
    lo = rng.uniform(0.0, 0.5)
    hi = lo + rng.uniform(0.0, 0.5) if rng.random() < 0.7 else lo
    layers = [Layer(texture(rng, h, w, photos), np.ones((h, w), np.float32), _ramp(rng, h, w, hi, lo))]
    n_obj = int(rng.choice([0, 1, 2, 3, 4], p=[0.15, 0.3, 0.25, 0.2, 0.1]))
    depths = np.sort(rng.uniform(lo, 1.0, n_obj))
    for d in depths:
        inv = np.full((h, w), d, np.float32)
        if rng.random() < 0.3:  # slightly tilted object
            inv = inv + _ramp(rng, h, w, 0.05, 0.0)
        layers.append(Layer(texture(rng, h, w, photos), _shape_mask(rng, h, w), inv))
    return layers


def composite_sharp(layers: list[Layer]) -> tuple[np.ndarray, np.ndarray]:
    """All-in-focus image and the visible inverse depth (hard over, back to front)."""
    img = np.zeros_like(layers[0].colour)
    inv = np.zeros_like(layers[0].inv_depth)
    for layer in layers:
        a = layer.alpha[..., None]
        img = img * (1 - a) + layer.colour * a
        inv = np.where(layer.alpha >= 0.5, layer.inv_depth, inv)
    return img, inv


# ---------------------------------------------------------------- optics

def coc_radius(inv_depth: np.ndarray | float, inv_focus: float, strength: float) -> np.ndarray:
    """Signed circle-of-confusion radius in pixels (thin lens): strength * (1/z - 1/z_f).

    Thin lens: CoC diameter = A f / (z_f - f) * |z - z_f| / z = A f z_f / (z_f - f) * |1/z_f - 1/z|,
    so with the aperture, focal length and focus fixed it is linear in inverse depth; `strength`
    folds the constant and the pixel pitch. Positive = in front of the focal plane.
    """
    return strength * (np.asarray(inv_depth, np.float32) - inv_focus)


def aperture_kernel(radius: float, blades: int = 0, rotation: float = 0.0, half: str = "") -> np.ndarray:
    """Normalised anti-aliased aperture of |radius| px: a disc (blades=0), a regular polygon
    with its vertices on that circle (the blades inside the lens's round opening), or (blades < 0)
    a Gaussian of the same RMS radius, for lenses whose blur is soft-edged.

    half="left"/"right": the dual-pixel sub-aperture (mirrored when radius < 0, behind focus),
    scaled so that (left + right) / 2 equals the full kernel.
    """
    r = abs(float(radius))
    sigma = r / math.sqrt(2)  # blades < 0: a Gaussian with the disc's RMS radius
    n = int(math.ceil(3 * sigma if blades < 0 else r + 0.5))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    dist = np.hypot(xx, yy)
    if blades < 0:
        # soft PSF: what aberrations and diffraction make of a real lens's disc
        k = np.exp(-(dist * dist) / (2 * sigma * sigma)) if r >= 0.5 else (dist == 0).astype(np.float32)
        k[dist > 3 * sigma + 0.5] = 0
    elif blades >= 3:
        sector = 2 * np.pi / blades
        # angle from the normal of the nearest side (vertices at rotation + j * sector); a side at
        # apothem a is where dist * cos(phi) = a, and the vertices on radius r give a = r cos(pi/n)
        phi = np.mod(np.arctan2(yy, xx) - rotation, sector) - sector / 2
        dist = dist * np.cos(phi) / np.cos(np.pi / blades)
    if blades >= 0:
        k = np.clip(r + 0.5 - dist, 0.0, 1.0)
    if k.sum() <= 0:  # r < 0.5: a point
        k = np.zeros_like(k)
        k[n, n] = 1.0
    k /= k.sum()
    if half:
        side = np.clip(0.5 - xx, 0.0, 1.0) if half == "left" else np.clip(0.5 + xx, 0.0, 1.0)
        side = np.where(xx == 0, 0.5, side)
        # In front of the focal plane the light through the left half of the lens stays on the
        # left (the image of a near point is shifted left); behind it the rays have crossed.
        # cv2.filter2D correlates, so the kernel is the mirrored PSF: mirror when in front.
        if radius > 0:
            side = side[:, ::-1]
        k = 2.0 * k * side
    return k.astype(np.float32)


def render_defocus(layers: list[Layer], inv_focus: float, strength: float, blades: int = 0,
                   rotation: float = 0.0, step: float = 0.5, dual: bool = False) -> dict[str, np.ndarray]:
    """Defocused image (linear) of a layer stack; {"c": centre, and "l", "r" when dual}.

    Each layer is split into groups of equal quantised radius (steps of `step` px); every group's
    premultiplied colour and alpha are blurred with the aperture and composited back to front.
    """
    views = ("c", "l", "r") if dual else ("c",)
    h, w = layers[0].alpha.shape
    acc = {v: np.zeros((h, w, 3), np.float32) for v in views}
    weight = {v: np.zeros((h, w), np.float32) for v in views}
    for layer in layers:
        rad = coc_radius(layer.inv_depth, inv_focus, strength)
        q = np.round(rad / step).astype(np.int32)
        covered = layer.alpha > 0
        # groups far to near: behind focus (negative radius) is further away
        for level in np.unique(q[covered]):
            a = np.where(q == level, layer.alpha, 0).astype(np.float32)
            rgba = np.concatenate([layer.colour * a[..., None], a[..., None]], axis=2)
            for v in views:
                kern = aperture_kernel(level * step, blades, rotation,
                                       half={"c": "", "l": "left", "r": "right"}[v])
                if kern.shape[0] > 1:
                    blurred = cv2.filter2D(rgba, -1, kern, borderType=cv2.BORDER_REFLECT)
                else:
                    blurred = rgba
                cover = np.clip(blurred[..., 3], 0, 1)
                acc[v] = acc[v] * (1 - cover[..., None]) + blurred[..., :3]
                weight[v] = weight[v] * (1 - cover) + cover
    return {v: acc[v] / np.maximum(weight[v], 1e-6)[..., None] for v in views}


# ---------------------------------------------------------------- one sample

@dataclass
class Sample:
    source: np.ndarray   # (H, W, 3) sRGB float32 in [0, 1], defocused + noise (+ JPEG)
    target: np.ndarray   # (H, W, 3) sRGB float32, all in focus
    inv_depth: np.ndarray
    params: dict
    left: np.ndarray | None = None
    right: np.ndarray | None = None


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    u8 = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def make_sample(rng: np.random.Generator, h: int, w: int, photos: tuple[str, ...] = TRAIN_PHOTOS,
                max_radius: float = 10.0, noise: float = 0.01, jpeg_prob: float = 0.0,
                dual: bool = False, srgb_blur_prob: float = 0.5) -> Sample:
    """One (defocused, sharp) pair. The largest CoC radius in the image is drawn in
    [0.5, max_radius] px; the focus sits on an object or the background half of the time."""
    return make_crops(rng, h, w, [(0, 0, h, w)], photos, max_radius, noise, jpeg_prob, dual, srgb_blur_prob)[0]


def make_crops(rng: np.random.Generator, h: int, w: int, windows: list[tuple[int, int, int, int]],
               photos: tuple[str, ...] = TRAIN_PHOTOS, max_radius: float = 10.0, noise: float = 0.01,
               jpeg_prob: float = 0.0, dual: bool = False, srgb_blur_prob: float = 0.5,
               small_blur_prob: float = 0.0, soft_prob: float = 0.0, grain: float = 0.0,
               low_contrast_prob: float = 0.0, dof_prob: float = 0.0, dof_max_radius: float = 6.0) -> list[Sample]:
    """(defocused, sharp) pairs of windows (y, x, height, width) of one h x w scene: training
    patches keep the scale of full-size images (objects, textures and CoC relative to them) while
    only the windows are rendered. Focus and lens are chosen for the whole scene. With probability
    small_blur_prob the largest CoC radius is drawn in [0, 2] px instead (nearly sharp scenes, below
    0.25 px exactly sharp: what the model must pass through or only touch up). noise: the largest
    sigma of the read and of the shot noise (each drawn in [0, noise]); 0 adds none. With
    probability soft_prob the scene's content is itself soft (each layer's colour low-passed,
    Gaussian sigma in [0.5, 2] px): a sharp photo need not be crisp, so softness alone must not be
    read as defocus and "restored" past the original. grain: the largest sigma of a luminance grain
    in the sharp scene itself (multiplicative, drawn per scene in [0, grain]): the target carries
    it, so a sharp photo's grain is kept and, once blurred away, not invented back. With probability
    low_contrast_prob the scene's sRGB values are drawn towards their mean by a factor in [0.2, 0.6]
    (a hazy or flat photo: small detail of small amplitude, whose blurred input is already close to
    the target, so any invented contrast costs many dB). With probability dof_prob the sharp photo has
    its own depth of field: the target is the scene rendered in focus on one object with a largest
    CoC radius in [1, dof_max_radius] px, and the input is that target blurred again, evenly, by the
    drawn radius (a photo with a soft background, blurred: only the added blur is to be removed)."""
    scene = make_scene(rng, h, w, photos)
    if soft_prob > 0 and rng.random() < soft_prob:  # no draw when off: old seeds keep their images
        sigma = float(rng.uniform(0.5, 2.0))
        scene = [Layer(cv2.GaussianBlur(l.colour, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), l.alpha, l.inv_depth)
                 for l in scene]
    if grain > 0:  # no draw when off
        g = float(rng.uniform(0, grain))
        scene = [Layer(np.clip(l.colour * (1 + g * rng.standard_normal(l.colour.shape[:2] + (1,), np.float32)), 0, 1),
                       l.alpha, l.inv_depth) for l in scene]
    if low_contrast_prob > 0 and rng.random() < low_contrast_prob:  # no draw when off
        k = float(rng.uniform(0.2, 0.6))
        mean = float(np.mean([to_srgb(l.colour).mean() for l in scene]))
        scene = [Layer(to_linear(mean + k * (to_srgb(l.colour) - mean)).astype(np.float32), l.alpha, l.inv_depth)
                 for l in scene]
    sharp, inv = composite_sharp(scene)
    if rng.random() < 0.5:
        inv_focus = float(rng.choice([float(np.median(l.inv_depth)) for l in scene]))
    else:
        inv_focus = float(rng.uniform(0.0, 1.0))
    spread = max(abs(float(inv.max()) - inv_focus), abs(float(inv.min()) - inv_focus), 0.05)
    small = small_blur_prob > 0 and bool(rng.random() < small_blur_prob)  # no draw when off: old seeds keep their images
    strength = float(rng.uniform(0.0, 2.0) if small else rng.uniform(0.5, max_radius)) / spread
    blades = int(rng.choice([0, 0, 0, 5, 6, 7, 8, -1, -1]))  # disc, polygon or soft (Gaussian)
    rotation = float(rng.uniform(0, 2 * np.pi))
    dof = dof_prob > 0 and bool(rng.random() < dof_prob)  # no draw when off
    if dof:
        dof_focus = float(rng.choice([float(np.median(l.inv_depth)) for l in scene]))
        dof_spread = max(abs(float(inv.max()) - dof_focus), abs(float(inv.min()) - dof_focus), 0.05)
        dof_strength = float(rng.uniform(1.0, max(1.0, dof_max_radius))) / dof_spread
    linear_scene = scene
    # A lens blurs linear light (blurred highlights come out brighter in sRGB); blurs made in
    # software on 8-bit images usually act on sRGB values. Both, so that the model does not learn
    # "blurred means brighter" and darken what a user blurred in sRGB.
    srgb_blur = bool(rng.random() < srgb_blur_prob)
    if srgb_blur:
        scene = [Layer(to_srgb(l.colour), l.alpha, l.inv_depth) for l in scene]
    samples = []
    for y, x, wh, ww in windows:
        cut = (slice(y, y + wh), slice(x, x + ww))
        if dof:
            lin = render_defocus([Layer(l.colour[cut], l.alpha[cut], l.inv_depth[cut]) for l in linear_scene],
                                 dof_focus, dof_strength, blades, rotation)["c"]
            target = to_srgb(lin).astype(np.float32)
            # one flat layer at inverse depth 1, focus at 0: a CoC of `strength * spread` everywhere
            layers = [Layer(target if srgb_blur else lin, np.ones((wh, ww), np.float32), np.ones((wh, ww), np.float32))]
            views = render_defocus(layers, 0.0, strength * spread, blades, rotation, dual=dual)
        else:
            target = to_srgb(sharp[cut]).astype(np.float32)
            layers = [Layer(l.colour[cut], l.alpha[cut], l.inv_depth[cut]) for l in scene]
            views = render_defocus(layers, inv_focus, strength, blades, rotation, dual=dual)
        params = {"inv_focus": inv_focus, "strength": strength, "blades": blades, "srgb_blur": srgb_blur,
                  "max_radius_px": strength * spread, "own_dof_max_radius_px": dof_strength * dof_spread if dof else 0.0}
        out = {}
        read, shot = (float(rng.uniform(0, noise)), float(rng.uniform(0, noise))) if noise else (0.0, 0.0)
        quality = int(rng.integers(70, 96)) if rng.random() < jpeg_prob else 0
        for v, lin in views.items():
            img = np.clip(lin, 0, 1) if srgb_blur else to_srgb(lin)
            if noise:
                sigma = np.sqrt(read ** 2 + shot ** 2 * img)
                img = img + rng.normal(0, 1, img.shape).astype(np.float32) * sigma
            img = np.clip(img, 0, 1)
            if quality:
                img = _jpeg(img, quality)
            out[v] = img.astype(np.float32)
        params.update({"read_noise": read, "shot_noise": shot, "jpeg_quality": quality})
        samples.append(Sample(out["c"], target, inv[cut], params,
                              out.get("l"), out.get("r")))
    return samples


# ---------------------------------------------------------------- writing folders

def _write_png(path: Path, rgb: np.ndarray, overwrite: bool = False) -> None:
    u8 = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(u8[..., ::-1]))
    if not ok:
        raise IfanError(f"{path}: cannot encode the image")
    write_bytes(path, buf.tobytes(), overwrite)


def check_dataset_folder(dirs: dict[str, Path], count: int, overwrite: bool) -> None:
    """A set is written whole into empty folders: without overwrite any existing image is refused;
    with it, images this run would not replace are refused too (two seeds never mix in one set)."""
    names = {f"{i:05d}.png" for i in range(count)}
    for d in dirs.values():
        if d.exists() and not d.is_dir():
            raise IfanError(f"--output {d}: is a file, not a folder")
        check_output_folder(d, label=f"--output {d}")
        present = sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []
        if present and not overwrite:
            raise IfanError(f"--output {d}: already holds {len(present)} file(s); pass --overwrite to replace the "
                            "set, or choose an empty folder")
        stale = [n for n in present if n not in names]
        if stale:
            raise IfanError(f"--output {d}: holds {len(stale)} file(s) this run would not replace (e.g. {stale[0]}); "
                            "they would mix into the new set; choose an empty folder")


def write_dataset(out: str | os.PathLike, count: int, size: tuple[int, int], seed: int,
                  photos: tuple[str, ...] = tuple(PHOTOS), max_radius: float = 10.0,
                  jpeg_prob: float = 0.0, dual: bool = False, progress: Bars | None = None, overwrite: bool = False) -> Path:
    """DPDD-style folders. Single view: OUT/source, OUT/target (RealDOF layout); dual: OUT/test_c/
    source, OUT/test_c/target, OUT/test_l/source, OUT/test_r/source (DPDD layout). Image i is
    drawn from seed (seed, i), so any subset can be regenerated alone. progress: bars for the
    images (ifan_trt.progress)."""
    out = Path(out)
    h, w = size
    base = out / "test_c" if dual else out
    dirs = {"source": base / "source", "target": base / "target"}
    if dual:
        dirs.update({"left": out / "test_l" / "source", "right": out / "test_r" / "source"})
    check_dataset_folder(dirs, count, overwrite)
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for i in bar(progress, range(count), desc="synth", unit="img"):
        s = make_sample(np.random.default_rng([seed, i]), h, w, photos, max_radius,
                        jpeg_prob=jpeg_prob, dual=dual)
        name = f"{i:05d}.png"
        for key, rgb in (("source", s.source), ("target", s.target), ("left", s.left), ("right", s.right)):
            if key in dirs:
                _write_png(dirs[key] / name, rgb, overwrite)
    return out


def defocus_photo(srgb: np.ndarray, inv_depth: np.ndarray, inv_focus: float, strength: float,
                  blades: int = 0, read_noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Defocus one sRGB photo (H, W, 3 in [0, 1]) given a per-pixel inverse depth: the same lens
    model as the generator, for single images (e.g. the bundled sample)."""
    layer = Layer(to_linear(srgb).astype(np.float32), np.ones(srgb.shape[:2], np.float32),
                  np.asarray(inv_depth, np.float32))
    out = to_srgb(render_defocus([layer], inv_focus, strength, blades)["c"])
    if read_noise:
        out = out + np.random.default_rng(seed).normal(0, read_noise, out.shape)
    return np.clip(out, 0, 1).astype(np.float32)
