"""stoker against its peers on two pipelines, each written idiomatically in each system.

Systems (:mod:`stoker.bench.peers.systems`): torch's DataLoader (2 persistent workers), stoker
(plain and ``optimize=True``), tf.data (plain and ``.cache()``), Ray Data (plain and
``materialize()``) and torchdata.nodes (process workers), 2 CPUs each. Pipelines
(:mod:`stoker.bench.peers.data`): images (JPEGs of 500x375, decode, random-resized-crop to 224,
flip, uint8 CHW, batch 64) and text (documents, an 8k BPE ``tokenizers`` model, a random 512-token
window, pad, batch 32). Every run is its own process (:mod:`stoker.bench.peers.measure`), counted
from building the loader over ``--epochs`` epochs; rounds are interleaved (the order of systems
rotates each round) and figures are medians over rounds. ``random_per_epoch`` is true only when
every round served new augmentation every epoch; a system that repeats it is flagged and not
credited as a best peer. Needs the peers' libraries: ``pip install 'stoker[peers]'`` (or
``make venv-peers``); a system whose library is missing is reported as failed.

Last stdout line: ``{"pipelines": {"image": {"<system>": {"sps", "sps_from_build",
"first_batch_s", "pss_mb", "random_per_epoch"}}, "text": {...}}, "stoker_vs_best_peer":
{"image": x, "text": y}, "machine": {...}}``, the ratio being stoker's best over the best
credited peer's, samples/s from building the loader.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

from stoker.bench._util import emit, machine
from stoker.commands._args import positive_int

PIPELINES = ("image", "text")


def _inputs(pipeline: str, images: int, docs: int) -> Any:
    from stoker.bench.peers import data

    return data.image_inputs(images) if pipeline == "image" else data.text_inputs(docs)


def _child(args: argparse.Namespace) -> int:
    from stoker.bench.peers.measure import measure

    out = measure(args.child[0], _inputs(args.child[1], args.images, args.docs), args.epochs, args.workers)
    print(json.dumps(out.record()), flush=True)
    return 0


def _run_child(system: str, pipeline: str, args: argparse.Namespace) -> dict[str, Any] | None:
    cmd = [sys.executable, "-m", "stoker.bench.peers", "--child", system, pipeline]
    cmd += ["--epochs", str(args.epochs), "--workers", str(args.workers)]
    cmd += ["--images", str(args.images), "--docs", str(args.docs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"    {system} on {pipeline}: timed out after {args.timeout} s", flush=True)
        return None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"    {system} on {pipeline}: failed ({tail})", flush=True)
        return None
    return json.loads(lines[-1])


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)

    return {
        "sps": round(med("sps"), 1),
        "sps_from_build": round(med("sps_from_build"), 1),
        "first_batch_s": round(med("first_batch_s"), 3),
        "pss_mb": round(med("pss_bytes") / 2**20),
        "random_per_epoch": all(r["random_per_epoch"] for r in runs),
    }


def _vs_best_peer(table: dict[str, dict[str, Any]]) -> float | None:
    from stoker.bench.peers.systems import STOKER

    ours = [v["sps_from_build"] for k, v in table.items() if k in STOKER]
    peers = [v["sps_from_build"] for k, v in table.items() if k not in STOKER and v["random_per_epoch"]]
    return round(max(ours) / max(peers), 3) if ours and peers else None


def main(argv: list[str] | None = None) -> int:
    from stoker.bench.peers.systems import SYSTEMS

    p = argparse.ArgumentParser(prog="stoker bench peers", description=__doc__)
    p.add_argument("--quick", action="store_true", help="2 rounds, 512 images, 1,000 documents")
    p.add_argument("--rounds", type=positive_int, default=None)
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--workers", type=positive_int, default=2, help="CPUs of data work per system")
    p.add_argument("--images", type=positive_int, default=None, help="JPEGs (default 1,000)")
    p.add_argument("--docs", type=positive_int, default=None, help="documents (default 2,000)")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), metavar="NAME", help=f"of {list(SYSTEMS)}")
    p.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=PIPELINES)
    p.add_argument("--timeout", type=positive_int, default=900, help="seconds per run")
    p.add_argument("--child", nargs=2, metavar=("SYSTEM", "PIPELINE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = sorted(set(args.systems) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown systems {unknown}; choose from {list(SYSTEMS)}")
    args.images = args.images or (512 if args.quick else 1000)
    args.docs = args.docs or (1000 if args.quick else 2000)
    if args.child:
        return _child(args)
    rounds = args.rounds or (2 if args.quick else 3)
    host = machine()
    print(
        f"stoker bench peers: {args.systems} on {args.pipelines}; {args.images} images, {args.docs} documents, "
        f"{args.epochs} epochs from building, {args.workers} CPUs each, {rounds} interleaved rounds",
        flush=True,
    )
    for pipeline in args.pipelines:  # made once, outside every clock
        _inputs(pipeline, args.images, args.docs)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {pl: {s: [] for s in args.systems} for pl in args.pipelines}
    for r in range(rounds):
        order = args.systems[r % len(args.systems) :] + args.systems[: r % len(args.systems)]
        for pipeline in args.pipelines:
            for system in order:
                rec = _run_child(system, pipeline, args)
                if rec is None:
                    continue
                runs[pipeline][system].append(rec)
                now = os.getloadavg()[0]
                print(
                    f"  round {r + 1}/{rounds} {pipeline:>5} {system:>20}: {rec['sps']:8.1f} sps steady, "
                    f"{rec['sps_from_build']:8.1f} from building, first batch {rec['first_batch_s']:6.2f} s, "
                    f"PSS {rec['pss_bytes'] / 2**20:6.0f} MB, random per epoch {rec['random_per_epoch']} (load {now:.1f})",
                    flush=True,
                )
    table = {pl: {s: _summary(v) for s, v in per.items() if v} for pl, per in runs.items()}
    for pipeline, per in table.items():
        base = per.get("torch")
        print(f"\n{pipeline} (medians; ratios to torch's DataLoader, from building):")
        for system, fig in per.items():
            ratio = f"{fig['sps_from_build'] / base['sps_from_build']:.2f}x" if base else "-"
            flag = "" if fig["random_per_epoch"] else "  REPEATS AUGMENTATION (not credited)"
            print(
                f"  {system:>20}: {fig['sps']:8.1f} sps steady, {fig['sps_from_build']:8.1f} from building ({ratio}), "
                f"first batch {fig['first_batch_s']:.2f} s, PSS {fig['pss_mb']} MB{flag}"
            )
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    emit({"pipelines": table, "stoker_vs_best_peer": {pl: _vs_best_peer(per) for pl, per in table.items()}}, host)
    return 0
