"""A minimal source layout for tests that need one, changed per test with keyword arguments."""

from __future__ import annotations


def minimal_layout(**overrides) -> dict:
    data = {
        "name": "tiny",
        "description": "a test source",
        "applies_to": {"folder": "tiny"},
        "columns": {
            "transaction_id": {"concat": ["tiny:", {"column": "Order"}]},
            "transaction_date": {"constant": "2024-01-02"},
            "customer_id": {"constant": "c1"},
            "customer_name": {"constant": ""},
            "city": {"constant": ""},
            "product_id": {"surrogate_id": {"column": "Code"}},
            "quantity": {"column": "Qty"},
            "unit_price": {"column": "Price"},
            "total_amount": {"multiply": [{"column": "Qty"}, {"column": "Price"}]},
            "payment_method": {"constant": "cash"},
        },
    }
    data.update(overrides)
    return data
