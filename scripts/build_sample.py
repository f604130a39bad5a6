"""Build the bundled sample collection, deterministically: same inputs, same bytes.

    python scripts/build_sample.py [--out examples/sample-collection] [--papers DIR]

Writes
  papers/<slug>.md   one file per paper of the listings (title heading + abstract)
  images/            drawings with visible text (PNG, JPEG with EXIF, WebP) and one without
  pdfs/              a maintenance manual with a text layer, a two-paper reading-notes PDF,
                     and a scanned page (an image only: OCR needed)
The output is committed; rerun this script after changing it.
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from polyseek.samples import Paper, load_papers, slugify  # noqa: E402

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
SEED = 20240312
PDF_DATE = "D:20240312090000+00'00'"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(size: int, style: str = "Sans") -> Font:
    """A DejaVu TrueType font (style: Sans, Sans-Bold, SansMono, Serif), else Pillow's own."""
    for folder in FONT_DIRS:
        path = folder / f"DejaVu{style}.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


# --- papers --------------------------------------------------------------------------------


def write_papers(papers: Sequence[Paper], out: Path) -> int:
    out.mkdir(parents=True)
    used: set[str] = set()
    for paper in papers:
        slug = slugify(paper.title)
        stem, n = slug, 2
        while stem in used:
            stem, n = f"{slug}-{n}", n + 1
        used.add(stem)
        (out / f"{stem}.md").write_text(f"# {paper.title}\n\n{paper.abstract}\n", encoding="utf-8")
    return len(papers)


def find_paper(papers: Sequence[Paper], title_start: str) -> Paper:
    for paper in papers:
        if paper.title.startswith(title_start):
            return paper
    raise SystemExit(f"no paper titled {title_start!r}... in the listings")


# --- images --------------------------------------------------------------------------------


def draw_exploded_view() -> Image.Image:
    """A line drawing of a pump housing taken apart, with numbered labels."""
    img = Image.new("RGB", (1100, 760), "white")
    d = ImageDraw.Draw(img)
    d.text((40, 28), "Pump housing - exploded view", font=font(38, "Sans-Bold"), fill="black")
    d.line((40, 82, 1060, 82), fill="black", width=2)
    axis_y = 380
    d.line((60, axis_y, 1040, axis_y), fill=(150, 150, 150), width=1)  # centre line
    ink, blue = (20, 20, 20), (30, 60, 140)
    # 1 volute casing, 2 impeller, 3 O-ring, 4 bolts, 5 shaft, 6 intake filter
    d.ellipse((90, 230, 390, 530), outline=ink, width=5)
    d.ellipse((170, 310, 310, 450), outline=ink, width=3)
    d.ellipse((445, 285, 635, 475), outline=ink, width=4)
    for k in range(8):
        a = k * math.pi / 4
        d.line(
            (
                540 + 25 * math.cos(a),
                axis_y + 25 * math.sin(a),
                540 + 88 * math.cos(a + 0.5),
                axis_y + 88 * math.sin(a + 0.5),
            ),
            fill=ink,
            width=4,
        )
    d.ellipse((680, 290, 720, 470), outline=ink, width=4)
    for y in (250, 330, 430, 510):
        d.rectangle((760, y - 8, 850, y + 8), outline=ink, width=3)
        d.regular_polygon((755, y, 16), 6, outline=ink, width=3)
    d.rectangle((880, axis_y - 14, 1050, axis_y + 14), outline=ink, width=4)
    d.rectangle((95, 580, 300, 660), outline=ink, width=4)
    for x in range(110, 300, 14):
        d.line((x, 586, x, 654), fill=ink, width=2)
    labels = [
        ((240, 230), (150, 150), "1 Volute casing"),
        ((540, 285), (440, 150), "2 Impeller"),
        ((700, 290), (640, 110), "3 O-ring seal"),
        ((805, 510), (640, 600), "4 Housing bolts M8, 25 Nm"),
        ((965, axis_y - 14), (880, 250), "5 Motor shaft"),
        ((300, 620), (380, 690), "6 Intake filter"),
    ]
    label_font = font(26)
    for (x0, y0), (x1, y1), text in labels:
        end_y = y1 - 4 if y1 > y0 else y1 + 38  # to the top of a label below, else its foot
        d.line((x0, y0, x1 + 10, end_y), fill=blue, width=2)
        d.text((x1, y1), text, font=label_font, fill=blue)
    d.text((800, 720), "Drawing P-200-EV rev. C", font=font(20), fill=(90, 90, 90))
    return img


