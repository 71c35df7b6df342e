"""Demo reference data: categories, products, sales platforms and customers."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bi_app.db.demo_calendar import Calendar

PLATFORMS = (
    ("web", "Web shop"),
    ("mobile_app", "Mobile app"),
    ("marketplace", "Marketplace"),
    ("retail_store", "Retail stores"),
)
RETAIL = 3  # index of retail_store in PLATFORMS
REGIONS = ("DACH", "France", "Benelux", "Iberia", "Italy", "Nordics", "UK & Ireland", "CEE")
REGION_SHARES = np.array([0.24, 0.17, 0.11, 0.1, 0.1, 0.09, 0.12, 0.07])
GENDERS = np.array(["female", "male", "other", None], dtype=object)
GENDER_SHARES = np.array([0.5, 0.45, 0.015, 0.035])

# code, name, median price (EUR), monthly demand profile Jan..Dec, product names
CATEGORIES: tuple[tuple[str, str, float, tuple[float, ...], tuple[str, ...]], ...] = (
    (
        "electronics",
        "Electronics",
        79.0,
        (0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.9, 0.9, 0.95, 1.0, 1.5, 1.7),
        (
            "Wireless Earbuds",
            "Bluetooth Speaker",
            "Smartwatch",
            "USB-C Charger",
            "Power Bank",
            "Noise-Cancelling Headphones",
            "Action Camera",
            "E-Reader",
            "Gaming Mouse",
            "Mechanical Keyboard",
            "Portable SSD",
            "Smart Plug",
            "Fitness Tracker",
            "Webcam HD",
            "Tablet Stand",
        ),
    ),
    (
        "home_kitchen",
        "Home & Kitchen",
        39.0,
        (1.0, 0.9, 1.0, 1.0, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.2, 1.35),
        (
            "Chef's Knife",
            "Cast Iron Skillet",
            "French Press",
            "Espresso Machine",
            "Blender",
            "Air Fryer",
            "Bamboo Cutting Board",
            "Linen Bed Set",
            "Scented Candle",
            "Throw Blanket",
            "Ceramic Dinner Set",
            "Electric Kettle",
            "Storage Jars",
            "Desk Lamp",
            "Wall Clock",
        ),
    ),
    (
        "fashion",
        "Fashion",
        45.0,
        (0.85, 0.8, 1.1, 1.15, 1.1, 1.0, 0.95, 0.9, 1.1, 1.15, 1.2, 1.3),
        (
            "Merino Sweater",
            "Denim Jacket",
            "Running Shoes",
            "Leather Belt",
            "Rain Jacket",
            "Cotton T-Shirt",
            "Chino Trousers",
            "Wool Scarf",
            "Sneakers",
            "Summer Dress",
            "Canvas Backpack",
            "Sunglasses",
            "Winter Boots",
            "Baseball Cap",
            "Silk Tie",
        ),
    ),
    (
        "sports_outdoors",
        "Sports & Outdoors",
        49.0,
        (1.25, 1.0, 1.0, 1.1, 1.2, 1.25, 1.2, 1.1, 0.95, 0.85, 0.9, 1.0),
        (
            "Yoga Mat",
            "Adjustable Dumbbells",
            "Trekking Poles",
            "Camping Tent",
            "Sleeping Bag",
            "Cycling Helmet",
            "Water Bottle",
            "Resistance Bands",
            "Trail Running Vest",
            "Climbing Chalk Bag",
            "Tennis Racket",
            "Foam Roller",
            "Headlamp",
            "Swim Goggles",
            "Hiking Socks",
        ),
    ),
    (
        "beauty_health",
        "Beauty & Health",
        22.0,
        (0.95, 1.15, 1.0, 1.0, 1.05, 1.0, 0.95, 0.95, 0.95, 1.0, 1.2, 1.45),
        (
            "Face Serum",
            "Hand Cream",
            "Electric Toothbrush",
            "Hair Dryer",
            "Perfume 50ml",
            "Sunscreen SPF50",
            "Beard Trimmer",
            "Lip Balm Set",
            "Shampoo Bar",
            "Body Lotion",
            "Vitamin D3",
            "Massage Oil",
            "Nail Care Kit",
            "Bath Salts",
            "Makeup Brushes",
        ),
    ),
    (
        "toys_games",
        "Toys & Games",
        29.0,
        (0.7, 0.7, 0.75, 0.8, 0.8, 0.8, 0.85, 0.85, 0.9, 1.0, 1.6, 2.3),
        (
            "Building Blocks Set",
            "Jigsaw Puzzle 1000",
            "Board Game Classic",
            "Plush Bear",
            "Remote Control Car",
            "Wooden Train Set",
            "Card Game",
            "Science Kit",
            "Doll House",
            "Kite",
            "Art Supplies Box",
            "Puzzle Cube",
            "Marble Run",
            "Toy Kitchen",
            "Drone Mini",
        ),
    ),
    (
        "books_media",
        "Books & Media",
        18.0,
        (1.05, 0.95, 0.95, 0.95, 0.95, 1.0, 1.1, 1.1, 1.0, 1.0, 1.1, 1.4),
        (
            "Cookbook",
            "Crime Novel",
            "Travel Guide",
            "Children's Picture Book",
            "Biography",
            "Vinyl Record",
            "Graphic Novel",
            "Language Course",
            "Photo Book",
            "Science Fiction Novel",
            "Poetry Collection",
            "History Atlas",
            "Board Book",
            "Audio Drama",
            "Notebook Set",
        ),
    ),
    (
        "garden_diy",
        "Garden & DIY",
        35.0,
        (0.6, 0.7, 1.1, 1.4, 1.55, 1.4, 1.2, 1.0, 0.9, 0.8, 0.7, 0.7),
        (
            "Cordless Drill",
            "Garden Hose",
            "Pruning Shears",
            "Seed Starter Kit",
            "Tool Box",
            "Raised Bed",
            "Solar Garden Lights",
            "Watering Can",
            "Work Gloves",
            "Plant Pots Set",
            "Bird Feeder",
            "Spirit Level",
            "Paint Roller Kit",
            "Compost Bin",
            "Garden Kneeler",
        ),
    ),
)

FIRST_F = (
    "Anna",
    "Sophie",
    "Marie",
    "Laura",
    "Julia",
    "Emma",
    "Lea",
    "Sara",
    "Chloé",
    "Inès",
    "Lucía",
    "Carmen",
    "Giulia",
    "Chiara",
    "Elena",
    "Ingrid",
    "Freya",
    "Astrid",
    "Olivia",
    "Amelia",
    "Zofia",
    "Katarzyna",
    "Eva",
    "Nina",
    "Lisa",
    "Hannah",
    "Mia",
    "Clara",
    "Ana",
    "Martina",
)
FIRST_M = (
    "Lukas",
    "Jonas",
    "Felix",
    "Maximilian",
    "Paul",
    "Louis",
    "Hugo",
    "Gabriel",
    "Lucas",
    "Mateo",
    "Pablo",
    "Marco",
    "Luca",
    "Matteo",
    "Lars",
    "Erik",
    "Oskar",
    "Oliver",
    "Jack",
    "Harry",
    "Jakub",
    "Piotr",
    "Tomas",
    "David",
    "Noah",
    "Leon",
    "Elias",
    "Daan",
    "Sem",
    "Bram",
)
LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "García",
    "Fernández",
    "López",
    "Martínez",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Jansen",
    "de Vries",
    "Bakker",
    "Visser",
    "Peeters",
    "Hansen",
    "Johansson",
    "Nielsen",
    "Lindqvist",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "O'Brien",
    "Nowak",
    "Kowalski",
    "Novák",
    "Horváth",
    "Silva",
    "Santos",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Lefebvre",
    "Moreau",
    "Ricci",
    "Dijkstra",
    "Berg",
    "Andersen",
    "Walsh",
)


Category = tuple[str, str, float, tuple[float, ...], tuple[str, ...]]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _euro_list_prices(raw: np.ndarray) -> np.ndarray:
    """Raw prices in euros to cents ending in 9 (12.49), at least 4.99."""
    return np.maximum(499, np.round(raw * 10) * 10 - 1).astype(np.int64)


@dataclass(frozen=True)
class CatalogueProfile:
    """A market's shop: what it sells at which prices, its platforms, regions and names."""

    platforms: tuple[tuple[str, str], ...]  # codes stay the same in every market
    categories: tuple[Category, ...]  # medians in the unit ``list_prices`` expects
    list_prices: Callable[[np.ndarray], np.ndarray]  # raw prices -> int64 minor units
    regions: tuple[str, ...]
    region_shares: np.ndarray
    first_f: tuple[str, ...]
    first_m: tuple[str, ...]
    last: tuple[str, ...]
    last_shares: np.ndarray | None = None  # None: every family name equally common
    full_name: Callable[[str, str], str] = lambda first, last: f"{first} {last}"
    email_part: Callable[[str], str] = _ascii  # a name as the ASCII of an e-mail address


