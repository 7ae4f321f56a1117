"""A synthetic card-transactions data set with fraud patterns generated into it.

``generate(n_transactions, days, seed)`` returns one row per purchase: who bought (a user
with a registration date, a home country and one or two devices and cards), from whom (a
seller and one of its items), how many items and for how much, and the ground truth.

Most purchases are ordinary: each user spends around their own level, on their own cards
and devices, mostly from home, with some travel, new phones, big purchases and app-store
micro-payments so that unusual is not the same as fraud. Into that go four kinds of fraud:

* **card testing**: a fresh account tries a stolen card with a burst of tiny amounts
  within minutes, and if they go through, spends big; stolen cards get reused weeks later;
* **fraud rings**: a group of new accounts sharing a few cards and devices buys from one
  or two colluding sellers with item counts those sellers never otherwise see;
* **account takeovers**: an old account suddenly appears on a new device, usually from
  another country, and makes a few large purchases within hours;
* **friendly fraud**: ordinary-looking purchases charged back anyway; nothing in the data
  gives them away, which keeps any model honest.

Labels arrive late: a fraud is known when its chargeback arrives (days to weeks after the
purchase); a good purchase is known to be good once the 30-day chargeback window closes.
``label_available_at`` says when; near the end of the data many labels are not known yet.
The column ``fraud_pattern`` says which pattern produced a fraud (ground truth for reports,
not a feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-01-06")
DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0
CHARGEBACK_WINDOW_DAYS = 30.0

COUNTRIES = np.array(["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "BR", "IN", "CA", "AU"])
COUNTRY_WEIGHTS = np.array([30, 12, 11, 9, 7, 6, 5, 5, 5, 4, 3, 3], dtype=float)
PATTERNS = ("none", "card_testing", "fraud_ring", "account_takeover", "friendly_fraud")
_NONE, _CARD_TESTING, _RING, _TAKEOVER, _FRIENDLY = range(len(PATTERNS))

# Share of purchases per hour of day (local time is not modelled): quiet nights, busy evenings.
_MICRO = np.array([0.99, 1.99, 2.99, 4.99])
_HOURLY = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4], dtype=float
)


@dataclass
class _World:
    """Users, sellers, items, cards and devices, by integer index; fraud adds its own."""

    rng: np.random.Generator
    horizon: float
    user_registered: list[np.ndarray] = field(default_factory=list)
    user_country: list[np.ndarray] = field(default_factory=list)
    n_users: int = 0
    n_cards: int = 0
    n_devices: int = 0

    def add_users(self, registered: np.ndarray, country: np.ndarray) -> np.ndarray:
        first = self.n_users
        self.user_registered.append(np.asarray(registered, dtype=float))
        self.user_country.append(np.asarray(country, dtype=np.int64))
        self.n_users += len(registered)
        return np.arange(first, self.n_users)

    def add_cards(self, n: int) -> np.ndarray:
        self.n_cards += n
        return np.arange(self.n_cards - n, self.n_cards)

    def add_devices(self, n: int) -> np.ndarray:
        self.n_devices += n
        return np.arange(self.n_devices - n, self.n_devices)


@dataclass
class _Legit:
    """The ordinary users and sellers, with everything ordinary purchases are drawn from."""

    users: np.ndarray
    activity: np.ndarray
    spend: np.ndarray  # log of a user's typical amount
    card: np.ndarray
    second_card: np.ndarray  # -1: none
    device: np.ndarray
    second_device: np.ndarray  # -1: none
    seller_popularity: np.ndarray
    seller_items_from: np.ndarray
    seller_items: np.ndarray
    seller_bulk: np.ndarray  # Poisson mean of the extra items in one purchase
    digital: np.ndarray  # indices of app-store-like sellers
    pricey: np.ndarray  # indices of sellers where big purchases happen


Columns = dict[str, np.ndarray]


def generate(n_transactions: int = 200_000, days: int = 90, seed: int = 0) -> pd.DataFrame:
    """Generate ``n_transactions`` purchases over ``days`` days, the same for the same seed.

    Columns: transaction_id, ts, user_id, user_registered_at, seller_id, item_id,
    item_count, amount, card_hash, country, device_id, is_fraud, label_available_at,
    fraud_pattern; rows in time order.
    """
    if n_transactions < 100:
        raise ValueError("n_transactions must be at least 100")
    if days < 7:
        raise ValueError("days must be at least 7")
    rng = np.random.default_rng(seed)
    world = _World(rng, days * DAY)
    legit = _population(world, n_transactions)
    fraud = [
        _card_testing(world, legit, n_transactions),
        _fraud_rings(world, legit, n_transactions),
        _account_takeovers(world, legit, n_transactions),
    ]
    n_fraud = sum(len(part["t"]) for part in fraud)
    ordinary = _ordinary(world, legit, max(n_transactions - n_fraud, 0))
    parts = _concat([ordinary, *fraud])
    parts = _trim(rng, parts, n_transactions)
    _friendly_fraud(rng, parts)
    return _frame(world, parts)


def _population(world: _World, n_transactions: int) -> _Legit:
    rng, horizon = world.rng, world.horizon
    n_users = max(50, n_transactions // 20)
    # Most users registered before the data starts (up to ~5 years), some during it.
    old = rng.random(n_users) < 0.85
    registered = np.where(
        old,
        -np.minimum(rng.exponential(500 * DAY, n_users), 5 * 365 * DAY) - rng.random(n_users) * DAY,
        rng.random(n_users) * horizon * 0.9,
    )
    country = rng.choice(len(COUNTRIES), n_users, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    users = world.add_users(registered, country)
    active_share = (horizon - np.maximum(registered, 0.0)) / horizon
    activity = rng.lognormal(0.0, 0.8, n_users) * active_share
    cards = world.add_cards(n_users)
    second = rng.random(n_users) < 0.35
    second_card = np.full(n_users, -1)
    second_card[second] = world.add_cards(int(second.sum()))
    devices = world.add_devices(n_users)
    second = rng.random(n_users) < 0.4
    second_device = np.full(n_users, -1)
    second_device[second] = world.add_devices(int(second.sum()))

    n_sellers = max(20, n_transactions // 400)
    items = rng.integers(5, 40, n_sellers)
    items_from = np.concatenate([[0], np.cumsum(items)[:-1]])
    bulk = rng.choice([0.15, 0.6, 2.5], n_sellers, p=[0.7, 0.2, 0.1])
    order = rng.permutation(n_sellers)
    return _Legit(
        users=users,
        activity=activity / activity.sum(),
        spend=rng.normal(3.6, 0.7, n_users),
        card=cards,
        second_card=second_card,
        device=devices,
        second_device=second_device,
        seller_popularity=_zipf(n_sellers, 0.9),
        seller_items_from=items_from,
        seller_items=items,
        seller_bulk=bulk,
        digital=order[: max(2, n_sellers // 10)],
        pricey=order[max(2, n_sellers // 10) : max(4, n_sellers // 4)],
    )


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return np.asarray(weights / weights.sum())


def _times_of_day(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    hours = rng.choice(24, len(days), p=_HOURLY / _HOURLY.sum())
    return np.asarray(days * DAY + (hours + rng.random(len(days))) * HOUR)


def _items(rng: np.random.Generator, legit: _Legit, sellers: np.ndarray) -> np.ndarray:
    pick = (rng.random(len(sellers)) * legit.seller_items[sellers]).astype(np.int64)
    return np.asarray(legit.seller_items_from[sellers] + pick)


def _ordinary(world: _World, legit: _Legit, n: int) -> Columns:
    rng, horizon = world.rng, world.horizon
    user = rng.choice(len(legit.users), n, p=legit.activity)
    registered = world.user_registered[0][user]
    first_day = np.floor(np.maximum(registered, 0.0) / DAY)
    n_days = horizon / DAY
    day = first_day + np.floor(rng.random(n) * (n_days - first_day))
    t = np.maximum(_times_of_day(rng, day), registered + rng.exponential(HOUR, n))
    t = np.minimum(t, horizon - 1.0)

    seller = rng.choice(len(legit.seller_popularity), n, p=legit.seller_popularity)
    count = 1 + rng.poisson(legit.seller_bulk[seller])
    office = rng.random(n) < 0.004  # the office orders twenty chairs, anywhere
    count[office] = rng.integers(5, 21, int(office.sum()))
    amount = np.exp(legit.spend[user] + rng.normal(0.0, 0.5, n)) * (1 + 0.3 * (count - 1))
    big = rng.random(n) < 0.015  # the yearly laptop
    amount[big] *= rng.uniform(3, 15, int(big.sum()))
    # App-store micro-payments: tiny amounts are not fraud by themselves.
    micro = rng.random(n) < 0.04
    seller[micro] = rng.choice(legit.digital, int(micro.sum()))
    count[micro] = 1
    amount[micro] = rng.choice(_MICRO, int(micro.sum()))

    card = legit.card[user]
    use_second = (legit.second_card[user] >= 0) & (rng.random(n) < 0.3)
    card[use_second] = legit.second_card[user[use_second]]
    device = legit.device[user]
    use_second = (legit.second_device[user] >= 0) & (rng.random(n) < 0.35)
    device[use_second] = legit.second_device[user[use_second]]
    country = world.user_country[0][user].copy()
    travel = rng.random(n) < 0.02
    country[travel] = rng.integers(0, len(COUNTRIES), int(travel.sum()))
    columns = (t, user, seller, count, amount, card, device, country)
    _sprees(rng, horizon, columns, micro)
    # Some users get a new phone and use it from then on; some borrow one once.
    switches = np.flatnonzero(rng.random(len(legit.users)) < 0.03)
    switch_at = np.full(len(legit.users), np.inf)
    switch_at[switches] = rng.uniform(0.0, horizon, len(switches))
    new_phone = np.full(len(legit.users), -1)
    new_phone[switches] = world.add_devices(len(switches))
    moved = (device == legit.device[user]) & (t > switch_at[user])
    device[moved] = new_phone[user[moved]]
    borrowed = rng.random(n) < 0.01
    device[borrowed] = world.add_devices(int(borrowed.sum()))
    return _columns(
        t=t,
        user=legit.users[user],
        seller=seller,
        item=_items(rng, legit, seller),
        count=count,
        amount=amount,
        card=card,
        country=country,
        device=device,
        pattern=_NONE,
    )


def _sprees(
    rng: np.random.Generator, horizon: float, columns: tuple[np.ndarray, ...], micro: np.ndarray
) -> None:
    """Turn some purchases into bursts: a few more on the same card within the hour (a game's
    in-app store, a shopping evening). Rewrites other rows, so the count stays the same."""
    t, user, seller, count, amount, card, device, country = columns
    n = len(t)
    seeds = np.flatnonzero(rng.random(n) < 0.005)
    sizes = 1 + rng.poisson(3, len(seeds))
    others = np.setdiff1d(np.arange(n), seeds)
    if len(others) < sizes.sum():
        return
    follow = rng.choice(others, int(sizes.sum()), replace=False)
    source = np.repeat(seeds, sizes)
    for values in (user, card, device, country):
        values[follow] = values[source]
    gaps = rng.exponential(8 * MINUTE, len(follow)) + 5.0
    t[follow] = np.minimum(t[source] + _cumsum_within(gaps, sizes), horizon - 1.0)
    same_seller = micro[source] | (rng.random(len(follow)) < 0.5)
    seller[follow[same_seller]] = seller[source[same_seller]]
    count[follow] = 1
    amount[follow] = amount[source] * rng.lognormal(-0.5, 0.5, len(follow))
    amount[follow[micro[source]]] = rng.choice(_MICRO, int(micro[source].sum()))


def _card_testing(world: _World, legit: _Legit, n_transactions: int) -> Columns:
    rng, horizon = world.rng, world.horizon
    n_campaigns = max(2, round(n_transactions * 0.0005))
    # Stolen cards: some belong to our own users, some were never seen; about a third of
    # them are tried again in a later campaign.
    n_stolen = max(1, round(n_campaigns * 0.7))
    own = rng.random(n_stolen) < 0.6
    stolen = np.where(own, rng.choice(legit.card, n_stolen), 0)
    stolen[~own] = world.add_cards(int((~own).sum()))
    card = stolen[rng.integers(0, n_stolen, n_campaigns)]
    start = rng.uniform(0.0, horizon - DAY, n_campaigns)
    # Most accounts are opened for the occasion; some were opened long ago and left dormant.
    aged = rng.random(n_campaigns) < 0.3
    opened = np.where(
        aged, rng.uniform(30 * DAY, 300 * DAY, n_campaigns), rng.exponential(DAY, n_campaigns)
    )
    accounts = world.add_users(
        start - opened - MINUTE,
        rng.integers(0, len(COUNTRIES), n_campaigns),
    )
    devices = world.add_devices(n_campaigns)

    tests = 3 + rng.poisson(4, n_campaigns)
    campaign = np.repeat(np.arange(n_campaigns), tests)
    gaps = rng.exponential(40.0, len(campaign)) + 2.0
    t = start[campaign] + _cumsum_within(gaps, tests)
    sellers = rng.choice(legit.digital, (n_campaigns, 2))
    seller = sellers[campaign, rng.integers(0, 2, len(campaign))]
    amount = rng.uniform(0.5, 3.0, len(campaign)).round(2)
    tried = _columns(
        t=t,
        user=accounts[campaign],
        seller=seller,
        item=_items(rng, legit, seller),
        count=np.ones(len(campaign)),
        amount=amount,
        card=card[campaign],
        country=world.user_country[-1][campaign],
        device=devices[campaign],
        pattern=_CARD_TESTING,
    )

    # Then, in three campaigns out of four, the real purchases.
    ends = np.cumsum(tests) - 1
    cashing = np.flatnonzero(rng.random(n_campaigns) < 0.75)
    buys = 1 + rng.poisson(0.8, len(cashing))
    campaign = np.repeat(cashing, buys)
    gaps = rng.exponential(15 * MINUTE, len(campaign)) + MINUTE
    t = np.minimum(tried["t"][ends[campaign]] + _cumsum_within(gaps, buys), horizon - 1.0)
    seller = rng.choice(legit.pricey, len(campaign))
    amount = rng.lognormal(np.log(450.0), 0.6, len(campaign))
    cashed = _columns(
        t=t,
        user=accounts[campaign],
        seller=seller,
        item=_items(rng, legit, seller),
        count=1 + rng.poisson(0.3, len(campaign)),
        amount=amount,
        card=card[campaign],
        country=world.user_country[-1][campaign],
        device=devices[campaign],
        pattern=_CARD_TESTING,
    )
    return _concat([tried, cashed])


def _fraud_rings(world: _World, legit: _Legit, n_transactions: int) -> Columns:
    rng, horizon = world.rng, world.horizon
    n_rings = max(1, round(n_transactions / 50_000))
    per_ring = max(10, round(n_transactions * 0.0015))
    # Colluding sellers look ordinary: they have ordinary customers too, buying one item.
    quiet = np.flatnonzero(legit.seller_bulk < 0.5)
    quiet = np.setdiff1d(quiet, legit.digital)
    if len(quiet) < 2 * n_rings:
        quiet = np.setdiff1d(np.arange(len(legit.seller_bulk)), legit.digital)
    colluding = rng.choice(quiet, (n_rings, 2), replace=False)
    parts = []
    # Rings start spread over the data, the last one late enough to still be busy at the end.
    starts = (np.arange(n_rings) + rng.random(n_rings)) / n_rings * max(horizon - 20 * DAY, DAY)
    for ring, start in enumerate(starts):
        members = int(rng.integers(12, 31))
        end = min(horizon - 1.0, start + rng.uniform(20, 60) * DAY)
        country = int(rng.integers(0, len(COUNTRIES)))
        users = world.add_users(
            start - rng.exponential(30 * DAY, members), np.full(members, country)
        )
        cards = world.add_cards(int(rng.integers(2, 7)))
        devices = world.add_devices(int(rng.integers(2, 5)))
        own_cards = world.add_cards(members)
        member = rng.integers(0, members, per_ring)
        t = rng.uniform(start, end, per_ring)
        n_sellers = 1 + int(rng.random() < 0.5)
        seller = colluding[ring, rng.integers(0, n_sellers, per_ring)]
        count = 4 + rng.poisson(8, per_ring)
        blend = rng.random(per_ring) < 0.2  # some orders look like anyone else's
        count[blend] = 1 + rng.poisson(0.3, int(blend.sum()))
        amount = count * rng.uniform(25, 90, per_ring)
        card = np.where(rng.random(per_ring) < 0.7, rng.choice(cards, per_ring), own_cards[member])
        device = rng.choice(devices, per_ring)
        parts.append(
            _columns(
                t=t,
                user=users[member],
                seller=seller,
                item=_items(rng, legit, seller),
                count=count,
                amount=amount,
                card=card,
                country=np.full(per_ring, country),
                device=device,
                pattern=_RING,
            )
        )
    return _concat(parts)


def _account_takeovers(world: _World, legit: _Legit, n_transactions: int) -> Columns:
    rng, horizon = world.rng, world.horizon
    n_takeovers = max(2, round(n_transactions * 0.0007))
    old = np.flatnonzero(world.user_registered[0] < -180 * DAY)
    weights = legit.activity[old] / legit.activity[old].sum()
    victim = old[rng.choice(len(old), n_takeovers, p=weights)]
    start = rng.uniform(5 * DAY, horizon - HOUR, n_takeovers)
    devices = world.add_devices(n_takeovers)
    home = world.user_country[0][victim]
    abroad = rng.random(n_takeovers) < 0.7
    shift = rng.integers(1, len(COUNTRIES), n_takeovers)
    country = np.where(abroad, (home + shift) % len(COUNTRIES), home)

    buys = 1 + rng.poisson(1.5, n_takeovers)
    event = np.repeat(np.arange(n_takeovers), buys)
    gaps = rng.exponential(HOUR, len(event))
    t = np.minimum(start[event] + _cumsum_within(gaps, buys), horizon - 1.0)
    # Mostly far above what the owner spends; some stay modest.
    bold = rng.random(n_takeovers) < 0.7
    factor = np.where(
        bold[event], rng.uniform(4, 25, len(event)), rng.uniform(0.8, 2.5, len(event))
    )
    amount = np.exp(legit.spend[victim[event]]) * factor
    seller = rng.choice(legit.pricey, len(event))
    return _columns(
        t=t,
        user=legit.users[victim[event]],
        seller=seller,
        item=_items(rng, legit, seller),
        count=1 + rng.poisson(0.5, len(event)),
        amount=amount,
        card=legit.card[victim[event]],
        country=country[event],
        device=devices[event],
        pattern=_TAKEOVER,
    )


def _friendly_fraud(rng: np.random.Generator, parts: Columns) -> None:
    """Charge back a few ordinary purchases: fraud that no feature can see."""
    ordinary = np.flatnonzero(parts["pattern"] == _NONE)
    chosen = ordinary[rng.random(len(ordinary)) < 0.0015]
    parts["pattern"][chosen] = _FRIENDLY


def _cumsum_within(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group of ``sizes`` consecutive values."""
    total = np.cumsum(values)
    starts = np.cumsum(sizes) - sizes
    before = np.repeat(total[starts] - values[starts], sizes)
    return np.asarray(total - before)


