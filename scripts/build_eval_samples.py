"""Build the bundled evaluation samples from the paper listings (deterministic).

    python scripts/build_eval_samples.py

writes examples/eval/beir-papers (all papers, title -> abstract) and
examples/eval/mbeir-mini (48 papers: 24 abstracts + 24 drawn figures, three M-BEIR tasks).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from polyseek.eval.samples import write_beir_papers, write_mbeir_papers
from polyseek.samples import load_papers

REPO = Path(__file__).resolve().parent.parent
MBEIR_PAPERS = 48


def main() -> None:
    papers = load_papers(REPO / "tests" / "fixtures" / "papers")
    out = REPO / "examples" / "eval"
    for sub in ("beir-papers", "mbeir-mini"):
        shutil.rmtree(out / sub, ignore_errors=True)
    write_beir_papers(papers, out / "beir-papers")
    # Every 4th paper: the mini set spans all three listings.
    write_mbeir_papers(papers[::4][:MBEIR_PAPERS], out / "mbeir-mini", name="mini")
    print(f"wrote {out / 'beir-papers'} ({len(papers)} papers) and {out / 'mbeir-mini'}")


if __name__ == "__main__":
    main()
