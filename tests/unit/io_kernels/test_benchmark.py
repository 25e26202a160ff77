"""benchmarks/image_kernels.py runs end to end on a few images and says which variants keep the pixels."""

from __future__ import annotations

import importlib.util
import json

import pytest


def test_image_kernels_benchmark_smoke(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    if importlib.util.find_spec("sklearn") is None:  # its photographs, not the package
        pytest.skip("needs scikit-learn's sample photographs: pip install 'stoker[demo]'")
    from benchmarks import image_kernels

    monkeypatch.setenv("STOKER_BENCH_DIR", str(tmp_path))
    assert image_kernels.main(["--images", "6", "--rounds", "1", "--stages"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    variants = result["variants"]
    assert variants["main"]["vs_main"] == 1.0 and all(v["sps"] > 0 for v in variants.values())
    exact = [name for name in variants if "~" not in name]
    assert all(variants[name]["same_as_main"] for name in exact), variants
    assert not variants[next(n for n in variants if "torch-resize~" in n)]["same_as_main"]
    assert result["stages_us_cpu"]["flip"] > 0 and "load_avg" in result["machine"]
