"""Builders of PDFs with known layouts for the PDF loader tests (PyMuPDF, in memory)."""

from __future__ import annotations

import io

import pymupdf
from PIL import Image, ImageDraw, ImageFont

A4 = (595.0, 842.0)
HEADER = "ACME P-300 Service Guide"

PARAGRAPH = (
    "The pump housing is held by eight M8 bolts. Before opening it, isolate the motor, "
    "close both valves and drain the volute casing. Keep the old O-ring seal until the new "
    "one is fitted, so that its size can be compared."
)
BULLETS = [
    "\u2022 Isolate power and lock out the motor.",
    "\u2022 Close the suction and discharge valves.",
    "\u2022 Wear hearing protection near the running pump.",
]
TABLE = [
    ["Fastener", "Size", "Torque"],
    ["Housing bolts", "M8", "25 Nm"],
    ["Impeller nut", "M12", "40 Nm"],
    ["Filter cover screws", "M6", "10 Nm"],
]
TABLE_CAPTION = "Table 1: Torque values for the housing."
FIGURE_CAPTION = "Figure 1: Exploded view of the impeller."
FIGURE_LABEL = "Impeller blade"


def _ruled_table(page: pymupdf.Page, x0: float, y0: float, rows: list[list[str]]) -> pymupdf.Rect:
    widths = [150.0, 60.0, 80.0]
    height = 20.0
    shape = page.new_shape()
    x1 = x0 + sum(widths)
    y1 = y0 + height * len(rows)
    for r in range(len(rows) + 1):
        shape.draw_line((x0, y0 + r * height), (x1, y0 + r * height))
    x = x0
    for w in [0.0, *widths]:
        x += w
        shape.draw_line((x, y0), (x, y1))
    shape.finish(color=(0, 0, 0), width=0.8)
    shape.commit()
    for r, row in enumerate(rows):
        x = x0
        for w, cell in zip(widths, row, strict=True):
            page.insert_text((x + 4, y0 + r * height + 14), cell, fontsize=10)
            x += w
    return pymupdf.Rect(x0, y0, x1, y1)


