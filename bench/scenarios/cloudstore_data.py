"""The cloud store benchmark's data formulas, shared by its runner (which builds the bulk-update
bodies), its Django-side steps (which seed the catalogue and check what the bulk updates wrote)
and its report. No Django imports here.

Catalogue of each brand: product p = 0..N_PRODUCTS-1 has 2 SKUs if p is even, else 3 (so
2,000 products give 5,000 SKUs); SKU number n = 0..N_SKUS-1 runs through them in product order
and has code ``SKU`` + n as 6 digits (the same codes in both brands: codes are per brand).
"""

from __future__ import annotations

import json
import os

N_PRODUCTS = int(os.environ.get("BENCH_CS_PRODUCTS", 2000))
CATEGORIES = [
    "精华",
    "面霜",
    "乳液",
    "洁面",
    "面膜",
    "眼部护理",
    "防晒",
    "彩妆",
    "香氛",
    "身体护理",
    "男士",
    "母婴",
    "口腔护理",
    "洗发",
    "护发",
    "美容仪",
    "礼盒",
    "旅行装",
    "配件",
    "限定",
]
ADJECTIVES = ["水润", "焕亮", "修护", "紧致", "舒缓", "净澈", "轻盈", "丰盈", "柔滑", "清透"]
# Product p's name holds NOUNS[(p // len(ADJECTIVES)) % len(NOUNS)]: each noun names 1 in 10 products.
NOUNS = ["精华液", "面霜", "乳液", "洁面乳", "面膜", "眼霜", "防晒乳", "唇膏", "香水", "爽肤水"]
SEARCH_WORD = "面霜"
SPECS = ["30ml", "50ml", "100ml"]


def skus_of(p: int) -> int:
    return 2 if p % 2 == 0 else 3


def n_skus(n_products: int = N_PRODUCTS) -> int:
    return sum(skus_of(p) for p in range(n_products))


N_SKUS = n_skus()


def sku_code(n: int) -> str:
    return f"SKU{n:06d}"


def product_name(p: int, brand_mark: str = "") -> str:
    """Brand B's names carry a mark, so a page can show whose products it lists."""
    adj = ADJECTIVES[p % len(ADJECTIVES)]
    noun = NOUNS[(p // len(ADJECTIVES)) % len(NOUNS)]
    return f"{brand_mark}{adj}{noun} {p:04d}"


def list_price(n: int) -> int:
    """A SKU's list price in fen: ¥19.90 .. ¥518.90."""
    return 1990 + (n * 37 % 500) * 100


def store_code(number: int) -> str:
    """bench/seed.py names a brand's stores S0001 .. S0200."""
    return f"S{number:04d}"


# --- the stores of the benchmark ------------------------------------------------------------------

BIG_STORE = 1  # lists every SKU: the store page benchmark
SMALL_STORE = 2  # lists the first 200 products' SKUs (500 SKUs): the query count must not change
OTHER_FULL_STORES = range(3, 13)  # stock of every SKU too, so the store filter matters
B_FULL_STORES = range(1, 6)  # brand B's stores with its (same-coded) SKUs
RACE_STORE = 199  # the checkout race's SKUs only
BULK_STORES_PER_LOAD = int(os.environ.get("BENCH_BULK_STORES", 10))  # x 5,000 SKUs = 50,000 rows a load
BULK_FIRST_STORE = 101  # load k (0, 1, 2, ...) uses stores 101 + 10k .. 110 + 10k, empty at seed


def small_store_products() -> int:
    """Products whose SKUs the small store lists (the first ones, about 500 SKUs)."""
    total, p = 0, 0
    while total < 500 and p < N_PRODUCTS:
        total += skus_of(p)
        p += 1
    return p


def seed_on_hand(n: int, store: int) -> int:
    """Stock at seed: 0 for 1 SKU in 20 (sold out), else 1..59."""
    return 0 if (n + store) % 20 == 0 else 1 + (n * 7 + store) % 59


def seed_store_price(n: int, store: int) -> int | None:
    """1 row in 4 has a store price below the list price."""
    return list_price(n) - 100 * (1 + store % 5) if (n + store) % 4 == 0 else None


# --- bulk update bodies ----------------------------------------------------------------------------


def bulk_stores(load: int) -> list[str]:
    first = BULK_FIRST_STORE + BULK_STORES_PER_LOAD * load
    return [store_code(first + j) for j in range(BULK_STORES_PER_LOAD)]


def bulk_row(n: int, j: int, phase: str) -> dict:
    """The row for SKU n at the load's j-th store: phase "create" (first load) or "update"."""
    row: dict = {"sku": sku_code(n)}
    if phase == "create":
        row["on_hand"] = (n * 7 + j * 13) % 200
        if n % 3 == 0:
            row["price_fen"] = list_price(n) - 100 * (j + 1)
        if n % 5 == 0:
            row["low_stock_at"] = 3 + j
    else:
        row["on_hand"] = (n * 11 + j * 17 + 1) % 250
        if n % 8 == 0:
            row["price_fen"] = None  # back to the brand's price
        elif n % 4 == 0:
            row["price_fen"] = list_price(n) - 50
        if n % 6 == 0:
            row["low_stock_at"] = 10
    return row


def bulk_body(load: int, phase: str, n_skus_: int = N_SKUS) -> bytes:
    stores = bulk_stores(load)
    rows = []
    for j, store in enumerate(stores):
        for n in range(n_skus_):
            rows.append({"store": store, **bulk_row(n, j, phase)})
    reason = f"bench bulk load {load} ({phase})"
    return json.dumps({"reason": reason, "rows": rows}, separators=(",", ":")).encode()


def bulk_expected(n: int, j: int, phases: list[str]) -> tuple[int, int | None, int]:
    """(on_hand, price_fen, low_stock_at) of the row after the given loads, in order."""
    on_hand, price, low = 0, None, 5  # the model's defaults
    for phase in phases:
        r = bulk_row(n, j, phase)
        on_hand = r["on_hand"]
        if "price_fen" in r:
            price = r["price_fen"]
        if r.get("low_stock_at") is not None:
            low = r["low_stock_at"]
    return on_hand, price, low


def bulk_moves(n: int, j: int, phases: list[str]) -> int:
    """Stock movements the loads write for the row: one per load that changes on_hand."""
    before, moves = 0, 0
    for phase in phases:
        after = bulk_row(n, j, phase)["on_hand"]
        moves += after != before
        before = after
    return moves
