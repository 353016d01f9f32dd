"""Helper of tests/test_failure_modes_data.py: a store build with 2 worker processes whose generator records each
worker's pid and then, with ORPHAN_SLOW=1, sleeps, so the test can SIGKILL this process while its workers run.

Usage: python tests/_orphan_build.py OUT_DIR PID_DIR N
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from motionbook_lib.data.store import build_store
from motionbook_lib.data.synthetic import SyntheticConfig, generate_motion
from motionbook_lib.motion import Motion


def slow_generate(index: int, config: SyntheticConfig) -> Motion:
    """The synthetic generator, after leaving this worker's pid in PID_DIR (and a pause with ORPHAN_SLOW=1)."""
    (Path(os.environ["ORPHAN_PID_DIR"]) / str(os.getpid())).touch()
    if os.environ.get("ORPHAN_SLOW") == "1":
        time.sleep(0.5)
    return generate_motion(index, config)


if __name__ == "__main__":
    out, pid_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.environ["ORPHAN_PID_DIR"] = pid_dir
    build_store(out, n, source="synthetic", config=SyntheticConfig(seed=0), generator=slow_generate, workers=2,
                chunk_size=1, shard_frames=2000, progress=False, mp_context="fork")  # fmt: skip
    print("done")
