"""The report PDF, read back with pypdf: pages and their numbering, the period and generation
time on every page, Korean names as text, table headers repeated on every page a table spans,
the CJK font embedded, charts as vectors.

Needs a font covering Hangul (Debian's fonts-noto-cjk) and Chromium (kaleido's charts): with
CI=true a missing one fails these tests, elsewhere they are skipped with the reason."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess

import pypdf
import pytest

from bi_app.reports import charts, pdf
from bi_app.reports.model import Chart, Column, Kpi, Section, Table
from tests import report_fixture as fx

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing() -> list[str]:
    missing = []
    try:
        families = subprocess.run(
            ["fc-list", ":", "family"], check=False, capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        families = ""
    if "Noto Sans CJK KR" not in families:
        missing.append("the Noto Sans CJK KR font (apt-get install fonts-noto-cjk)")
    if not (shutil.which("chromium") or os.environ.get("BROWSER_PATH")):
        missing.append("Chromium for kaleido's charts (apt-get install chromium)")
    return missing


def _require_renderers() -> None:
    missing = _missing()
    if missing:
        message = "report PDFs need " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def rendered() -> tuple[bytes, pypdf.PdfReader, list[str]]:
    _require_renderers()
    data = pdf.render_pdf(fx.make_report())
    reader = pypdf.PdfReader(io.BytesIO(data))
    return data, reader, [page.extract_text() for page in reader.pages]


def _flat(text: str) -> str:
    """Extracted text with runs of white space as one space (pypdf's line breaks vary)."""
    return re.sub(r"\s+", " ", text)


def test_a_pdf_of_several_pages_numbered_page_n_of_m(rendered):
    data, reader, texts = rendered
    assert data.startswith(b"%PDF-")
    pages = len(reader.pages)
    # a cover, the sections, and 120 customer rows at ~30 a page
    assert 5 <= pages <= 12
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in _flat(text)


def test_period_and_generation_time_on_every_page(rendered):
    _, _, texts = rendered
    for text in texts:
        flat = _flat(text)
        assert fx.PERIOD_LABEL in flat
        assert f"Generated {fx.GENERATED_TEXT}" in flat


def test_cover_has_title_and_key_figures_with_changes(rendered):
    _, _, texts = rendered
    cover = _flat(texts[0])
    assert fx.TITLE in cover
    assert "₩116,690,000" in cover
    assert "+12.4% vs previous period" in cover
    assert "+30.5% vs last year" in cover
    assert "-2.1% vs previous period" in cover
    assert "3.1%" in cover  # the conversion KPI, a fraction
    assert "Contents" in cover and "Customers" in cover


def test_korean_names_are_extracted_as_text(rendered):
    _, _, texts = rendered
    everything = _flat(" ".join(texts))
    for name in fx.PRODUCTS + fx.CUSTOMERS + [p[0] for p in fx.PLATFORMS]:
        assert name in everything, name
    assert "김민준 40 ₩2,500,000 5.0% Jan 1, 2024 Dec 6, 2026, 18:00 0.99" in everything


def test_long_table_repeats_its_header_on_every_page_it_spans(rendered):
    _, _, texts = rendered
    header = "Customer Orders Revenue Share First order Last order Score"
    first_name = fx.customer_rows()[0]["customer"]
    last_name = fx.customer_rows()[-1]["customer"]
    first = next(i for i, t in enumerate(texts) if first_name in t)
    last = next(i for i, t in enumerate(texts) if last_name in t)
    assert last - first >= 2  # the table spans at least three pages
    for index in range(first, last + 1):
        assert header in _flat(texts[index]), f"page {index + 1}"
    # and every row is there once, none split between pages
    everything = _flat(" ".join(texts))
    for row in fx.customer_rows():
        start = f"{row['customer']} {row['orders']} "
        assert everything.count(start) == 1, start


def test_insights_with_recommendations_and_section_messages(rendered):
    _, _, texts = rendered
    everything = _flat(" ".join(texts))
    assert "Good: 무선 이어폰 프로 sales rose 24% on Saturday." in everything
    assert "Recommendation: Keep the weekend promotion." in everything
    assert "Warning: Refunds doubled on 자사몰." in everything
    assert "No events in this period." in everything


def _fonts(reader: pypdf.PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font") or {}
        for ref in fonts.get_object().values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


def test_the_cjk_font_is_embedded(rendered):
    _, reader, _ = rendered
    fonts = _fonts(reader)
    cjk = [name for name in fonts if "NotoSansCJK" in re.sub(r"[-\s]", "", name)]
    assert cjk, fonts
    for page in reader.pages:
        for ref in (page["/Resources"].get_object().get("/Font") or {}).values():
            font = ref.get_object()
            if "NotoSansCJK" not in re.sub(r"[-\s]", "", str(font["/BaseFont"])):
                continue
            descendants = font.get("/DescendantFonts")
            descriptor = (
                descendants[0].get_object()["/FontDescriptor"]
                if descendants
                else font["/FontDescriptor"]
            ).get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _xobjects(resources: dict) -> list:
    found = []
    for ref in (resources.get("/XObject") or {}).values():
        obj = ref.get_object()
        found.append(obj)
        if obj.get("/Subtype") == "/Form" and "/Resources" in obj:
            found.extend(_xobjects(obj["/Resources"].get_object()))
    return found


def test_charts_are_vector_drawings_not_images(rendered):
    _, reader, texts = rendered
    everything = _flat(" ".join(texts))
    assert "could not be rendered" not in everything
    # the trend chart's axis and title come out as text: drawn, not pictured
    assert "일별 매출 (Daily revenue)" in everything
    assert "플랫폼별 매출" in everything
    objects = [x for page in reader.pages for x in _xobjects(page["/Resources"].get_object())]
    assert not [x for x in objects if x.get("/Subtype") == "/Image"]
    assert [x for x in objects if x.get("/Subtype") == "/Form"]


# --- without WeasyPrint's layout: the HTML and the formats -----------------------------------


def test_a_chart_that_cannot_be_rendered_leaves_a_notice(monkeypatch):
    def broken(*args, **kwargs):
        raise charts.ChartRenderError("no browser")

    monkeypatch.setattr(charts, "figure_to_svg", broken)
    html = pdf.build_html(fx.make_report(customers=3))
    assert html.count("This chart could not be rendered.") == 2
    assert "data:image/svg+xml" not in html


def test_report_text_is_escaped_in_the_page_and_the_margins(monkeypatch):
    monkeypatch.setattr(charts, "figure_to_svg", lambda *a, **k: "<svg/>")
    report = fx.make_report(customers=1)
    evil = '</style><script>alert("x")</script>'
    bad = Section(
        key="system",
        title=evil,
        tables=[Table(evil, [Column("a", evil)], [{"a": evil}])],
        charts=[Chart(evil, {"data": [], "layout": {}})],
    )
    report = type(report)(**{**report.__dict__, "period_label": evil, "sections": [bad]})
    html = pdf.build_html(report)
    assert "<script>" not in html
    assert "</style><script>" not in html
    assert "&lt;/style&gt;&lt;script&gt;" in html


def test_labels_from_the_report_replace_the_defaults(monkeypatch):
    monkeypatch.setattr(charts, "figure_to_svg", lambda *a, **k: "<svg/>")
    report = fx.make_report(customers=1, locale="ko")
    labels = {"page": "%(page)s / %(pages)s 쪽", "generated": "생성: %(when)s", "contents": "목차"}
    report = type(report)(**{**report.__dict__, "labels": labels})
    html = pdf.build_html(report)
    assert 'counter(page) "\\00002f  \\00002f  "' not in html
    assert "counter(page)" in html and "counter(pages)" in html
    assert "생성: 2026. 12. 7. 09:30" in html
    assert "목차" in html


@pytest.mark.parametrize(
    "value, kind, locale, currency, expected",
    [
        (116_690_000.0, "money", "en", "KRW", "₩116,690,000"),
        (1234.5, "money", "en", "EUR", "€1,234.50"),
        (1234.5, "money", "ko", "EUR", "€1,234.50"),
        (0.1234, "percent", "en", "KRW", "12.3%"),
        (12345, "int", "ko", "KRW", "12,345"),
        (1234.567, "number", "en", "KRW", "1,234.57"),
        (dt.date(2026, 12, 5), "date", "en", "KRW", "Dec 5, 2026"),
        (dt.date(2026, 12, 5), "date", "ko", "KRW", "2026. 12. 5."),
        (dt.datetime(2026, 12, 5, 14, 5), "datetime", "en", "KRW", "Dec 5, 2026, 14:05"),
        ("무선 이어폰", "text", "ko", "KRW", "무선 이어폰"),
        (None, "money", "en", "KRW", ""),
    ],
)
def test_values_are_formatted_by_kind_in_the_report_locale(value, kind, locale, currency, expected):
    assert pdf.format_value(value, kind, locale, currency) == expected


def test_kpi_without_a_value_shows_not_available(monkeypatch):
    monkeypatch.setattr(charts, "figure_to_svg", lambda *a, **k: "<svg/>")
    report = fx.make_report(customers=1)
    report = type(report)(**{**report.__dict__, "cover_kpis": [Kpi("Margin", None, "percent")]})
    assert ">n/a<" in pdf.build_html(report)


def test_a_number_column_has_the_same_decimals_in_every_cell(monkeypatch):
    monkeypatch.setattr(charts, "figure_to_svg", lambda *a, **k: "<svg/>")
    report = fx.make_report(customers=1)
    table = Table("Scores", [Column("x", "X", "number")], [{"x": 1.5}, {"x": 2.25}, {"x": 3}])
    section = Section(key="system", title="Scores", tables=[table])
    report = type(report)(**{**report.__dict__, "sections": [section]})
    cells = re.findall(r'<td class="num">([^<]*)</td>', pdf.build_html(report))
    assert cells == ["1.50", "2.25", "3.00"]
