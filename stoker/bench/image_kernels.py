"""``stoker bench image_kernels`` (``python benchmarks/image_kernels.py``): samples/s of decode + random-resized-crop 224 + flip + uint8 CHW, per variant.

Each variant runs the issue #22 image pipeline on the same JPEGs (500x375 crops of scikit-learn's two
photographs at qualities 75, 85 and 95), one sample at a time under ``seeded(seed, epoch, index)``
as a stoker worker runs it, in this process. ``main`` is the code of stoker.io before the kernels
(Pillow decode, three copies to a tensor), kept here verbatim as the baseline. Rounds are interleaved
and each figure is the median over rounds; the last stdout line is JSON.

    python benchmarks/image_kernels.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import stoker.io as sio
from stoker.bench._util import bench_dir, emit, machine
from stoker.data.rng import seeded
from stoker.io_kernels import available_backends

SIZE = 224


def sample_photos() -> list[np.ndarray]:
    """scikit-learn's two photographs (china.jpg, flower.jpg), read from its package folder.

    The same pixels as ``sklearn.datasets.load_sample_images()``, without importing scikit-learn
    (about 5 s with scipy on a loaded machine).
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the sample photographs ship with scikit-learn: pip install 'stoker[demo]'")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "images"
    return [np.asarray(Image.open(folder / name).convert("RGB")) for name in ("china.jpg", "flower.jpg")]


def make_jpegs(count: int) -> list[str]:
    """``count`` 500x375 JPEGs cut from scikit-learn's photographs (reused when already written)."""
    root = Path(bench_dir("jpegs-500x375"))
    photos = sample_photos()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        top, left = int(rng.integers(0, photo.shape[0] - 375 + 1)), int(rng.integers(0, photo.shape[1] - 500 + 1))
        path = root / f"{i:05d}_q{(75, 85, 95)[i % 3]}.jpg"
        if not path.exists():
            Image.fromarray(photo[top : top + 375, left : left + 500]).save(path, quality=(75, 85, 95)[i % 3])
        paths.append(str(path))
    return paths


def main_read_image(path: str) -> Image.Image:
    """stoker.io.read_image before the kernels."""
    with Image.open(path) as img:
        img.load()
        return img.convert("RGB") if img.mode != "RGB" else img.copy()


def main_to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """stoker.io.to_uint8_tensor before the kernels."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def sample_fns() -> dict[str, Callable[[str], torch.Tensor]]:
    """Variant name -> one sample's work (path -> CHW uint8 tensor)."""
    fns: dict[str, Callable[[str], torch.Tensor]] = {
        "main": lambda p: main_to_uint8_tensor(sio.random_hflip(sio.random_resized_crop(main_read_image(p), SIZE)))
    }
    for backend in available_backends():
        for as_array in (False, True):
            name = f"{backend}{'/array' if as_array else '/pil'}"
            fns[name] = lambda p, b=backend, a=as_array: sio.to_uint8_tensor(  # type: ignore[misc]
                sio.random_hflip(sio.random_resized_crop(sio.read_image(p, backend=b, as_array=a), SIZE))
            )
    best = available_backends()[0]
    fns[f"{best}/array/torch-resize~"] = lambda p: sio.to_uint8_tensor(
        sio.random_hflip(sio.random_resized_crop(sio.read_image(p, backend=best, as_array=True), SIZE, kernel="torch"))
    )
    fns[f"{best}/array/draft~"] = lambda p: sio.to_uint8_tensor(
        sio.random_hflip(
            sio.random_resized_crop(sio.read_image(p, backend=best, draft=(SIZE, SIZE), as_array=True), SIZE)
        )
    )
    return fns


def run_samples(fn: Callable[[str], torch.Tensor], paths: list[str], epoch: int, threads: int) -> tuple[float, float]:
    """(samples per wall second, samples per CPU second of this process) of ``fn`` over ``paths``.

    Each sample runs under its own (seed, epoch, index) key. CPU seconds count only this process's
    work, so on a shared machine they say what a kernel costs when wall time mostly says how busy
    the machine was; with threads they add up over threads.
    """

    def one(i: int) -> torch.Tensor:
        with seeded(0, epoch, i):  # a ContextVar: each thread sees its own sample's key
            return fn(paths[i])

    wall, cpu = time.perf_counter(), time.process_time()
    if threads <= 1:
        for i in range(len(paths)):
            one(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(paths))))
    return len(paths) / (time.perf_counter() - wall), len(paths) / (time.process_time() - cpu)


