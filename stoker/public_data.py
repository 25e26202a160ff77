"""The public trace files stoker's simulator reads, and ``stoker data fetch``, which downloads them.

Each file is pinned to one upstream commit and its SHA-256 sum, so a download that is cut short,
altered or served from a moved branch is refused rather than simulated. The trace is Alibaba's
``cluster-trace-gpu-v2023`` (Weng et al., ATC'23; alibaba/clusterdata). The two small profile files
(Synergy, Gavel; MIT) ship inside the package instead (:mod:`stoker.resources`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stoker.errors import InputError
from stoker.paths import fetch_dir

GITHUB_RAW = "https://raw.githubusercontent.com"
ALIBABA_COMMIT = "50a91c7c74abe3b658188dc78ac1dd302970d40c"  # last commit touching cluster-trace-gpu-v2023/csv
CHUNK = 1 << 16  # bytes per read: small enough for a smooth progress bar, large enough to be cheap


@dataclass(frozen=True)
class PublicFile:
    """One downloadable data file.

    Attributes:
        name: The file's name in the data folder.
        upstream: Path below :data:`GITHUB_RAW` (``owner/repo/commit/path``).
        sha256: Hex SHA-256 of the exact bytes.
        size: Bytes (for the progress bar when the server sends no length).
    """

    name: str
    upstream: str
    sha256: str
    size: int

    def url(self, mirror: str = GITHUB_RAW) -> str:
        return f"{mirror.rstrip('/')}/{self.upstream}"


def _alibaba(csv: str, sha256: str, size: int) -> PublicFile:
    upstream = f"alibaba/clusterdata/{ALIBABA_COMMIT}/cluster-trace-gpu-v2023/csv/{csv}"
    return PublicFile(f"alibaba-gpu-v2023-{csv}", upstream, sha256, size)


FILES: tuple[PublicFile, ...] = (
    _alibaba("openb_pod_list_default.csv", "1ee7ed79c27a3b0861cda8ddba86a004c6aba904caafa329a76ae93ca63834a8", 575468),
    _alibaba("openb_node_list_all_node.csv", "5a85c2af79c66a1efff8bbcbda430400aae56d8431370d738480967e1a9c6b15", 52287),
    _alibaba("openb_node_list_gpu_node.csv", "2beca64b4d3dfa342036a34b56a495c6cef9225db836c81f541282cb1df320b5", 42353),
    _alibaba("openb_pod_list_cpu100.csv", "bec1c33fbdde61fd463877534ec79b393aec73e1cbb22d55fab9f166ac480982", 554709),
    _alibaba(
        "openb_pod_list_gpushare20.csv", "9be2d0efb52e242c32e23dd184cc5fcc1983478c6c9c02cbb6b4b62925c0ffcd", 574603
    ),
    _alibaba(
        "openb_pod_list_gpuspec20.csv", "6b9b89ab8913c1c074e994e98f548cf1a872fc5f76f2442ca8cd514a478b00a9", 582612
    ),
    _alibaba(
        "openb_pod_list_multigpu20.csv", "d9ec6f6c74fb980cc0b81239470c6353fceea077ea9abd610003b604c7cc2b01", 271530
    ),
)
BY_NAME = {f.name: f for f in FILES}


class FetchError(InputError):
    """A download failed or did not match its pinned sum; the message says how to get the files by hand."""


def select(names: Sequence[str] = ()) -> list[PublicFile]:
    """The files named (all of them when ``names`` is empty).

    Raises:
        InputError: A name is not one of :data:`FILES`; the message lists them.
    """
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise InputError(f"unknown data file(s) {unknown}; choose from {sorted(BY_NAME)}")
    return [BY_NAME[n] for n in names] if names else list(FILES)


def how_to_get(names: Iterable[str]) -> str:
    """One line: the command that fetches ``names``, and, for offline machines, each file's URL."""
    files = [BY_NAME[n] for n in names if n in BY_NAME]
    if not files:
        return f"set STOKER_DATA_DIR to the folder holding {', '.join(names)}"
    by_hand = "; ".join(f"{f.name} <- {f.url()}" for f in files)
    return f"run `stoker data fetch`, or offline download into {fetch_dir()} (or $STOKER_DATA_DIR): {by_hand}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(file: PublicFile, url: str, dest: Path, advance: Callable[[int], None], timeout_s: float) -> None:
    part = dest.with_name(f".{dest.name}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, part.open("wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
                advance(len(block))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(f"cannot download {url} ({reason}); offline? {how_to_get([file.name])}") from None
    if digest.hexdigest() != file.sha256:
        part.unlink(missing_ok=True)
        raise FetchError(
            f"{url} has SHA-256 {digest.hexdigest()}, not the pinned {file.sha256} (changed upstream or cut short); "
            f"{how_to_get([file.name])}"
        )
    os.replace(part, dest)  # atomic: a reader never sees half a file


def fetch(
    names: Sequence[str] = (),
    dest: str | os.PathLike[str] | None = None,
    mirror: str = GITHUB_RAW,
    progress: bool = True,
    timeout_s: float = 30.0,
) -> list[Path]:
    """Downloads the data files that ``dest`` lacks, checks each against its pinned SHA-256 sum.

    A file already present with the right sum is kept; one with another sum is downloaded again.

    Args:
        names: File names (see :data:`FILES`); all when empty.
        dest: Folder (made if needed); default :func:`stoker.paths.fetch_dir`.
        mirror: Base URL standing in for ``https://raw.githubusercontent.com`` (a proxy, or a local server).
        progress: Draw a progress bar (bytes) on stderr.
        timeout_s: Seconds to wait for the server on connect and on each read.

    Returns:
        The paths of the requested files.

    Raises:
        FetchError: A download failed or did not match its sum (nothing half-written is left behind).
        InputError: ``dest`` cannot be made or written to, or a name is unknown.
    """
    files = select(names)
    folder = Path(dest) if dest is not None else fetch_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot make the data folder {str(folder)!r} ({exc.strerror or exc}); choose another"
        ) from None
    todo = [f for f in files if not ((folder / f.name).is_file() and sha256_of(folder / f.name) == f.sha256)]
    if todo:
        _fetch_all(todo, folder, mirror, progress, timeout_s)
    return [folder / f.name for f in files]


def _fetch_all(files: list[PublicFile], folder: Path, mirror: str, progress: bool, timeout_s: float) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        for f in files:
            task = bar.add_task(f.name, total=f.size)
            _download(f, f.url(mirror), folder / f.name, functools.partial(bar.advance, task), timeout_s)