ENGLISH_CATALOGUE = CatalogueProfile(
    platforms=PLATFORMS,
    categories=CATEGORIES,
    list_prices=_euro_list_prices,
    regions=REGIONS,
    region_shares=REGION_SHARES,
    first_f=FIRST_F,
    first_m=FIRST_M,
    last=LAST,
)


@dataclass(frozen=True)
class Catalogue:
    category_of: np.ndarray  # product index -> category index
    price_cents: np.ndarray  # product base price
    popularity: np.ndarray  # Zipf-like weights, sum 1
    season: np.ndarray  # category x month (12) demand multipliers

    def product_probabilities(self, month: int) -> np.ndarray:
        """Chance of each product being picked for an order line in ``month`` (1-12)."""
        weights = self.popularity * self.season[self.category_of, month - 1]
        return weights / weights.sum()


@dataclass(frozen=True)
class Customers:
    created_day: np.ndarray  # day index relative to calendar start (negative: before span)
    churn_day: np.ndarray  # day index after which the customer stops buying
    weight: np.ndarray  # heavy-tailed purchase propensity
    preferred_platform: np.ndarray
    channel: np.ndarray  # acquisition channel (object array)
    first_day: np.ndarray  # day of the sign-up purchase, -1 when there is none
    by_first_day: np.ndarray  # customer indexes ordered by first_day
    first_sorted: np.ndarray  # first_day[by_first_day], for binary search

    def __len__(self) -> int:
        return len(self.weight)

    def first_buyers(self, day: int) -> np.ndarray:
        """Customers whose first purchase falls on ``day`` (most sign up to buy)."""
        lo, hi = np.searchsorted(self.first_sorted, [day, day + 1])
        return self.by_first_day[lo:hi]