def draw_receipt() -> Image.Image:
    """A till receipt lying on a grey desk, photographed from above."""
    lines = [
        ("HARBOR HARDWARE SUPPLY", "SansMono-Bold"),
        ("12 Dock Street, Portsmouth", "SansMono"),
        ("2024-03-12  14:05", "SansMono"),
        ("", "SansMono"),
        ("Intake filter FC-40    2 x 18.50   37.00", "SansMono"),
        ("Housing bolt M8x25     8 x  0.65    5.20", "SansMono"),
        ("O-ring seal 60 mm      1 x  3.90    3.90", "SansMono"),
        ("", "SansMono"),
        ("SUBTOTAL                           46.10", "SansMono"),
        ("VAT 20%                             9.22", "SansMono"),
        ("TOTAL                              55.32", "SansMono-Bold"),
        ("", "SansMono"),
        ("PAID BY CARD - THANK YOU", "SansMono"),
    ]
    paper = Image.new("RGB", (700, 660), (250, 249, 244))
    d = ImageDraw.Draw(paper)
    y = 30
    for text, style in lines:
        d.text((30, y), text, font=font(22, style), fill=(25, 25, 25))
        y += 46
    desk = Image.new("RGB", (860, 820), (120, 124, 130))
    desk.paste(paper.rotate(1.5, expand=True, fillcolor=(120, 124, 130)), (70, 70))
    return desk.filter(ImageFilter.GaussianBlur(0.6))


def draw_sign() -> Image.Image:
    """A yellow safety sign."""
    img = Image.new("RGB", (900, 620), (250, 204, 20))
    d = ImageDraw.Draw(img)
    d.rectangle((14, 14, 886, 606), outline="black", width=12)
    d.rectangle((14, 14, 886, 170), fill="black")
    d.text((290, 40), "CAUTION", font=font(88, "Sans-Bold"), fill=(250, 204, 20))
    d.text((70, 220), "PUMP ROOM", font=font(70, "Sans-Bold"), fill="black")
    d.text((70, 330), "Hearing protection required", font=font(44), fill="black")
    d.text((70, 410), "Authorised personnel only", font=font(44), fill="black")
    d.text((70, 510), "Isolate power before opening the housing", font=font(34), fill="black")
    return img.filter(ImageFilter.GaussianBlur(0.8))


def draw_slide(title: str, bullets: Sequence[str]) -> Image.Image:
    img = Image.new("RGB", (1280, 720), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 1280, 150), fill=(24, 48, 96))
    d.text((60, 45), title, font=font(50, "Sans-Bold"), fill="white")
    y = 210
    for bullet in bullets:
        d.ellipse((70, y + 14, 86, y + 30), fill=(24, 48, 96))
        d.text((110, y), bullet, font=font(38), fill=(30, 30, 30))
        y += 90
    d.text((60, 660), "Reading group - multimodal retrieval", font=font(24), fill=(120, 120, 120))
    return img


