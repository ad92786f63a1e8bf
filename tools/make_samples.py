"""Make the bundled sample: `python tools/make_samples.py` (needs the `train` extra); writes samples/.

defocused.png: scikit-image's "coffee" photo (CC0, Rachel Michetti), which the default model never
saw in training, defocused by ifan_trt.training.synthetic with a tilted focal plane (the table recedes from
bottom to top; focus behind the scene), a disc aperture of radius 2.5 px at the top to 4.5 px at the
bottom, and light sensor noise. sharp.png: the photo itself, the reference for PSNR.
"""

from pathlib import Path

import cv2
import numpy as np

from ifan_trt.training.synthetic import defocus_photo


def main() -> None:
    import skimage.data

    here = Path(__file__).resolve().parents[1] / "samples"
    sharp = skimage.data.coffee().astype(np.float32) / 255.0  # 400 x 600 RGB
    h, w = sharp.shape[:2]
    inv_depth = np.linspace(0.3, 0.5, h, dtype=np.float32)[:, None].repeat(w, 1)  # nearer at the bottom
    blurred = defocus_photo(sharp, inv_depth, inv_focus=0.05, strength=10.0, read_noise=0.003, seed=0)
    for name, img in (("defocused.png", blurred), ("sharp.png", sharp)):
        u8 = np.round(img * 255).astype(np.uint8)
        cv2.imwrite(str(here / name), np.ascontiguousarray(u8[..., ::-1]))


if __name__ == "__main__":
    main()
