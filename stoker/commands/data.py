"""``stoker data fetch | list``: the public trace files the simulator reads, downloaded and checked."""

from __future__ import annotations

import argparse


def _fetch(args: argparse.Namespace) -> int:
    from stoker.public_data import fetch

    for path in fetch(args.names, dest=args.dest, mirror=args.mirror, progress=not args.quiet):
        print(path)
    return 0


def _list(args: argparse.Namespace) -> int:
    from stoker.paths import DataMissingError, data_file
    from stoker.public_data import FILES

    for f in FILES:
        try:
            where = str(data_file(f.name))
        except DataMissingError:
            where = f"missing ({f.url()})"
        print(f"{f.name:<48} {where}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="download the public trace files (stoker data fetch) or list where they are")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    f = verbs.add_parser("fetch", help="download the trace files into $STOKER_DATA_DIR or ~/.cache/stoker")
    f.add_argument("names", nargs="*", help="file names (default: all; see `stoker data list`)")
    f.add_argument("--dest", help="folder to write to (default: $STOKER_DATA_DIR, else ~/.cache/stoker)")
    f.add_argument(
        "--mirror",
        default="https://raw.githubusercontent.com",
        help="base URL standing in for raw.githubusercontent.com (a proxy or a local copy)",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fetch)
    ls = verbs.add_parser("list", help="each data file and where it is found (or its URL)")
    ls.set_defaults(func=_list)