def draw_filter_label() -> Image.Image:
    img = Image.new("RGB", (820, 460), (235, 242, 250))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((20, 20, 800, 440), radius=30, outline=(0, 90, 160), width=6)
    d.text((60, 50), "Intake filter cartridge FC-40", font=font(44, "Sans-Bold"), fill=(0, 60, 120))
    d.text((60, 140), "For P-200 centrifugal pumps", font=font(34), fill=(20, 20, 20))
    d.text((60, 210), "Replace every 500 operating hours", font=font(34), fill=(20, 20, 20))
    d.text((60, 280), "Filtration: 40 micron", font=font(34), fill=(20, 20, 20))
    d.text((60, 360), "Part no. 4471-FC40", font=font(30, "SansMono"), fill=(90, 90, 90))
    return img


def draw_gradient() -> Image.Image:
    """Colours and shapes only: no text at all."""
    h, w = 480, 720
    x = np.linspace(0.0, 1.0, w)[None, :]
    y = np.linspace(0.0, 1.0, h)[:, None]
    rgb = np.stack(
        [
            255 * (0.2 + 0.8 * x * np.ones_like(y)),
            255 * (0.9 - 0.6 * y * np.ones_like(x)),
            255 * (0.5 + 0.5 * np.sin(3 * x + 2 * y)),
        ],
        axis=-1,
    )
    img = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((80, 90, 300, 310), fill=(250, 210, 40))
    d.rectangle((380, 120, 620, 360), fill=(20, 130, 90))
    d.polygon([(200, 440), (330, 300), (460, 440)], fill=(200, 40, 60))
    return img


