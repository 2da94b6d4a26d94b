"""Where the benchmarks find the real third-party data: $MYOVISION_SHARED_DATA, else ../shared/data."""

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("MYOVISION_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
