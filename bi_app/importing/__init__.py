"""Data import: customers, products, orders, visits and event figures from CSV, Excel or Parquet.

Every file is validated row by row and written all or nothing; see :mod:`.service`.
"""

from bi_app.importing.reader import MAX_CLI_BYTES, MAX_UPLOAD_BYTES, ImportFileError
from bi_app.importing.runs import get_run, recent_runs
from bi_app.importing.schemas import KINDS, get_kind
from bi_app.importing.service import (
    ImportOutcome,
    app_invalidator,
    decode_upload,
    import_file,
    recent_imports,
    run_view,
    start_import,
    start_upload,
)
from bi_app.importing.templates import column_help, template_file
from bi_app.importing.validate import MAX_REPORTED_ERRORS, RowError

__all__ = [
    "KINDS",
    "MAX_CLI_BYTES",
    "MAX_REPORTED_ERRORS",
    "MAX_UPLOAD_BYTES",
    "ImportFileError",
    "ImportOutcome",
    "RowError",
    "app_invalidator",
    "column_help",
    "decode_upload",
    "get_kind",
    "get_run",
    "import_file",
    "recent_imports",
    "recent_runs",
    "run_view",
    "start_import",
    "start_upload",
    "template_file",
]
