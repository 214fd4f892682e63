"""The `rnnlab` command line.

Every error a user can cause (a missing file, a bad column, an unknown key)
ends as one line on stderr and a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnnlab import __version__

# Exit code for errors caused by input (bad file, bad argument); 1 stays for crashes.
EXIT_USAGE = 2


def _cmd_data(args: argparse.Namespace) -> int:
    """Load both Keras data sets the way the tutorials do and print a summary."""
    import numpy as np

    from rnnlab.datasets import imdb, reuters
    from rnnlab.datasets.files import data_dirs

    print(f"data directories searched: {', '.join(str(d) for d in data_dirs())}")
    (xr, yr), (xr_test, yr_test) = reuters.load_data(num_words=30000, maxlen=50, test_split=0.3)
    names = reuters.get_label_names()
    counts = np.bincount(yr_test, minlength=len(names))
    print(
        f"reuters (num_words=30000, maxlen=50, test_split=0.3): {len(xr)} train / "
        f"{len(xr_test)} test wires, {len(names)} topics "
        f"({len(set(yr.tolist()))} present in train, {len(set(yr_test.tolist()))} in test); "
        f"majority topic '{names[counts.argmax()]}' is {counts.max() / len(yr_test):.1%} of test"
    )
    (xi, yi), (xi_test, yi_test) = imdb.load_data(num_words=20000)
    lengths = np.array([len(s) for s in xi])
    print(
        f"imdb (num_words=20000): {len(xi)} train / {len(xi_test)} test reviews, "
        f"{yi.mean():.1%} positive in train; review length median {int(np.median(lengths))}, "
        f"{(lengths <= 80).mean():.1%} fit in maxlen=80 without truncation"
    )
    print(f"imdb x_train[0][:10] = {list(xi[0][:10])} ...: {imdb.decode(xi[0][:10])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab", description="Recurrent-network text classifiers with Keras-exact data."
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data = sub.add_parser("data", help="load the IMDB and Reuters data sets and print a summary")
    data.set_defaults(func=_cmd_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, LookupError) as exc:
        # User-facing errors: one clear line. Our own messages already name the fix.
        if args.debug:
            raise
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