def _columns(
    *,
    t: np.ndarray,
    user: np.ndarray,
    seller: np.ndarray,
    item: np.ndarray,
    count: Any,
    amount: np.ndarray,
    card: np.ndarray,
    country: np.ndarray,
    device: np.ndarray,
    pattern: int,
) -> Columns:
    n = len(t)
    return {
        "t": np.asarray(t, dtype=float),
        "user": np.asarray(user, dtype=np.int64),
        "seller": np.asarray(seller, dtype=np.int64),
        "item": np.asarray(item, dtype=np.int64),
        "count": np.asarray(count, dtype=np.int64),
        "amount": np.asarray(amount, dtype=float),
        "card": np.asarray(card, dtype=np.int64),
        "country": np.asarray(country, dtype=np.int64),
        "device": np.asarray(device, dtype=np.int64),
        "pattern": np.full(n, pattern, dtype=np.int64),
    }


def _concat(parts: list[Columns]) -> Columns:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _trim(rng: np.random.Generator, parts: Columns, n: int) -> Columns:
    """Drop random rows if the fraud patterns alone overshot ``n`` (tiny data sets only)."""
    if len(parts["t"]) <= n:
        return parts
    keep = np.sort(rng.choice(len(parts["t"]), n, replace=False))
    return {key: values[keep] for key, values in parts.items()}


