"""Tesseract OCR of a page image, with the boxes of its words and layout blocks.

Imported, :func:`read_page` serves :class:`~polyseek.ingest.ocr.OcrEngine`. Run as a
script (``python _ocr_worker.py TESSDATA LANG``), this file is one OCR worker process of
:class:`~polyseek.ingest.ocr_pool.OcrPool`: it keeps one tesseract engine, reads pickled
requests from stdin and writes pickled results to stdout until stdin closes. It imports
only Pillow and tesserocr (not polyseek, whose import takes ~5 s and 300 MB), so a worker
is ready in ~0.3 s.
"""

import os
import sys

if (
    __name__ == "__main__"
    and sys.path
    and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__))
):
    # Run as a script, this file's folder heads sys.path: drop it, so that no module of
    # the package can shadow a standard one.
    del sys.path[0]

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pickle  # noqa: E402
from typing import Any  # noqa: E402

PROTOCOL = 1
"""Bumped when the request or result layout changes."""


def _block_type_names() -> dict[int, str]:
    import tesserocr

    return {getattr(tesserocr.PT, n): n for n in dir(tesserocr.PT) if n.isupper() and n != "COUNT"}


def _word_text(it: Any, level: int) -> str | None:
    try:
        text: str | None = it.GetUTF8Text(level)
    except RuntimeError:  # tesserocr: "No text returned" (an empty element)
        return None
    return text


def read_page(api: Any, image: Any, dpi: int) -> dict[str, Any]:
    """OCR ``image`` (a PIL image) with the tesserocr ``api``.

    Returns ``{"size": (w, h), "blocks": [(type name, box)], "words": [(x0, y0, x1, y1,
    word, paragraph, line, block)]}``, boxes in pixels, words in reading order,
    paragraph and line numbers counted over the page.
    """
    from tesserocr import RIL

    names = _block_type_names()
    api.SetImage(image)
    api.SetSourceResolution(int(dpi))
    try:
        api.Recognize()
        blocks: list[tuple[str, tuple[int, int, int, int]]] = []
        block_index: dict[tuple[int, int, int, int], int] = {}
        it = api.GetIterator()
        if it is not None and not it.Empty(RIL.BLOCK):
            it.Begin()
            while True:
                box = it.BoundingBox(RIL.BLOCK)
                if box is not None:
                    block_index.setdefault(tuple(box), len(blocks))
                    blocks.append((names.get(it.BlockType(), "UNKNOWN"), tuple(box)))
                if not it.Next(RIL.BLOCK):
                    break
        words: list[tuple[int, int, int, int, str, int, int, int]] = []
        it = api.GetIterator()
        para = line = block = -1
        if it is not None and not it.Empty(RIL.WORD):
            it.Begin()
            while True:
                if it.IsAtBeginningOf(RIL.BLOCK):
                    box = it.BoundingBox(RIL.BLOCK)
                    block = block_index.get(tuple(box), -1) if box is not None else -1
                if it.IsAtBeginningOf(RIL.PARA):
                    para += 1
                if it.IsAtBeginningOf(RIL.TEXTLINE):
                    line += 1
                text = _word_text(it, RIL.WORD)
                box = it.BoundingBox(RIL.WORD)
                if text and text.strip() and box is not None:
                    words.append((*box, text.strip(), para, line, block))
                if not it.Next(RIL.WORD):
                    break
    finally:
        api.Clear()
    return {"size": tuple(image.size), "blocks": blocks, "words": words}


def _serve(tessdata: str, lang: str) -> int:
    # Results go to a private copy of stdout; fd 1 becomes stderr, so that anything the
    # C++ libraries print cannot corrupt the stream.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    try:
        import tesserocr
        from PIL import Image

        api = tesserocr.PyTessBaseAPI(path=tessdata, lang=lang, psm=tesserocr.PSM.AUTO)
    except Exception as exc:  # reported to the parent, which raises a clear error
        pickle.dump({"error": f"{type(exc).__name__}: {exc}"}, out)
        out.flush()
        return 1
    pickle.dump({"ready": PROTOCOL, "pid": os.getpid()}, out)
    out.flush()
    while True:
        try:
            mode, size, data, dpi = pickle.load(inp)
        except EOFError:
            break
        try:
            result = read_page(api, Image.frombytes(mode, size, data), dpi)
        except Exception as exc:  # one bad page must not end the worker
            result = {"error": f"{type(exc).__name__}: {exc}"}
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
    api.End()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], sys.argv[2]))
