"""PyTorch's own DataLoader tests as the yardstick of stoker.DataLoader's drop-in semantics.

Runs ``benchmarks/torch_dataloader/test_dataloader_torch.py`` (torch's test_dataloader.py, the
tests that construct a DataLoader) twice: with torch's DataLoader and with ``stoker.DataLoader``
bound to the name ``DataLoader``. Counts the tests that pass with torch here, and of those the
ones that also pass with stoker, with and without the tests that read torch's private attributes
(``_workers``, ``_auto_collation``, ``_iterator``, ``_pin_memory_thread``). Slow (minutes), so not
part of ``make test``. Last stdout line is JSON::

    {"torch_passed": n, "stoker_passed": n, "ratio": x, "private_tests": [...], "ratio_public": x,
     "failing": [...]}

Usage: ``python benchmarks/torch_dataloader_suite.py [-k EXPR]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE / "torch_dataloader" / "test_dataloader_torch.py"
# Tests that read attributes torch keeps private (they are set aside from the goal).
PRIVATE = {
    "test_bulk_loading_nobatch": "_auto_collation",
    "test_iterable_style_dataset": "_workers",
    "test_partial_workers": "_workers",
    "test_get_worker_info": "_workers",
    "test_shuffler_iterdatapipe": "_iterator",
}


def start(loader: str, xml: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    """Starts the suite with ``loader`` bound to DataLoader, writing JUnit XML to ``xml``."""
    root = str(HERE.parent.parent)
    env = dict(os.environ, YARDSTICK_LOADER=loader, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", "--timeout=180"]
    cmd += ["-o", "addopts=", f"--junitxml={xml}", "--rootdir", str(SUITE.parent), *extra]
    log = open(xml.with_suffix(".log"), "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env=env, cwd=SUITE.parent, stdout=log, stderr=subprocess.STDOUT)


def outcomes(xml: Path) -> dict[str, str]:
    """Test id -> passed / failed / skipped, from a JUnit XML report."""
    out: dict[str, str] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name')}"
        kinds = {child.tag for child in case}
        out[name] = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", default=None, help="pytest -k expression (a subset, for debugging)")
    args = parser.parse_args()
    extra = ["-k", args.k] if args.k else []
    # Both runs at once: outcomes do not depend on speed (the suite's timeouts are 60 s and more).
    with tempfile.TemporaryDirectory() as tmp:
        xmls = {name: Path(tmp) / f"{name}.xml" for name in ("torch", "stoker")}
        procs = [start(name, xml, extra) for name, xml in xmls.items()]
        for p in procs:
            p.wait()
        torch_out, stoker_out = outcomes(xmls["torch"]), outcomes(xmls["stoker"])
        print(xmls["stoker"].with_suffix(".log").read_text()[-4000:])
    base = sorted(t for t, o in torch_out.items() if o == "passed")
    passed = [t for t in base if stoker_out.get(t) == "passed"]
    failing = [t for t in base if stoker_out.get(t) != "passed"]
    private = [t for t in base if t.split(".")[-1].split("_cpu")[0] in PRIVATE]
    public = [t for t in base if t not in private]
    public_passed = [t for t in public if t in passed]
    for t in failing:
        print(f"stoker fails: {t}{' (private attribute)' if t in private else ''}")
    print(
        f"torch passes {len(base)} tests; stoker passes {len(passed)} of them; without private-attribute "
        f"tests {len(public_passed)}/{len(public)}"
    )
    print(
        json.dumps(
            {
                "torch_passed": len(base),
                "stoker_passed": len(passed),
                "ratio": round(len(passed) / max(1, len(base)), 3),
                "private_tests": private,
                "public_passed": len(public_passed),
                "public_total": len(public),
                "ratio_public": round(len(public_passed) / max(1, len(public)), 3),
                "failing": failing,
            }
        )
    )


if __name__ == "__main__":
    main()