def check_same_output(fns: dict[str, Callable[[str], torch.Tensor]], paths: list[str]) -> dict[str, bool]:
    """Whether each variant gives ``main``'s exact tensors (draft~ is approximate by design)."""
    ref = [run_one(fns["main"], p, i) for i, p in enumerate(paths)]
    return {
        name: all(torch.equal(run_one(fn, p, i), r) for i, (p, r) in enumerate(zip(paths, ref)))
        for name, fn in fns.items()
    }


def run_one(fn: Callable[[Any], Any], path: Any, index: int) -> Any:
    with seeded(0, 0, index):
        return fn(path)


class _MainDataset(torch.utils.data.Dataset):
    """The ``main`` pipeline as a map-style Dataset (throughput only: every epoch uses epoch 0's key,
    which costs the same as re-randomising)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with seeded(0, 0, i):
            return main_to_uint8_tensor(sio.random_hflip(sio.random_resized_crop(main_read_image(self.paths[i]), SIZE)))


def loader_sps(kind: str, fn: Callable[[str], torch.Tensor] | None, paths: list[str], epochs: int = 3) -> float:
    """Steady-state samples/s (epochs after the first) of 2 data workers, batch 64.

    ``kind`` is ``"stoker"`` (a Loader running ``fn``) or ``"torch"`` (DataLoader, persistent
    workers, running ``main``).
    """
    import stoker

    if kind == "stoker":
        if fn is None:
            raise ValueError("loader_sps('stoker', ...) needs the variant's function")
        pipe = stoker.from_files(paths).shuffle(seed=0).map(fn).batch(64)
        ctx: Any = stoker.Loader(pipe, workers=2, seed=0)
    else:
        ds = _MainDataset(paths)
        ctx = contextlib.nullcontext(
            torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=2, persistent_workers=True)
        )
    with ctx as loader:
        for epoch in range(epochs):
            if epoch == 1:
                start, seen = time.perf_counter(), 0
            for batch in loader:
                if epoch >= 1:
                    seen += len(batch)
    return seen / (time.perf_counter() - start)


def measure_stages(paths: list[str], rounds: int) -> dict[str, float]:
    """CPU microseconds per sample of each op alone (median of ``rounds``), to show where the time goes."""
    best = available_backends()[0]
    arrays = [sio.read_image(p, backend=best, as_array=True) for p in paths]
    crops = [run_one(lambda a: sio.random_resized_crop(a, SIZE), a, i) for i, a in enumerate(arrays)]
    ops: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
        "decode pillow": (lambda p: sio.read_image(p, backend="pillow"), paths),
        f"decode {best} (array)": (lambda p: sio.read_image(p, backend=best, as_array=True), paths),
        "crop-resize pillow": (lambda a: sio.random_resized_crop(a, SIZE), arrays),
        "crop-resize torch~": (lambda a: sio.random_resized_crop(a, SIZE, kernel="torch"), arrays),
        "flip": (sio.random_hflip, crops),
        "to_uint8_tensor": (sio.to_uint8_tensor, crops),
        "per-sample key + generator": (lambda _: sio.sample_rng(), paths),
    }
    out = {}
    for name, (fn, inputs) in ops.items():
        times = []
        for _ in range(rounds):
            cpu = time.process_time()
            for i, x in enumerate(inputs):
                run_one(fn, x, i)
            times.append((time.process_time() - cpu) / len(inputs) * 1e6)
        out[name] = round(statistics.median(times), 1)
        print(f"{name:>32}: {out[name]:8.1f} us CPU per sample", flush=True)
    return out


def measure_loaders(fns: dict[str, Callable[[str], torch.Tensor]], paths: list[str], rounds: int) -> dict[str, Any]:
    """Interleaved rounds of DataLoader (main) and stoker (main, exact fast, torch-resize~); medians and ratios."""
    best = available_backends()[0]
    configs: dict[str, tuple[str, Callable[[str], torch.Tensor] | None]] = {
        "torch DataLoader/main": ("torch", None),
        "stoker/main": ("stoker", fns["main"]),
        f"stoker/{best}/pil": ("stoker", fns[f"{best}/pil"]),
        f"stoker/{best}/array/torch-resize~": ("stoker", fns[f"{best}/array/torch-resize~"]),
    }
    got: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(rounds):
        for name, (kind, fn) in configs.items():
            got[name].append(loader_sps(kind, fn, paths))
            print(f"  loader round {r + 1}/{rounds} {name:>36}: {got[name][-1]:7.1f} samples/s", flush=True)
    med = {k: statistics.median(v) for k, v in got.items()}
    base = med["torch DataLoader/main"]
    for name, sps in med.items():
        print(f"{name:>36} {sps:8.1f} samples/s {sps / base:6.2f}x DataLoader")
    return {name: {"sps": round(sps, 1), "vs_dataloader": round(sps / base, 3)} for name, sps in med.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoker bench image_kernels", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="96 images, 3 rounds")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="threads for the threaded variants")
    parser.add_argument("--stages", action="store_true", help="also: CPU time of each op alone")
    parser.add_argument(
        "--loader", action="store_true", help="also: steady-state samples/s of 2 workers, stoker vs torch DataLoader"
    )
    args = parser.parse_args(argv)
    images = args.images or (96 if args.quick else 512)
    rounds = args.rounds or (3 if args.quick else 5)
    torch.set_num_threads(1)  # one worker's share: the data workers run single-threaded
    m = machine()
    paths = make_jpegs(images)
    fns = sample_fns()
    same = check_same_output(fns, paths[:12])
    best = available_backends()[0]
    runs: dict[str, tuple[Callable[[str], torch.Tensor], int]] = {name: (fn, 1) for name, fn in fns.items()}
    runs[f"{best}/array x{args.threads} threads"] = (fns[f"{best}/array"], args.threads)
    print(f"{len(paths)} JPEGs of 500x375, {rounds} interleaved rounds, samples/s (one process):")
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        for name, (fn, threads) in runs.items():
            wall, cpu = run_samples(fn, paths, epoch=r, threads=threads)
            walls[name].append(wall)
            cpus[name].append(cpu)
            print(f"  round {r + 1}/{rounds} {name:>32}: {wall:7.1f} wall, {cpu:7.1f} per CPU-s", flush=True)
    wall_med = {k: statistics.median(v) for k, v in walls.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    print(
        f"{'variant (~ approximate)':>32} {'wall sps':>9} {'vs main':>8} {'CPU sps':>8} {'vs main':>8} {'same as main':>13}"
    )
    for name in runs:
        print(
            f"{name:>32} {wall_med[name]:9.1f} {wall_med[name] / wall_med['main']:7.2f}x "
            f"{cpu_med[name]:8.1f} {cpu_med[name] / cpu_med['main']:7.2f}x {same.get(name.split(' x')[0], False)!s:>13}"
        )
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"load average at the end: {load_end:.2f} (1 min); shared machine when above {m.cores}")
    variants = {
        name: {
            "sps": round(wall_med[name], 1),
            "vs_main": round(wall_med[name] / wall_med["main"], 3),
            "cpu_sps": round(cpu_med[name], 1),
            "cpu_vs_main": round(cpu_med[name] / cpu_med["main"], 3),
            "same_as_main": same.get(name.split(" x")[0], False),
        }
        for name in runs
    }
    stages = measure_stages(paths, rounds) if args.stages else {}
    loaders = measure_loaders(fns, paths, rounds) if args.loader else {}
    emit(
        {
            "benchmark": "image_kernels",
            "images": len(paths),
            "rounds": rounds,
            "load_end": round(load_end, 2),
            "variants": variants,
            "stages_us_cpu": stages,
            "loader": loaders,
        },
        m,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
