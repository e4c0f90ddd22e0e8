"""python -m crm_core report: each format written from a store; exit 2 with one line when images can't be made."""

from __future__ import annotations

from crm_core import cli


def test_report_html(sample_store, tmp_path, capsys):
    store, _ = sample_store
    out = tmp_path / "r.html"
    # the session store is open in this process: DuckDB allows a second connection to the same file here
    assert cli.main(["report", "--format", "html", "--out", str(out), "--db", store.path]) == 0
    assert out.read_bytes().startswith(b"<!DOCTYPE html>")
    assert "html report of Sample company" in capsys.readouterr().out


def test_report_window_and_refusals(sample_store, tmp_path, capsys):
    store, _ = sample_store
    out = tmp_path / "w.html"
    assert cli.main(["report", "--format", "html", "--out", str(out), "--db", store.path,
                     "--start", "2026-01-01", "--end", "2026-06-30"]) == 0
    assert "2026-01-01 to 2026-06-30" in out.read_text(encoding="utf-8")
    assert cli.main(["report", "--format", "html", "--out", str(out), "--db", store.path,
                     "--start", "2026-06-30", "--end", "2026-01-01"]) == 2
    assert cli.main(["report", "--format", "html", "--out", str(out), "--db", store.path, "--period", "month",
                     "--start", "2026-01-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)


def test_report_pdf_without_a_browser_exits_2(sample_store, tmp_path, capsys, monkeypatch):
    store, _ = sample_store
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    out = tmp_path / "r.pdf"
    assert cli.main(["report", "--format", "pdf", "--out", str(out), "--db", store.path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Chromium" in err[0]
    assert not out.exists()