def jpeg_bytes(img: Image.Image, quality: int, exif: Image.Exif | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    img.save(buf, "JPEG", quality=quality, optimize=True, **kwargs)
    return buf.getvalue()


def write_images(out: Path) -> dict[str, bytes]:
    """Write the images; return the PNG bytes of the drawings the manual embeds."""
    out.mkdir(parents=True)
    exploded = draw_exploded_view().quantize(16)
    exploded.save(out / "pump-housing-exploded-view.png", optimize=True)

    exif = Image.Exif()
    exif[0x010F] = "Polyseek Camera Co."  # Make
    exif[0x0110] = "PS-1"  # Model
    exif[0x0132] = "2024:03:12 14:07:33"  # DateTime
    exif[0x0131] = "build_sample.py"  # Software
    exif[0x010E] = "Receipt for pump spare parts"  # ImageDescription
    gps = {1: "N", 2: (50.0, 47.0, 55.2), 3: "W", 4: (1.0, 5.0, 43.8)}
    exif[0x8825] = gps
    (out / "receipt-spare-parts.jpg").write_bytes(jpeg_bytes(draw_receipt(), 80, exif))

    # Stored turned a quarter, as a phone held sideways does; EXIF says how to show it.
    sign_exif = Image.Exif()
    sign_exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    sign_exif[0x010F] = "Polyseek Camera Co."
    sign_exif[0x0110] = "PS-1"
    sign = draw_sign().transpose(Image.Transpose.ROTATE_90)
    (out / "pump-room-sign.jpg").write_bytes(jpeg_bytes(sign, 82, sign_exif))

    slide = draw_slide(
        "Contrastive image-text pretraining",
        [
            "Align image and text embeddings",
            "Zero-shot transfer to new tasks",
            "The modality gap in a shared space",
            "Hard negatives reduce hallucinations",
        ],
    ).quantize(16)
    slide.save(out / "slide-contrastive-pretraining.png", optimize=True)

    draw_filter_label().save(out / "filter-cartridge-label.webp", quality=85, method=6)
    draw_gradient().save(out / "colour-gradient-shapes.png", optimize=True)

    buf = io.BytesIO()
    exploded.save(buf, "PNG", optimize=True)
    return {"exploded": buf.getvalue()}


# --- PDFs ----------------------------------------------------------------------------------

CSS = """
* { font-family: sans-serif; }
h1 { font-size: 20px; margin-bottom: 6px; }
h2 { font-size: 15px; margin-top: 12px; }
p, li, td, th { font-size: 11px; line-height: 1.35; }
table { border-collapse: collapse; }
td, th { border: 1px solid #444; padding: 3px 8px; }
.small { font-size: 9px; color: #555; }
"""

MANUAL_PAGES = [
    """<h1>P-200 Centrifugal Pump</h1><h2>Maintenance Manual</h2>
<p>This manual covers routine maintenance of the P-200 centrifugal pump: inspection, the
housing bolts, the intake filter and the O-ring seal. Read the safety notes before any work.</p>
<h2>1. Safety</h2>
<ul><li>Isolate power and lock out the motor before opening the pump housing.</li>
<li>Close the suction and discharge valves and drain the volute casing.</li>
<li>Wear hearing protection in the pump room while the pump runs.</li></ul>
<h2>2. Maintenance schedule</h2>
<table><tr><th>Task</th><th>Interval</th></tr>
<tr><td>Inspect for leaks and vibration</td><td>weekly</td></tr>
<tr><td>Replace the intake filter cartridge FC-40</td><td>every 500 operating hours</td></tr>
<tr><td>Replace the O-ring seal</td><td>every 4000 operating hours</td></tr>
<tr><td>Check housing bolt torque</td><td>every 2000 operating hours</td></tr></table>""",
    """<h2>3. Pump housing and housing bolts</h2>
<p>The pump housing (volute casing) is held by eight M8 housing bolts. Figure 1 shows the
housing taken apart: volute casing, impeller, O-ring seal, housing bolts and motor shaft.</p>
<h2>Torque values</h2>
<table><tr><th>Fastener</th><th>Size</th><th>Torque</th></tr>
<tr><td>Housing bolts</td><td>M8</td><td>25 Nm</td></tr>
<tr><td>Impeller nut</td><td>M12</td><td>40 Nm</td></tr>
<tr><td>Filter cover screws</td><td>M6</td><td>10 Nm</td></tr></table>
<p>Tighten the housing bolts to 25 Nm in a star (criss-cross) pattern, in two passes: first
to 12 Nm, then to the full 25 Nm. Never reuse a bolt whose thread is damaged.</p>""",
    """<h2>4. Replacing the intake filter</h2>
<ol><li>Isolate power and close the suction valve.</li>
<li>Remove the four filter cover screws and lift off the cover.</li>
<li>Pull out the old FC-40 filter cartridge and discard it.</li>
<li>Clean the filter seat and check the cover gasket for cracks.</li>
<li>Insert the new cartridge with the arrow pointing towards the pump.</li>
<li>Refit the cover and tighten the screws to 10 Nm.</li>
<li>Open the suction valve, vent the housing and restart the pump.</li></ol>
<h2>5. Replacing the O-ring seal</h2>
<p>Open the housing as described in section 3, remove the old O-ring seal, clean the
groove, lubricate the new 60 mm O-ring with silicone grease and reassemble.</p>""",
]


def save_pdf(doc: pymupdf.Document, path: Path, metadata: dict[str, str]) -> None:
    doc.set_metadata(
        {
            **metadata,
            "creator": "scripts/build_sample.py",
            "producer": "PyMuPDF",
            "creationDate": PDF_DATE,
            "modDate": PDF_DATE,
        }
    )
    doc.save(path, garbage=4, deflate=True, no_new_id=True, reproducible=True)


def html_page(doc: pymupdf.Document, html: str, footer: str) -> pymupdf.Page:
    page = doc.new_page(width=595, height=842)  # A4 in points
    page.insert_htmlbox(pymupdf.Rect(56, 56, 539, 790), html, css=CSS)
    page.insert_htmlbox(pymupdf.Rect(56, 800, 539, 820), f"<p class='small'>{footer}</p>", css=CSS)
    return page


def write_manual(path: Path, exploded_png: bytes) -> None:
    doc = pymupdf.open()
    for n, html in enumerate(MANUAL_PAGES, start=1):
        page = html_page(doc, html, f"P-200 Maintenance Manual - page {n} of {len(MANUAL_PAGES)}")
        if n == 2:
            page.insert_image(pymupdf.Rect(90, 430, 505, 717), stream=exploded_png)
            page.insert_htmlbox(
                pymupdf.Rect(90, 722, 505, 745),
                "<p>Figure 1: Pump housing, exploded view.</p>",
                css=CSS,
            )
    save_pdf(
        doc,
        path,
        {
            "title": "P-200 Centrifugal Pump - Maintenance Manual",
            "author": "Polyseek Sample Pumps Ltd.",
        },
    )


def write_reading_notes(path: Path, papers: Sequence[Paper]) -> None:
    doc = pymupdf.open()
    for n, paper in enumerate(papers, start=1):
        html = (
            f"<p class='small'>Reading notes on contrastive learning - paper {n}</p>"
            f"<h1>{paper.title}</h1><h2>Abstract</h2><p>{paper.abstract}</p>"
        )
        html_page(doc, html, f"page {n}")
    save_pdf(
        doc,
        path,
        {"title": "Reading notes on contrastive learning", "author": "Polyseek reading group"},
    )


def scanned_page_image(paper: Paper, rng: np.random.Generator) -> Image.Image:
    """A printed page as a 150 dpi greyscale scan: slightly turned, noisy, a bit blurred."""
    width, height = 1240, 1754  # A4 at 150 dpi
    img = Image.new("L", (width, height), 255)
    d = ImageDraw.Draw(img)
    body, heading = font(27, "Serif"), font(38, "Sans-Bold")
    x, y, max_w = 130, 150, width - 260
    for line in wrap(paper.title, heading, max_w):
        d.text((x, y), line, font=heading, fill=0)
        y += 52
    y += 30
    d.text((x, y), "Abstract", font=font(30, "Sans-Bold"), fill=0)
    y += 56
    for line in wrap(paper.abstract, body, max_w):
        d.text((x, y), line, font=body, fill=0)
        y += 40
    img = img.rotate(-0.8, resample=Image.Resampling.BICUBIC, fillcolor=255)
    arr = np.asarray(img, dtype=np.float32) * 0.9 + 18  # grey paper, not quite black ink
    arr += rng.normal(0.0, 6.0, arr.shape)
    specks = rng.random(arr.shape) < 0.0004
    arr[specks] = 60
    scan = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return scan.filter(ImageFilter.GaussianBlur(0.7))


def wrap(text: str, fnt: Font, max_width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if fnt.getlength(candidate) <= max_width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def write_scan(path: Path, paper: Paper) -> None:
    scan = scanned_page_image(paper, np.random.default_rng(SEED))
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=jpeg_bytes(scan, 60))
    save_pdf(doc, path, {"title": "", "author": ""})


# --- main ----------------------------------------------------------------------------------


def build(out: Path, papers_dir: Path) -> None:
    papers = load_papers(papers_dir)
    for sub in ("papers", "images", "pdfs"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    n = write_papers(papers, out / "papers")
    drawings = write_images(out / "images")
    (out / "pdfs").mkdir()
    write_manual(out / "pdfs" / "p200-pump-maintenance-manual.pdf", drawings["exploded"])
    write_reading_notes(
        out / "pdfs" / "reading-notes-contrastive-learning.pdf",
        [
            find_paper(papers, "Symmetrical Visual Contrastive Optimization"),
            find_paper(papers, "Unsupervised Learning of Visual Features by Contrasting"),
        ],
    )
    write_scan(
        out / "pdfs" / "scanned-retrieval-paper.pdf",
        find_paper(papers, "Unified Multi-Modal Interleaved Document Representation"),
    )
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".polyseek" not in p.parts)
    total = sum(p.stat().st_size for p in files)
    print(f"{out}: {n} papers, {len(files)} files, {total / 1024:.0f} KiB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "sample-collection")
    parser.add_argument("--papers", type=Path, default=ROOT / "tests" / "fixtures" / "papers")
    args = parser.parse_args(argv)
    build(args.out, args.papers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