def catalogue_rows(
    rng: np.random.Generator, profile: CatalogueProfile = ENGLISH_CATALOGUE
) -> tuple[Catalogue, dict, dict, dict]:
    """Categories, products and platforms as column dicts, plus the model behind them."""
    kinds = profile.categories
    categories = {
        "id": list(range(1, len(kinds) + 1)),
        "code": [c[0] for c in kinds],
        "name": [c[1] for c in kinds],
    }
    names, skus, cat_of, prices = [], [], [], []
    for ci, (code, _name, median, _season, products) in enumerate(kinds):
        for pi, product in enumerate(products):
            names.append(product)
            skus.append(f"{code[:3].upper()}-{1001 + pi}")
            cat_of.append(ci)
            prices.append(median * float(rng.lognormal(0.0, 0.65)))
    price_cents = profile.list_prices(np.array(prices))
    cost_cents = np.round(price_cents * rng.uniform(0.42, 0.68, len(price_cents))).astype(np.int64)
    rank = rng.permutation(len(names)) + 1
    popularity = 1.0 / rank**1.05
    popularity /= popularity.sum()
    active = rng.random(len(names)) > 0.04
    products = {
        "id": list(range(1, len(names) + 1)),
        "sku": skus,
        "name": names,
        "category_id": (np.array(cat_of) + 1).tolist(),
        "unit_price_cents": price_cents,
        "unit_cost_cents": cost_cents,
        "active": active,
    }
    platforms = {
        "id": list(range(1, len(profile.platforms) + 1)),
        "code": [p[0] for p in profile.platforms],
        "name": [p[1] for p in profile.platforms],
    }
    season = np.array([c[3] for c in kinds])
    model = Catalogue(
        category_of=np.array(cat_of), price_cents=price_cents, popularity=popularity, season=season
    )
    return model, categories, products, platforms


