"""Evaluate a checkpoint or run folder: the same as `rlkit eval ...` (see `python scripts/evaluate.py --help`)."""

import sys

from rlkit.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