def _vector_figure(page: pymupdf.Page, rect: pymupdf.Rect) -> None:
    shape = page.new_shape()
    centre = pymupdf.Point((rect.x0 + rect.x1) / 2, (rect.y0 + rect.y1) / 2)
    shape.draw_circle(centre, min(rect.width, rect.height) / 3)
    shape.draw_circle(centre, min(rect.width, rect.height) / 8)
    for k in range(8):
        shape.draw_line(centre, centre + (60 * (k % 3 - 1), 50 * (k // 3 - 1)))
    shape.draw_bezier(rect.tl, rect.tr, rect.bl, rect.br)
    shape.finish(color=(0, 0, 0.6), width=1)
    shape.commit()
    page.insert_text((rect.x0 + 8, rect.y0 + 14), FIGURE_LABEL, fontsize=8)


def photo_png(size: tuple[int, int] = (240, 160)) -> bytes:
    img = Image.radial_gradient("L").resize(size).convert("RGB")
    ImageDraw.Draw(img).rectangle((20, 20, 120, 90), fill=(200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def layout_pdf(pages: int = 3) -> bytes:
    """Pages with a running header, numbered footer, heading, paragraph, bullets, a ruled
    table with its caption, a vector figure with its caption; the last page has a photo."""
    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_text((57, 40), HEADER, fontsize=9)
        page.insert_text((270, 815), f"Page {n} of {pages}", fontsize=9)
        page.insert_text((57, 90), f"{n}. Opening the pump housing", fontsize=16, fontname="hebo")
        page.insert_textbox(pymupdf.Rect(57, 105, 538, 170), PARAGRAPH, fontsize=10)
        for i, line in enumerate(BULLETS):
            page.insert_text((72, 190 + 14 * i), line, fontsize=10)
        page.insert_text((57, 255), TABLE_CAPTION, fontsize=10)
        _ruled_table(page, 57, 265, TABLE)
        _vector_figure(page, pymupdf.Rect(100, 400, 400, 600))
        page.insert_text((100, 620), FIGURE_CAPTION, fontsize=10)
        if n == pages:
            page.insert_image(pymupdf.Rect(330, 650, 510, 770), stream=photo_png())
    data: bytes = doc.tobytes()
    return data


def dense_pdf(pages: int = 1, sentences: int = 60) -> bytes:
    """Pages of numbered sentences set in one text box (far more than 256 word pieces)."""
    doc = pymupdf.open()
    for p in range(pages):
        text = " ".join(
            f"Sentence {p}-{i} says that valve {i} of line {p} is checked every {i + 2} days."
            for i in range(sentences)
        )
        doc.new_page(width=A4[0], height=A4[1]).insert_textbox(
            pymupdf.Rect(50, 50, 545, 800), text, fontsize=9
        )
    data: bytes = doc.tobytes()
    return data


def text_image(
    lines: list[str], size: tuple[int, int] = (1654, 2339), top: int = 200
) -> Image.Image:
    """A white A4 page at 200 dpi with ``lines`` of black text (for scanned pages)."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        draw.text((160, top + 70 * i), line, font=font, fill=0)
    return img


def image_only_pdf(pages: list[list[str]]) -> bytes:
    """One image-only (scanned) A4 page per entry, showing its lines of text."""
    doc = pymupdf.open()
    for lines in pages:
        buf = io.BytesIO()
        text_image(lines).save(buf, "PNG")
        doc.new_page(width=A4[0], height=A4[1]).insert_image(
            pymupdf.Rect(0, 0, *A4), stream=buf.getvalue()
        )
    data: bytes = doc.tobytes()
    return data


def many_pages_pdf(pages: int) -> bytes:
    """``pages`` short pages (a heading and two lines each)."""
    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_text((57, 90), f"Section {n}", fontsize=16, fontname="hebo")
        page.insert_text((57, 120), f"Line one of page {n} about valve {n % 97}.", fontsize=10)
        page.insert_text((57, 134), f"Line two of page {n} about pump {n % 89}.", fontsize=10)
    data: bytes = doc.tobytes()
    return data


def big_table_pdf(rows: int = 100, cols: int = 30) -> bytes:
    """One A3 page holding a ruled table of ``rows`` x ``cols`` cells ("r:c" in each)."""
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=1190)
    x0, y0 = 20.0, 20.0
    w, h = (842 - 40) / cols, (1190 - 40) / rows
    shape = page.new_shape()
    for r in range(rows + 1):
        shape.draw_line((x0, y0 + r * h), (x0 + cols * w, y0 + r * h))
    for c in range(cols + 1):
        shape.draw_line((x0 + c * w, y0), (x0 + c * w, y0 + rows * h))
    shape.finish(color=(0, 0, 0), width=0.3)
    shape.commit()
    for r in range(rows):
        for c in range(cols):
            page.insert_text((x0 + c * w + 1, y0 + r * h + h - 2), f"{r}:{c}", fontsize=5)
    data: bytes = doc.tobytes()
    return data


def rotated_pdf(rotation: int) -> bytes:
    """:func:`layout_pdf`'s first page drawn turned on a page with ``/Rotate rotation``,
    so that it displays upright (as scanners and landscape tables make them)."""
    src = pymupdf.open(stream=layout_pdf(1))
    doc = pymupdf.open()
    size = (A4[1], A4[0]) if rotation % 180 else A4
    page = doc.new_page(width=size[0], height=size[1])
    page.set_rotation(rotation)
    page.show_pdf_page(page.rect * page.derotation_matrix, src, 0, rotate=rotation)
    data: bytes = doc.tobytes()
    return data


def sections_pdf(sections: int = 3, sentences: int = 16) -> bytes:
    """A page of ``sections`` headings, each over a paragraph longer than one passage."""
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    y = 60.0
    for s in range(1, sections + 1):
        page.insert_text((50, y), f"{s}. Section on valve group {s}", fontsize=14, fontname="hebo")
        text = " ".join(
            f"Valve {s}.{i} of group {s} is opened after the pump has run for {i + 3} minutes."
            for i in range(sentences)
        )
        rect = pymupdf.Rect(50, y + 8, 545, y + 230)
        page.insert_textbox(rect, text, fontsize=9)
        y += 250
    data: bytes = doc.tobytes()
    return data