VISIT_CHANNELS = np.array(
    ["direct", "search", "email", "social", "display", "partner"], dtype=object
)
VISIT_CHANNEL_SHARES = np.array([0.3, 0.3, 0.14, 0.14, 0.07, 0.05])


def make_customers(
    count: int,
    calendar: Calendar,
    rng: np.random.Generator,
    profile: CatalogueProfile = ENGLISH_CATALOGUE,
) -> tuple[Customers, dict]:
    """Customers ordered by sign-up (ids grow with time) and their table rows.

    A third existed before the span; the rest sign up as demand grows. Purchase propensity is
    lognormal, so a few loyal customers buy often and many buy once.
    """
    existing = int(count * 0.3)
    before = -rng.integers(1, 3 * 365, existing)
    density = np.maximum(calendar.expected, 0.0) + 1e-9
    during = rng.choice(len(calendar.days), count - existing, p=density / density.sum())
    created_day = np.sort(np.concatenate([before, during]))
    seconds = rng.integers(6 * 3600, 23 * 3600, count)
    start = np.datetime64(calendar.start, "s")
    created_at = start + created_day.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")

    weight = rng.lognormal(0.0, 1.45, count)
    lifetime = rng.exponential(420.0, count) * np.where(weight > np.quantile(weight, 0.9), 3, 1)
    churn_day = created_day + 20 + lifetime.astype(np.int64)
    preferred = rng.choice(len(PLATFORMS), count, p=[0.42, 0.28, 0.18, 0.12])
    channel = rng.choice(VISIT_CHANNELS, count, p=VISIT_CHANNEL_SHARES)

    gender = rng.choice(GENDERS, count, p=GENDER_SHARES)
    female = gender == "female"
    first_f = np.array(profile.first_f, dtype=object)
    male_names = rng.choice(np.array(profile.first_m, dtype=object), count)
    first = np.where(female, rng.choice(first_f, count), male_names)
    other = (gender == "other") | (gender == None)
    first = np.where(other & (rng.random(count) < 0.5), rng.choice(first_f, count), first)
    last = rng.choice(np.array(profile.last, dtype=object), count, p=profile.last_shares)
    age = np.clip(np.round(rng.gamma(7.0, 5.6, count) + 17), 18, 88).astype(np.int64)
    birth_year = calendar.end.year - age
    region = rng.choice(np.array(profile.regions, dtype=object), count, p=profile.region_shares)
    has_email = rng.random(count) > 0.06
    ids = np.arange(1, count + 1)
    full_name, part = profile.full_name, profile.email_part
    names = [full_name(f, s) for f, s in zip(first.tolist(), last.tolist())]
    emails = [
        f"{part(f)}.{part(s)}{i}@example.{('com', 'net', 'org')[i % 3]}" if e else None
        for f, s, i, e in zip(first.tolist(), last.tolist(), ids.tolist(), has_email.tolist())
    ]
    rows = {
        "id": ids,
        "external_id": [f"CUS-{i:07d}" for i in ids.tolist()],
        "name": names,
        "email": emails,
        "region": region,
        "gender": gender,
        "birth_year": birth_year,
        "created_at": created_at,
    }
    buys_first = (created_day >= 0) & (rng.random(count) < 0.85)
    first_day = np.where(buys_first, created_day + 1 + rng.geometric(0.6, count) - 1, -1)
    by_first_day = np.argsort(first_day, kind="stable")
    model = Customers(
        created_day=created_day,
        churn_day=churn_day,
        weight=weight,
        preferred_platform=preferred,
        channel=channel,
        first_day=first_day,
        by_first_day=by_first_day,
        first_sorted=first_day[by_first_day],
    )
    return model, rows
