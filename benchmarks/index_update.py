"""Small addition to a large table: indexing only the new rows (one more index segment,
``polyseek.store.distributed_index.append_new_rows``) against rebuilding the index.

Full-text (BM25) index of ``--rows`` rows of 20 words, then ``--add`` rows appended; each
repeat times, interleaved, (a) the append of a segment for the new rows and (b) a full
rebuild (LanceDB ``create_fts_index(replace=True)``, what ``ensure_text_index`` did). CPU
seconds of this process (Lance's threads included) and wall seconds, as ratios in one run.

    python benchmarks/index_update.py --rows 100000 --add 100 --repeats 2
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import lancedb
import pyarrow as pa

from polyseek.store.distributed_index import TEXT_INDEX_NAME, append_new_rows

WORDS = [f"w{i}" for i in range(5000)]


def _rows(n: int, start: int, rnd: random.Random) -> pa.Table:
    return pa.table(
        {
            "id": [str(start + i) for i in range(n)],
            "text": [" ".join(rnd.choices(WORDS, k=20)) for _ in range(n)],
        }
    )


def _timed(fn: object) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()  # type: ignore[operator]
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--add", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    rnd = random.Random(0)
    tmp = Path(tempfile.mkdtemp())
    try:
        db = lancedb.connect(str(tmp))
        base = _rows(args.rows, 0, rnd)
        append: list[tuple[float, float]] = []
        rebuild: list[tuple[float, float]] = []
        for r in range(args.repeats):
            for kind in ("append", "rebuild") if r % 2 == 0 else ("rebuild", "append"):
                name = f"{kind}{r}"
                t = db.create_table(name, base)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t.create_fts_index("text", replace=True, with_position=False)
                    t.add(_rows(args.add, args.rows, rnd))
                    if kind == "append":
                        append.append(
                            _timed(lambda t=t: append_new_rows(t.to_lance(), [TEXT_INDEX_NAME]))
                        )
                    else:
                        rebuild.append(
                            _timed(
                                lambda t=t: t.create_fts_index(
                                    "text", replace=True, with_position=False
                                )
                            )
                        )
                db.drop_table(name)
        a_cpu = statistics.median(x[0] for x in append)
        b_cpu = statistics.median(x[0] for x in rebuild)
        a_wall = statistics.median(x[1] for x in append)
        b_wall = statistics.median(x[1] for x in rebuild)
        print(f"FTS index, {args.rows} rows + {args.add} new, median of {args.repeats}")
        print("| update | CPU s | wall s |")
        print("|---|---|---|")
        print(f"| full rebuild | {b_cpu:.2f} | {b_wall:.2f} |")
        print(f"| new segment | {a_cpu:.3f} | {a_wall:.3f} |")
        cpu_x, wall_x = b_cpu / max(a_cpu, 1e-6), b_wall / max(a_wall, 1e-6)
        print(f"| ratio rebuild / segment | {cpu_x:.0f}x | {wall_x:.0f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
