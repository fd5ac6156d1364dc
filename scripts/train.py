"""Train an agent: the same as `rlkit train ...` (see `python scripts/train.py --help`)."""

import sys

from rlkit.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
