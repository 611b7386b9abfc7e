"""A synthetic but realistic customer-churn dataset: customers and their transactions.

Customers have a plan, a region, an age, a tenure, monthly charges and support calls; their
transactions (card payments, top-ups, refunds) carry timestamps over the 90 days before
``as_of``. Whether a customer churned follows a logistic model of those attributes and of
their recent activity, plus noise, so a model can learn it but not perfectly.

``drift`` (0..1) moves the population the way a new acquisition channel would: younger,
cheaper plans, more support calls, fewer transactions; and it changes why customers leave
(the south region's new competitor, more sensitivity to price), so a model trained before
the drift loses accuracy after it. At 0 the data is the reference population; the same
seed gives the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("card", "transfer", "wallet")
FEATURES = ("plan", "region", "age", "tenure_months", "monthly_charges", "support_calls")


def generate(n_customers: int = 5000, seed: int = 7, drift: float = 0.0,
             as_of: str = "2026-11-01", first_id: int = 1
             ) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """(customers, transactions) for ``n_customers`` customers as of ``as_of`` (UTC)."""
    import numpy as np
    import pandas as pd

    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, not {n_customers}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be between 0 and 1, not {drift}")
    rng = np.random.default_rng(seed)
    n = n_customers
    plan_p = np.array([0.45, 0.35, 0.20]) * (1 - drift) + np.array([0.75, 0.20, 0.05]) * drift
    plan = rng.choice(PLANS, n, p=plan_p)
    region = rng.choice(REGIONS, n, p=[0.3, 0.25, 0.25, 0.2])
    age = np.clip(rng.normal(44 - 12 * drift, 12, n), 18, 90).round().astype("int64")
    tenure = np.clip(rng.gamma(2.0, 14 * (1 - 0.6 * drift), n), 1, 120).round().astype("int64")
    base_charge = pd.Series(plan).map({"basic": 25.0, "standard": 55.0, "premium": 95.0})
    charges = (base_charge.to_numpy() * rng.lognormal(0, 0.15, n)).round(2)
    calls = rng.poisson(1.2 + 2.5 * drift, n).astype("int64")
    activity = rng.gamma(3.0, 4.0 * (1 - 0.5 * drift), n)  # transactions per 90 days

    as_of_ts = pd.Timestamp(as_of, tz="UTC")
    counts = rng.poisson(activity)
    owner = np.repeat(np.arange(n), counts)
    m = len(owner)
    transactions = pd.DataFrame({
        "transaction_id": np.arange(1, m + 1, dtype="int64"),
        "customer_id": (owner + first_id).astype("int64"),
        "ts": as_of_ts - pd.to_timedelta(rng.integers(1, 90 * 86_400, m), unit="s"),
        "amount": np.round(rng.lognormal(3.2, 0.8, m) * np.where(rng.random(m) < 0.04, -1, 1),
                           2),
        "channel": rng.choice(CHANNELS, m, p=[0.6, 0.25, 0.15]),
    }).sort_values(["customer_id", "ts"], ignore_index=True)

    recent = np.bincount(owner, minlength=n)
    logit = (-1.0 + 0.55 * calls - 0.045 * tenure + 0.018 * (charges - 50)
             - 0.08 * recent + 0.6 * (plan == "basic") - 0.012 * (age - 44)
             + drift * (1.8 * (region == "south") + 0.03 * (charges - 50)
                        - 1.2 * (plan == "basic") - 0.3 * calls))
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    customers = pd.DataFrame({
        "customer_id": np.arange(first_id, first_id + n, dtype="int64"),
        "signup_date": (as_of_ts - pd.to_timedelta(tenure * 30, unit="D")).normalize(),
        "plan": plan, "region": region, "age": age, "tenure_months": tenure,
        "monthly_charges": charges, "support_calls": calls, "churned": churned,
    })
    return customers, transactions
