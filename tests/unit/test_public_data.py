"""``stoker data fetch`` against a local HTTP server serving the real files (no internet here): checked by
SHA-256, nothing half-written left behind, and offline one line that says which file to get from where."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import stoker.paths as paths
from stoker.cli import main
from stoker.paths import data_dirs
from stoker.public_data import BY_NAME, FILES, FetchError, fetch, sha256_of

NODE_FILES = ["alibaba-gpu-v2023-openb_node_list_all_node.csv", "alibaba-gpu-v2023-openb_node_list_gpu_node.csv"]


def _shared() -> Path:
    for folder in data_dirs():
        if all((folder / n).is_file() for n in NODE_FILES):
            return folder
    pytest.skip("the real trace files are not here (../shared/data or $STOKER_DATA_DIR); `stoker data fetch` gets them")


class _Server:
    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:  # quiet, but counted
                outer.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    """raw.githubusercontent.com's layout (owner/repo/commit/path) holding the real node lists."""
    root = tmp_path / "mirror"
    for name in NODE_FILES:
        upstream = root / BY_NAME[name].upstream
        upstream.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_shared() / name, upstream)
    server = _Server(root)
    try:
        yield server, root
    finally:
        server.close()


def test_the_pins_match_the_files_the_project_measured_with() -> None:
    folder = _shared()
    for f in FILES:
        if (folder / f.name).is_file():
            assert sha256_of(folder / f.name) == f.sha256 and (folder / f.name).stat().st_size == f.size, f.name


def test_fetch_downloads_checks_and_keeps_what_it_has(mirror, tmp_path: Path) -> None:
    server, _ = mirror
    dest = tmp_path / "cache"
    got = fetch(NODE_FILES, dest=dest, mirror=server.url, progress=True)
    assert [p.name for p in got] == NODE_FILES
    assert all(sha256_of(p) == BY_NAME[p.name].sha256 for p in got)
    assert sorted(p.name for p in dest.iterdir()) == sorted(NODE_FILES)  # no .part left
    asked = len(server.requests)
    fetch(NODE_FILES, dest=dest, mirror=server.url)
    assert len(server.requests) == asked  # both present with the right sums: nothing downloaded again


def test_a_file_that_does_not_match_its_pin_is_refused_and_not_kept(mirror, tmp_path: Path) -> None:
    server, root = mirror
    served = root / BY_NAME[NODE_FILES[0]].upstream
    served.write_bytes(served.read_bytes()[:-10])  # cut short
    dest = tmp_path / "cache"
    with pytest.raises(FetchError, match="SHA-256") as info:
        fetch(NODE_FILES[:1], dest=dest, mirror=server.url, progress=False)
    assert "\n" not in str(info.value) and list(dest.iterdir()) == []


def test_offline_one_line_says_which_files_to_get_from_where(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch(NODE_FILES[:1], dest=tmp_path, mirror="http://127.0.0.1:9", progress=False, timeout_s=5)
    message = str(info.value)
    assert "\n" not in message and "offline" in message
    assert f"{NODE_FILES[0]} <- https://raw.githubusercontent.com/{BY_NAME[NODE_FILES[0]].upstream}" in message


def test_the_command_fetches_and_lists(mirror, tmp_path: Path, capsys, monkeypatch) -> None:
    server, _ = mirror
    dest = tmp_path / "data"
    assert main(["data", "fetch", "--dest", str(dest), "--mirror", server.url, *NODE_FILES]) == 0
    assert capsys.readouterr().out.split() == [str(dest / n) for n in NODE_FILES]
    monkeypatch.setenv("STOKER_DATA_DIR", str(dest))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "_shared_dirs", lambda: [])  # as in a clone with no ../shared beside it
    assert main(["data", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{dest / NODE_FILES[0]}" in listed and "missing (https://raw.githubusercontent.com" in listed


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["data", "fetch", "nope.csv"], "unknown data file(s) ['nope.csv']"),
        (["data", "fetch", "--mirror", "http://127.0.0.1:9", NODE_FILES[0], "--quiet"], "offline?"),
    ],
)
def test_bad_fetches_are_one_line_and_status_2(argv: list[str], needle: str, tmp_path: Path, capsys) -> None:
    assert main([*argv, "--dest", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_a_file_for_the_folder_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["data", "fetch", "--dest", str(tmp_path / "f"), NODE_FILES[0]]) == 2
    assert "cannot make the data folder" in capsys.readouterr().err
