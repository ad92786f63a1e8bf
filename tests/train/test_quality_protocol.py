"""The held-out protocol of bench.default_model_quality: the blur it applies and how it decides the
default model's goals (no photo worse by > 0.1 dB, sharp >= 40 dB, mean gain at r >= 3 >= 1.5 dB)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.default_model_quality import disc_blur, evaluate_model, summarise, table


def test_disc_blur_is_a_hard_disc_of_the_radius_and_keeps_radius_0():
    img = np.zeros((21, 21, 3), np.uint8)
    img[10, 10] = 255
    assert np.array_equal(disc_blur(img, 0), img)
    spread = disc_blur(img, 3)[..., 0] > 0
    ys, xs = np.nonzero(spread)
    assert ys.min() == 7 and ys.max() == 13 and xs.min() == 7 and xs.max() == 13  # radius 3 exactly
    assert spread.sum() == 29  # the lattice points inside a circle of radius 3 (cv2.circle, filled)


def _rows(gains: dict[tuple[str, int], float], sharp_db: float = 45.0):
    rows = [{"photo": p, "radius": r, "input_db": 30.0, "output_db": 30.0 + g} for (p, r), g in gains.items()]
    rows += [{"photo": p, "radius": 0, "input_db": float("inf"), "output_db": sharp_db} for p in {p for p, _ in gains}]
    return rows


def test_goals_pass_and_fail_on_the_stated_thresholds():
    good = summarise(_rows({("a", 1): -0.05, ("a", 3): 1.0, ("a", 5): 2.0, ("b", 1): 0.2, ("b", 3): 1.5, ("b", 5): 1.5}))
    assert good["goals_met"] == {"no_image_worse_by_0.1_db": True, "sharp_at_40_db": True,
                                 "mean_gain_r3_at_1.5_db": True}
    assert good["mean_gain_r3_db"] == pytest.approx(1.5) and good["worst_case"] == "a r=1"
    bad = summarise(_rows({("a", 1): -0.15, ("a", 3): 1.0, ("a", 5): 1.9}, sharp_db=39.9))
    assert bad["goals_met"] == {"no_image_worse_by_0.1_db": False, "sharp_at_40_db": False,
                                "mean_gain_r3_at_1.5_db": False}
    assert bad["worse_than_input_by_0.1"] == 1 and bad["cases"] == 3


def test_identity_model_gains_nothing_and_passes_sharp_photos_exactly():
    rng = np.random.default_rng(0)
    photos = {"noise": rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)}
    rows = evaluate_model(lambda x: x, photos, radii=(0, 1, 3))
    s = summarise(rows)
    assert s["worst_gain_db"] == 0.0 and s["sharp_min_db"] == float("inf")
    cells = [c.strip() for c in table(rows).splitlines()[-1].split("|")[1:-1]]
    assert cells == ["noise", "exact", "+0.00 (11.7)", "+0.00 (10.8)"]


def test_summary_is_plain_json():
    import json

    s = summarise(_rows({("a", 1): -0.2, ("a", 3): 2.0}))
    assert json.loads(json.dumps(s))["worse_than_input_by_0.1"] == 1