def _hex_ids(rng: np.random.Generator, prefix: str, n: int, digits: int) -> np.ndarray:
    values = rng.integers(0, 2 ** (4 * digits) - 1, n, dtype=np.uint64)
    return np.array([f"{prefix}{v:0{digits}x}" for v in values.tolist()], dtype=object)


def _label_delays(rng: np.random.Generator, pattern: np.ndarray) -> np.ndarray:
    """Days until the label is known: the chargeback for fraud, the window for the rest."""
    delay = np.full(len(pattern), CHARGEBACK_WINDOW_DAYS)
    fraud = pattern != _NONE
    delay[fraud] = np.clip(rng.lognormal(np.log(8.0), 0.6, int(fraud.sum())), 1.0, 60.0)
    friendly = pattern == _FRIENDLY  # disputes by the card holder take longer
    delay[friendly] = np.clip(rng.lognormal(np.log(20.0), 0.4, int(friendly.sum())), 5.0, 90.0)
    return delay * DAY


def _frame(world: _World, parts: Columns) -> pd.DataFrame:
    rng = world.rng
    order = np.argsort(parts["t"], kind="stable")
    parts = {key: values[order] for key, values in parts.items()}
    n = len(order)
    registered = np.concatenate(world.user_registered)
    user_ids = np.array([f"u{i:07d}" for i in range(world.n_users)], dtype=object)
    n_sellers = int(parts["seller"].max()) + 1
    seller_ids = np.array([f"s{i:05d}" for i in range(max(n_sellers, 1))], dtype=object)
    n_items = int(parts["item"].max()) + 1
    item_ids = np.array([f"i{i:06d}" for i in range(n_items)], dtype=object)
    card_hashes = _hex_ids(rng, "", world.n_cards, 16)
    device_ids = _hex_ids(rng, "dev-", world.n_devices, 10)

    def timestamps(seconds: np.ndarray) -> pd.Series:
        micros = np.round(seconds * 1e6).astype(np.int64)
        return pd.Series(START.asm8.astype("datetime64[us]") + micros.astype("timedelta64[us]"))

    t = np.floor(parts["t"])  # whole seconds, as card networks report them
    return pd.DataFrame(
        {
            "transaction_id": [f"t{i:08d}" for i in range(n)],
            "ts": timestamps(t),
            "user_id": user_ids[parts["user"]],
            "user_registered_at": timestamps(np.floor(registered[parts["user"]])),
            "seller_id": seller_ids[parts["seller"]],
            "item_id": item_ids[parts["item"]],
            "item_count": parts["count"],
            "amount": np.maximum(parts["amount"], 0.5).round(2),
            "card_hash": card_hashes[parts["card"]],
            "country": COUNTRIES[parts["country"]],
            "device_id": device_ids[parts["device"]],
            "is_fraud": parts["pattern"] != _NONE,
            "label_available_at": timestamps(t + _label_delays(rng, parts["pattern"])),
            "fraud_pattern": np.array(PATTERNS, dtype=object)[parts["pattern"]],
        }
    )
