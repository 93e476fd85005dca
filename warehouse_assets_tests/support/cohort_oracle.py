"""Monthly cohorts and new-versus-repeat customers as the README defines them, with pandas on the
oracle's facts (sales and returns, `net_cents` signed): never through the warehouse's tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse_assets_tests.support.oracle_rows import money


def _months(facts: pd.DataFrame) -> pd.DataFrame:
    """Per customer and month: whether they bought, their net amount; and their cohort month."""
    facts = facts.assign(month=[dt.date(d.year, d.month, 1) for d in facts["date"]])
    per_month = (
        facts.groupby(["customer_id", "month"]).agg(bought=("is_sale", "any"), net=("net_cents", "sum")).reset_index()
    )
    first_sale = facts[facts["is_sale"]].groupby("customer_id")["month"].min().rename("cohort")
    return per_month.join(first_sale, on="customer_id")


def customer_cohorts_monthly(facts: pd.DataFrame) -> list[dict]:
    months = _months(facts).dropna(subset=["cohort"])
    out = []
    for (cohort, month), g in months.groupby(["cohort", "month"]):
        if not g["bought"].any():
            continue
        out.append(
            {
                "cohort_month": cohort,
                "months_since_first": (month.year - cohort.year) * 12 + month.month - cohort.month,
                "customers": int(g["bought"].sum()),
                "net_revenue": money(int(g["net"].sum())),
            }
        )
    return out


def new_vs_repeat_monthly(facts: pd.DataFrame) -> list[dict]:
    months = _months(facts)
    buyers = months[months["bought"]]
    out = []
    for month, g in buyers.groupby("month"):
        new = g["cohort"] == month
        out.append(
            {
                "month": month,
                "new_customers": int(new.sum()),
                "repeat_customers": int((~new).sum()),
                "new_customer_net_revenue": money(int(g.loc[new, "net"].sum())),
                "repeat_customer_net_revenue": money(int(g.loc[~new, "net"].sum())),
            }
        )
    return out
