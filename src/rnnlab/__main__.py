"""`python -m rnnlab`: the `rnnlab` command line, for environments without the script on PATH."""

import sys

from rnnlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
