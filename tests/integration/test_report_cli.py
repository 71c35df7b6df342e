"""``bi-app report`` on the demo data: a PDF and a workbook of a period, with progress, and
clear refusals of a bad period or section."""

from __future__ import annotations

import io

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_env(demo_sqlite_url, monkeypatch):
    monkeypatch.setenv("BI_DATABASE_URL", demo_sqlite_url)
    monkeypatch.setenv("BI_SCHEDULER", "off")
    return demo_sqlite_url


def test_a_monthly_pdf_and_workbook(demo_env, tmp_path, capsys):
    import openpyxl
    import pypdf

    from bi_app.cli import main

    pdf = tmp_path / "report.pdf"
    assert (
        main(["report", "--period", "monthly", "--sections", "kpis,trend", "--out", str(pdf)]) == 0
    )
    err = capsys.readouterr().err
    assert "[2/2]" in err and f"{pdf}:" in err  # progress, then the file and its period
    reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Key figures" in text and "Revenue and orders" in text
    assert f"Page 1 of {len(reader.pages)}" in text

    book = tmp_path / "report.xlsx"
    assert main(["report", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(book)]) == 0
    workbook = openpyxl.load_workbook(book)
    assert workbook.sheetnames[0] == "Summary" and len(workbook.sheetnames) > 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-30", "--to", "2026-11-01"], "end date is before its start"),
        (["--from", "2026-11-01"], "Give both --from and --to"),
        (["--from", "30.11.2026", "--to", "2026-12-01"], "--from must be a date like"),
        (["--sections", "kpis,bogus"], "unknown sections: bogus"),
        (["--format", "pdf", "--out", "x.pdf", "--period", "yearly"], None),
    ],
)
def test_bad_arguments_are_refused_with_a_message(demo_env, tmp_path, capsys, args, message):
    from bi_app.cli import main

    out = tmp_path / "x.pdf"
    argv = ["report", "--out", str(out), *args]
    if message is None:
        with pytest.raises(SystemExit):  # argparse refuses an unknown --period choice
            main(argv)
        return
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing half-written
