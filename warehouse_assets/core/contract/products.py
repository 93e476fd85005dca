"""The products contract: what a valid FakeStore product is, and the split of a payload.

Products are few, so each one is validated with Pydantic (`ProductModel`). A product either
becomes a row of the products frame, or is rejected with every rule it broke; one bad product
never refuses the others. The rules include what PostgreSQL cannot store: a price that is not a
finite number of at most ten integer digits, text with NUL characters or lone surrogates.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pandas as pd
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from warehouse_assets.core.contract.limits import INTEGER_MAX, PRICE_MAX, TEXT_LIMITS, storable_text_problem

PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "product_name",
    "category",
    "unit_price",
    "description",
    "image_url",
    "rating_rate",
    "rating_count",
    "loaded_at",
)


def _finite_json_number(value: Any, what: str) -> Any:
    # One rule for prices given as text: they are refused. The API sends numbers; a string
    # price means the payload is not what the contract describes, and guessing would hide it.
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError(f"{what} must be a JSON number, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        problem = storable_text_problem(value)
        if problem:
            raise ValueError(problem)
    return value


class Rating(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rate: float | None = Field(default=None, ge=0, le=5)
    count: int | None = Field(default=None, ge=0, le=INTEGER_MAX)  # rating_count is integer

    @field_validator("rate", "count", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info) -> Any:
        return value if value is None else _finite_json_number(value, f"rating.{info.field_name}")


TrimmedNonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ProductModel(BaseModel):
    """One product as the FakeStore API sends it (`GET /products`)."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(gt=0, le=INTEGER_MAX)  # product_id is integer
    title: TrimmedNonEmpty = Field(max_length=TEXT_LIMITS["product_name"])
    price: decimal.Decimal = Field(gt=0, le=PRICE_MAX, decimal_places=2)
    description: str | None = Field(default=None, max_length=TEXT_LIMITS["description"])
    category: TrimmedNonEmpty = Field(max_length=TEXT_LIMITS["category"])  # case kept: "jewelery" stays
    image: AnyUrl
    rating: Rating | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _integer_id(cls, value: Any) -> Any:
        if isinstance(value, bool) or isinstance(value, str):
            raise ValueError(f"id must be a JSON integer, got {type(value).__name__} {value!r}")
        return value

    @field_validator("price", mode="before")
    @classmethod
    def _price_from_json_number(cls, value: Any) -> Any:
        value = _finite_json_number(value, "price")
        # JSON floats such as 109.95 must become Decimal('109.95'), not the binary float's
        # 109.9500000000000028421709...; integers such as 695 stay exact.
        if isinstance(value, float):
            return decimal.Decimal(repr(value))
        return value

    @field_validator("title", "description", "category", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _storable(value)

    @field_validator("image", mode="before")
    @classmethod
    def _image_text(cls, value: Any) -> Any:
        return _storable(value)

    @field_validator("image")
    @classmethod
    def _http_url(cls, value: AnyUrl) -> AnyUrl:
        if value.scheme not in ("http", "https") or not value.host:
            raise ValueError("image must be an http(s) URL")
        if len(str(value)) > TEXT_LIMITS["image_url"]:
            raise ValueError(f"image URL longer than {TEXT_LIMITS['image_url']} characters")
        return value


@dataclass(frozen=True)
class RejectedProduct:
    product_id: str | None
    errors: list[dict[str, str]]  # [{"field": ..., "message": ...}]
    raw: Any  # as received, made storable as JSON (see json_safe)


@dataclass
class ValidatedProducts:
    frame: pd.DataFrame
    rejected: list[RejectedProduct] = field(default_factory=list)
    received: int = 0


def json_safe(value: Any) -> Any:
    """A JSON value PostgreSQL's jsonb can store: NUL characters and lone surrogates become
    U+FFFD, non-finite floats become their text ("NaN", "Infinity"), so a rejected product's raw
    record can always be kept, whatever the API sent."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace").replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _product_id(item: Any) -> str | None:
    if not isinstance(item, dict) or item.get("id") is None:
        return None
    return json_safe(str(item.get("id")))[: TEXT_LIMITS["product_id_text"]]


def validate_products(payload: Iterable[Any], loaded_at: dt.datetime) -> ValidatedProducts:
    """Split a FakeStore payload into clean products-frame rows and rejects with every broken rule."""
    rows: list[dict[str, Any]] = []
    rejected: list[RejectedProduct] = []
    seen: set[int] = set()
    received = 0
    for item in payload:
        received += 1
        try:
            product = ProductModel.model_validate(item)
        except ValidationError as exc:
            errors = [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or "(record)",
                    "message": json_safe(e["msg"].removeprefix("Value error, ")),
                }
                for e in exc.errors(include_url=False)
            ]
            rejected.append(RejectedProduct(_product_id(item), errors, json_safe(item)))
            continue
        if product.id in seen:
            rejected.append(
                RejectedProduct(
                    str(product.id), [{"field": "id", "message": "duplicate id in the response"}], json_safe(item)
                )
            )
            continue
        seen.add(product.id)
        rating = product.rating
        rows.append(
            {
                "product_id": product.id,
                "product_name": product.title,
                "category": product.category,
                "unit_price": product.price,
                "description": product.description,
                "image_url": str(product.image),
                "rating_rate": None if rating is None or rating.rate is None else decimal.Decimal(str(rating.rate)),
                "rating_count": None if rating is None else rating.count,
                "loaded_at": loaded_at,
            }
        )
    frame = pd.DataFrame(rows, columns=list(PRODUCT_COLUMNS))
    frame["product_id"] = frame["product_id"].astype("int64")
    frame["rating_count"] = frame["rating_count"].astype("Int64")
    frame["loaded_at"] = pd.to_datetime(frame["loaded_at"], utc=True)
    return ValidatedProducts(frame=frame, rejected=rejected, received=received)
