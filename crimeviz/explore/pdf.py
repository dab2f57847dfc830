"""Printable reports: one A4 document with headings, paragraphs, tables, image rows, header and footer.

Text is set in DejaVu Sans when it is installed (any script). Without it the
document falls back to fpdf2's core Helvetica, which is latin-1 only: dashes and
ellipses become ASCII and other characters outside latin-1 become ``?``.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

from fpdf import FPDF

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
ASCII_DASHES = str.maketrans({"–": "-", "—": "-", "…": "..."})
GREY = (110, 110, 110)
RULE = (150, 150, 160)


class Document(FPDF):
    """An A4 report titled ``title``: the first page opened, later pages headed by the title, every page
    footed with the title and "page n of N"."""

    def __init__(self, title: str, author: str = "", landscape: bool = False, font_dir: Path | None = None):
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        fonts = DEJAVU if font_dir is None else Path(font_dir)
        regular, bold = fonts / "DejaVuSans.ttf", fonts / "DejaVuSans-Bold.ttf"
        self.unicode = regular.is_file() and bold.is_file()
        if self.unicode:
            self.add_font("DejaVu", "", str(regular))
            self.add_font("DejaVu", "B", str(bold))
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.report_title = self.text_safe(title)
        self.set_title(self.report_title)
        self.set_author(self.text_safe(author))
        self.set_auto_page_break(True, margin=15)
        self.add_page()

    def text_safe(self, text) -> str:
        """``text`` as the current font can set it."""
        text = str(text)
        if self.unicode:
            return text
        return text.translate(ASCII_DASHES).encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", size)

    def header(self) -> None:
        if self.page_no() > 1:
            self._small_grey(self.t_margin - 4, self.report_title, "L")
            self.set_y(self.t_margin + 2)

    def footer(self) -> None:
        self._small_grey(self.h - 10, self.report_title, "L")
        self._small_grey(self.h - 10, f"page {self.page_no()} of {{nb}}", "R")

    def _small_grey(self, y: float, text: str, align: str) -> None:
        self.set_xy(self.l_margin, y)
        self.font(7)
        self.set_text_color(*GREY)
        self.cell(self.w - self.l_margin - self.r_margin, 4, text, align=align)
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 11) -> None:
        """A bold line (or lines) of ``size`` points."""
        self.paragraph(text, size, bold=True, height=size * 0.55)

    def paragraph(self, text: str, size: float = 10, bold: bool = False, height: float = 5) -> None:
        """Wrapped text from the left margin to the right one; the cursor moves below it."""
        self.font(size, bold)
        self.multi_cell(0, height, self.text_safe(text), new_x="LMARGIN", new_y="NEXT")

    def data_table(
        self,
        columns: Sequence,
        rows: Iterable[Sequence],
        widths: Sequence[float],
        size: float = 8,
        align: str = "LEFT",
    ) -> None:
        """A ruled table at the cursor: a bold heading row, then ``rows``; ``widths`` in mm."""
        self.font(size)
        self.set_draw_color(*RULE)
        self.set_fill_color(255, 255, 255)
        self.set_line_width(0.2)
        with self.table(
            col_widths=tuple(widths),
            width=sum(widths),
            align="LEFT",
            text_align=align,
            line_height=size * 0.56,
            first_row_as_headings=True,
        ) as table:
            for values in (columns, *rows):
                table.row([self.text_safe(v) for v in values])

    def image_row(self, images: Sequence[bytes], captions: Sequence[str], per_row: int = 3, gap: float = 5) -> None:
        """Images (JPEG/PNG bytes) side by side, ``per_row`` across the page, each captioned below."""
        size = (self.epw - gap * (per_row - 1)) / per_row
        for start in range(0, len(images), per_row):
            if self.get_y() + size * 0.8 > self.h - self.b_margin:
                self.add_page()
            top, bottom = self.get_y(), self.get_y()
            for i, (image, caption) in enumerate(zip(images[start : start + per_row], captions[start:])):
                x = self.l_margin + i * (size + gap)
                info = self.image(image, x=x, y=top, w=size)
                self.font(8)
                self.text(x, top + info.rendered_height + 3.5, self.text_safe(caption))
                bottom = max(bottom, top + info.rendered_height + 6)
            self.set_y(bottom)

    def score_curve(
        self,
        points: Sequence[tuple[float, float]],
        threshold: float,
        times: tuple[str, str] | None,
        spans: Sequence[tuple[float, float]] = (),
        height: float = 45,
    ) -> None:
        """An anomaly-score curve in vector lines: ``points`` as (share of the time axis, score 0–1),
        ``spans`` (start share, width share) shaded, the threshold dashed, ``times`` under the ends."""
        x0, y0, w, h = self.l_margin + 8, self.get_y() + 2, self.epw - 8, height
        self.set_fill_color(255, 220, 220)
        for start, width in spans:
            self.rect(x0 + w * start, y0, w * width, h, style="F")
        self.set_draw_color(120, 120, 120)
        self.set_line_width(0.2)
        self.rect(x0, y0, w, h)
        if len(points) >= 2:
            self.set_draw_color(31, 119, 180)
            self.set_line_width(0.4)
            self.polyline([(x0 + w * x, y0 + h * (1 - float(y))) for x, y in points])
        self.set_draw_color(200, 0, 0)
        self.set_dash_pattern(dash=1.5, gap=1)
        self.line(x0, y0 + h * (1 - threshold), x0 + w, y0 + h * (1 - threshold))
        self.set_dash_pattern()
        self.font(7)
        for value in (0, 0.5, 1):
            self.text(self.l_margin, y0 + h * (1 - value) + 1, f"{value:g}")
        if times is not None:
            self.text(x0, y0 + h + 4, times[0])
            self.text(x0 + w - 12, y0 + h + 4, times[1])
        self.set_y(y0 + h + 7)

    def to_bytes(self) -> bytes:
        return bytes(self.output())
