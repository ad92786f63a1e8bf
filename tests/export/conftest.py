"""Fixtures for the export tests: each (model, form, options) export made once per session."""

from __future__ import annotations

import pytest

from tests.helpers.export import small_model


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """exports(name) -> (model, path): each named export made once per session."""
    from ifan_trt.export import export_onnx

    recipes = {
        # name: (model kwargs, export kwargs)
        "official-plugin": (dict(n_iters=2), dict(iac_form="plugin")),
        "official-onnx": (dict(n_iters=2), dict(iac_form="onnx")),
        "official-plugin-full": (dict(n_iters=2), dict(iac_form="plugin", prune=False)),
        "corrected-plugin": (dict(n_iters=3, iac_mode="corrected", seed=1), dict(iac_form="plugin")),
        "dual-corrected-onnx": (dict(n_iters=2, dual=True, iac_mode="corrected", seed=2), dict(iac_form="onnx")),
        # the split IAC form (one node per iteration) of the models above
        "official-plugin-split": (dict(n_iters=2), dict(iac_form="plugin", iac_split=True)),
        "official-onnx-split": (dict(n_iters=2), dict(iac_form="onnx", iac_split=True)),
        "corrected-plugin-split": (dict(n_iters=3, iac_mode="corrected", seed=1),
                                   dict(iac_form="plugin", iac_split=True)),
    }
    folder = tmp_path_factory.mktemp("onnx")
    cache = {}

    def get(name):
        if name not in cache:
            model_kwargs, export_kwargs = recipes[name]
            model = small_model(**model_kwargs)
            result = export_onnx(model, folder / f"{name}.onnx", **export_kwargs)
            cache[name] = (model, result)
        return cache[name]

    return get
