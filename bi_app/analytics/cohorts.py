"""Monthly cohort retention: cohort = the month of a customer's first order."""

from __future__ import annotations

import datetime as dt

import pandas as pd


def months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def retention_table(active: pd.DataFrame) -> pd.DataFrame:
    """From rows ``cohort`` (month), ``month`` (an active month), ``customers`` (active cohort
    members that month) to rows ``cohort``, ``months_since``, ``customers``, ``cohort_size``,
    ``retention`` (fraction of the cohort active ``months_since`` months after its first).

    The cohort size is the count in the cohort's own month (everyone in it ordered then)."""
    columns = ["cohort", "months_since", "customers", "cohort_size", "retention"]
    if active.empty:
        return pd.DataFrame(columns=columns)
    frame = active.copy()
    frame["months_since"] = [months_between(c, m) for c, m in zip(frame["cohort"], frame["month"])]
    frame = frame[frame["months_since"] >= 0]
    sizes = frame[frame["months_since"] == 0].set_index("cohort")["customers"]
    frame["cohort_size"] = frame["cohort"].map(sizes).fillna(0).astype("int64")
    frame = frame[frame["cohort_size"] > 0]
    frame["retention"] = frame["customers"] / frame["cohort_size"]
    frame = frame.sort_values(["cohort", "months_since"]).reset_index(drop=True)
    return frame[columns].astype({"months_since": "int64", "customers": "int64"})
