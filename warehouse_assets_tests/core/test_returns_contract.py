"""The order and return columns of the sales contract, record by record and as columns."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from pydantic import ValidationError

from warehouse_assets.core.contract.sales import SalesTransaction, returns_from_negative_quantities

BASE = {
    "transaction_id": "T1",
    "transaction_date": "2024-05-01 10:00:00",
    "customer_id": "C1",
    "product_id": "3",
    "quantity": "2",
    "unit_price": "5.00",
    "total_amount": "10.00",
    "payment_method": "cash",
}


def test_a_line_without_order_or_type_is_a_sale_and_an_order_of_its_own() -> None:
    t = SalesTransaction.model_validate(BASE)
    assert (t.transaction_type, t.order_id, t.original_transaction_id) == ("sale", "T1", None)


def test_a_return_keeps_positive_amounts_and_names_its_original() -> None:
    t = SalesTransaction.model_validate(
        BASE | {"transaction_type": " Return ", "original_transaction_id": "T0", "order_id": "O9"}
    )
    assert (t.transaction_type, t.order_id, t.original_transaction_id) == ("return", "O9", "T0")
    assert t.total_amount == decimal.Decimal("10.00") and t.quantity == 2


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"transaction_type": "return", "quantity": "0", "total_amount": "0"}, "non_positive_quantity"),
        (
            {"transaction_type": "return", "quantity": "-2", "total_amount": "-10.00"},
            "non_positive_quantity,negative_amount",
        ),
        ({"transaction_type": "refund"}, "bad_transaction_type"),
        ({"original_transaction_id": "T0"}, "original_on_sale"),
    ],
)
def test_bad_returns_carry_exact_reasons(changes: dict, reasons: str) -> None:
    with pytest.raises(ValidationError, match=f"breaks the contract: {reasons} \\["):
        SalesTransaction.model_validate(BASE | changes | {"_load_time": dt.datetime.now(dt.UTC)})


def test_negative_quantities_become_returns_where_a_layout_says_so() -> None:
    columns = {
        "quantity": pa.array(["-3", "2", "-1"]),
        "total_amount": pa.array(["-7.50", "5.00", "-2.10"]),
        "transaction_type": pa.array(["", "", "sale"]),
    }
    out = returns_from_negative_quantities(columns)
    assert out["quantity"].to_pylist() == ["3", "2", "1"]
    assert out["total_amount"].to_pylist() == ["7.50", "5.00", "2.10"]
    # A line the source calls a sale stays one, so a negative sale is still caught by the rules.
    assert out["transaction_type"].to_pylist() == ["return", "", "sale"]
