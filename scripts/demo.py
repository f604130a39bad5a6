"""The demo: index the bundled sample collection and run example searches.

Run it with `./run demo` (which sets everything up first). It calls the same CLI a user
types; the index goes to examples/sample-collection/.polyseek (git-ignored).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "examples" / "sample-collection"

SEARCHES = [
    ["search", "reducing hallucinations in vision-language models", "--top", "3"],
    ["search", "torque for the pump housing bolts", "--top", "3"],
    ["search", "exploded view of the pump housing", "--modality", "image", "--top", "3"],
    ["search", "scanned page about retrieval", "--modality", "page", "--top", "3"],
    ["status"],
]


def polyseek(*args: str) -> int:
    cmd = [sys.executable, "-m", "polyseek", *args]
    print(f"\n$ polyseek {shlex.join(args)}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=False).returncode


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("POLYSEEK_COLLECTION", str(COLLECTION))
    t0 = time.perf_counter()
    code = polyseek("index", str(COLLECTION.relative_to(ROOT)))
    if code not in (0, 1):
        return code
    for args in SEARCHES:
        if polyseek(*args) != 0:
            return 1
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
