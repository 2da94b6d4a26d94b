"""`python -m myovision` runs the command line."""

import sys

from myovision.cli import main

sys.exit(main())
