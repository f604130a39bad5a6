"""Ranking options that `polyseek search` and `polyseek eval` share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

ImageWeightOpt = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Image share in image+text queries.")
]
LexicalOpt = Annotated[bool, typer.Option(help="Fuse BM25 full-text search with dense.")]
CalibrateOpt = Annotated[
    bool, typer.Option(help="Make scores comparable across modalities (mixed results).")
]
RerankOpt = Annotated[
    str | None, typer.Option(help="Reranker: late:minilm (offline), cross-encoder:DIR.")
]
RerankWeightOpt = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Reranker share of the score (1: alone; 0.5: mix)."),
]
CutoffOpt = Annotated[
    str | None, typer.Option(help="Return fewer hits when scores fall off: gap:0.3, relative:0.6.")
]
FirstPassOpt = Annotated[
    str,
    typer.Option(help="Compressed first pass, rescored exactly: none, truncate:N, int8, binary."),
]
OversampleOpt = Annotated[
    int, typer.Option(min=1, help="First pass: rescore results x this many candidates.")
]
