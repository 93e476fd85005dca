"""The executive summary's figures as the terminal lists them."""

from decimal import Decimal

from warehouse_assets.core.reporting import Summary


def test_every_figure_is_one_line_whatever_the_names_hold():
    summary = Summary(
        figures={
            "best_product": "Slim\nFit  Tee\r\n",
            "best_city": "New\nYork",
            "best_city_country": "US",
            "total_orders": 1234,
            "total_revenue": Decimal("1234567.5"),
        },
        daily=[],
        top_products=[],
    )
    shown = dict(summary.formatted())
    assert shown["Best product"] == "Slim Fit Tee"
    assert shown["Best city"] == "New York, US"
    assert shown["Orders"] == "1,234"
    assert all("\n" not in text and "\r" not in text for text in shown.values())
