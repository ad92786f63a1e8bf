"""`python -m ifan_trt ...` is the `ifan` command (for environments whose scripts are not on PATH)."""

import sys

from ifan_trt.cli import main

if __name__ == "__main__":
    sys.exit(main())
