"""rescore: a full re-evaluation of every lead for three live scoring models, against a
hand-written bare SQL re-score of the same data in the same database, in the same run.

Data (setup, not measured) goes straight into a fresh migrated SQLite database with sqlite3's
executemany: N leads, their contacts (several per account), and on average K interactions per
lead over the last 120 days, most credited to the contact only (lead_id NULL: they count for
every lead of the contact), some to the lead. Three live models mix attribute rules on lead,
contact and account fields (custom attributes too) with behaviour rules: windows, a half-life
decay, caps, at_least and none rules, grades and sales-ready scores.

Measured, each in a child process of its own (so its peak RSS is the evaluation's, not the data
generation's):

- first run: `api.scoring_service.evaluate` (what `leadflow evaluate` and POST /api/evaluations
  run) on leads never scored: it creates every score and fires lead_scored (and sales_ready)
  for every lead in scope;
- steady state: a day later, with 1% more interactions from that day, evaluate again: windows
  drop points, decay lowers them, new interactions add some;
- the baseline, before each of them at the same evaluation time: plain SQL written by hand for
  these three models (one GROUP BY scan of the interactions, joins to leads, contacts and
  accounts, CASE expressions), upserted into a score table of the same shape as lead_score,
  executed with sqlite3 directly.

The baseline's scores are checked against the evaluation's stored scores for every lead, and a
sample of leads against the one-lead Python evaluator (scoring.explain), the reference meaning.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import print_result
from scoring.definition import ScoringDefinition

NAME = "rescore"
DESCRIPTION = "seconds of a full evaluation of 3 live models against hand-written bare SQL"
TARGET_RATIO = 2.0
TARGET_PEAK_MB = 512.0
REPO_ROOT = Path(__file__).resolve().parent.parent
DAY = 86400
HISTORY_DAYS = 120
BATCH = 100_000
# Bytes of database per lead at 5 interactions per lead, with room for the evaluation's
# temporary files and the WAL: checked against the free space before generating.
BYTES_PER_LEAD = 6_000

# -- the models -------------------------------------------------------------------------------

ENGAGEMENT: dict[str, Any] = {
    "rules": [
        {"type": "behaviour", "name": "opens", "kind": "email_open", "points": 1,
         "window_days": 30, "cap": 10},
        {"type": "behaviour", "name": "clicks", "kind": "email_click", "points": 3,
         "half_life_days": 14, "cap": 30},
        {"type": "behaviour", "name": "pricing visits", "kind": "page_visit",
         "target": {"starts_with": "/pricing"}, "points": 5, "window_days": 30, "cap": 25},
        {"type": "behaviour", "name": "demo request", "kind": "form_submit",
         "target": {"equals": "demo-request"}, "count": "at_least", "times": 1, "points": 30},
        {"type": "behaviour", "name": "events", "kind": "event_registration", "points": 10,
         "window_days": 90},
        {"type": "behaviour", "name": "gone quiet", "kind": "page_visit", "count": "none",
         "window_days": 45, "points": -10},
        {"type": "attribute", "name": "no marketing consent",
         "when": {"field": "contact.consent_level", "op": "in",
                  "value": ["none", "transactional"]}, "points": -5},
    ],
    "grades": [
        {"name": "A", "min": 60},
        {"name": "B", "min": 30, "max": 60},
        {"name": "C", "min": 10, "max": 30},
        {"name": "D", "max": 10},
    ],
    "sales_ready_score": 60,
}  # fmt: skip

FIT_COUNTRIES = ["Germany", "France", "Netherlands", "United Kingdom"]
FIT: dict[str, Any] = {
    "audience": {"field": "lead.status", "op": "equals", "value": "open"},
    "rules": [
        {"type": "attribute", "name": "company size",
         "when": {"field": "account.employees", "op": "between", "value": [200, 5000]},
         "points": 15},
        {"type": "attribute", "name": "target industry",
         "when": {"field": "account.industry", "op": "in",
                  "value": ["software", "financial services", "healthcare"]}, "points": 10},
        {"type": "attribute", "name": "enterprise tier",
         "when": {"field": "account.tier", "op": "equals", "value": "enterprise"}, "points": 20},
        {"type": "attribute", "name": "senior title",
         "when": {"any": [
             {"field": "contact.job_title", "op": "contains", "value": "director"},
             {"field": "contact.job_title", "op": "starts_with", "value": "vp"},
             {"field": "contact.job_title", "op": "contains", "value": "head of"},
             {"field": "contact.job_title", "op": "equals", "value": "cto"},
         ]}, "points": 15},
        {"type": "attribute", "name": "region",
         "when": {"field": "contact.country", "op": "in",
                  "value": FIT_COUNTRIES}, "points": 5},
        {"type": "attribute", "name": "budget",
         "when": {"field": "lead.budget_amount", "op": "greater", "value": 10000}, "points": 10},
        {"type": "attribute", "name": "met at an event",
         "when": {"field": "lead.context_kind", "op": "equals", "value": "event"}, "points": 5},
        {"type": "attribute", "name": "buyer persona",
         "when": {"field": "contact.persona", "op": "equals", "value": "buyer"}, "points": 10},
        {"type": "attribute", "name": "free mail",
         "when": {"field": "contact.email", "op": "contains", "value": "@gmail."},
         "points": -10},
        {"type": "behaviour", "name": "whitepaper", "kind": "form_submit",
         "target": {"starts_with": "whitepaper"}, "count": "at_least", "times": 1, "points": 5},
    ],
    "grades": [
        {"name": "A", "min": 50},
        {"name": "B", "min": 25, "max": 50},
        {"name": "C", "max": 25},
    ],
    "sales_ready_score": 70,
}  # fmt: skip

INTENT: dict[str, Any] = {
    "audience": {"all": [
        {"field": "lead.status", "op": "equals", "value": "open"},
        {"field": "lead.product_interest", "op": "is_set"},
    ]},
    "min_consent": "marketing",
    "rules": [
        {"type": "behaviour", "name": "docs reading", "kind": "page_visit",
         "target": {"starts_with": "/docs"}, "points": 2, "half_life_days": 7,
         "window_days": 30, "cap": 20},
        {"type": "behaviour", "name": "pricing three times", "kind": "page_visit",
         "target": {"equals": "/pricing"}, "count": "at_least", "times": 3, "window_days": 14,
         "points": 15},
        {"type": "behaviour", "name": "launch clicks", "kind": "email_click",
         "properties": {"campaign": "product-launch"}, "points": 4, "window_days": 30,
         "cap": 12},
        {"type": "behaviour", "name": "webinar", "kind": "event_registration",
         "target": {"starts_with": "webinar"}, "count": "at_least", "times": 1,
         "window_days": 60, "points": 10},
        {"type": "behaviour", "name": "mobile visits", "kind": "page_visit",
         "properties": {"device": "mobile"}, "points": 0.5, "window_days": 14, "cap": 5},
        {"type": "attribute", "name": "analytics interest",
         "when": {"field": "lead.product_interest", "op": "equals", "value": "analytics"},
         "points": 10},
        {"type": "behaviour", "name": "no opens", "kind": "email_open", "count": "none",
         "window_days": 45, "points": -15},
    ],
    "grades": [
        {"name": "hot", "min": 40},
        {"name": "warm", "min": 15, "max": 40},
        {"name": "cold", "max": 15},
    ],
    "sales_ready_score": 40,
}  # fmt: skip

MODELS = {"engagement": ENGAGEMENT, "fit": FIT, "intent": INTENT}


# -- the bare SQL ------------------------------------------------------------------------------
# Written by hand for the three models above; :now is the evaluation time in Unix seconds and
# :as_of the same time as the score table stores it. A lead's interactions are those credited
# to it plus its contact's that name no lead: one scan groups them by lead (negative keys for
# contacts), then each lead picks up its own row and its contact's.


def _decay(half_life_days: float) -> str:
    """An occurrence's weight in whole millionths, as the evaluator computes it."""
    return (
        "CAST(1000000 * 1.0 * exp(-0.6931471805599453 * max(:now - occurred_epoch, 0)"
        f" / {half_life_days * DAY}) + 0.5 AS INTEGER)"
    )


def _cents(points: str) -> str:
    """Points rounded to hundredths, half away from zero, in hundredths."""
    return (
        f"CASE WHEN ({points}) >= 0 THEN CAST(abs({points}) * 100 + 0.5 AS INTEGER)"
        f" ELSE -CAST(abs({points}) * 100 + 0.5 AS INTEGER) END"
    )


BEHAVIOUR_COLUMNS = {
    # engagement
    "opens30": "kind = 'email_open' AND occurred_epoch >= :now - 30 * 86400",
    "click_micros": None,
    "pricing30": "kind = 'page_visit' AND substr(target, 1, 8) = '/pricing'"
    " AND occurred_epoch >= :now - 30 * 86400",
    "demos": "kind = 'form_submit' AND target = 'demo-request'",
    "events90": "kind = 'event_registration' AND occurred_epoch >= :now - 90 * 86400",
    "visits45": "kind = 'page_visit' AND occurred_epoch >= :now - 45 * 86400",
    # fit
    "whitepapers": "kind = 'form_submit' AND substr(target, 1, 10) = 'whitepaper'",
    # intent
    "docs_micros": None,
    "pricing14": "kind = 'page_visit' AND target = '/pricing'"
    " AND occurred_epoch >= :now - 14 * 86400",
    "launch30": "kind = 'email_click'"
    " AND json_type(properties, '$.campaign') = 'text'"
    " AND lower(json_extract(properties, '$.campaign')) = 'product-launch'"
    " AND occurred_epoch >= :now - 30 * 86400",
    "webinars60": "kind = 'event_registration' AND substr(target, 1, 7) = 'webinar'"
    " AND occurred_epoch >= :now - 60 * 86400",
    "mobile14": "kind = 'page_visit'"
    " AND json_type(properties, '$.device') = 'text'"
    " AND lower(json_extract(properties, '$.device')) = 'mobile'"
    " AND occurred_epoch >= :now - 14 * 86400",
    "opens45": "kind = 'email_open' AND occurred_epoch >= :now - 45 * 86400",
}


def _behaviour_select() -> str:
    sums = []
    for name, test in BEHAVIOUR_COLUMNS.items():
        if name == "click_micros":
            sums.append(f"sum(CASE WHEN kind = 'email_click' THEN {_decay(14)} ELSE 0 END)")
        elif name == "docs_micros":
            sums.append(
                "sum(CASE WHEN kind = 'page_visit' AND substr(target, 1, 5) = '/docs'"
                f" AND occurred_epoch >= :now - 30 * 86400 THEN {_decay(7)} ELSE 0 END)"
            )
        else:
            sums.append(f"sum({test})")
    return (
        f"SELECT coalesce(lead_id, -contact_id) AS k, {', '.join(sums)}\n"
        "FROM interaction\n"
        "WHERE kind IN ('email_open', 'email_click', 'page_visit', 'form_submit',"
        " 'event_registration') AND coalesce(lead_id, -contact_id) IS NOT NULL\n"
        "GROUP BY k"
    )


def _amount(name: str) -> str:
    return f"(coalesce(bl.{name}, 0) + coalesce(bc.{name}, 0) + coalesce(ba.{name}, 0))"


def _fold_in(column: str, values: Sequence[str]) -> str:
    listed = ", ".join(f"'{v.lower()}'" for v in values)
    return f"coalesce(lower({column}) IN ({listed}), 0)"


def _per_lead_select() -> str:
    a = _amount
    engagement = " + ".join(
        [
            f"min({a('opens30')}, 10) * 100",
            _cents(f"min({a('click_micros')} * 3 / 1000000.0, 30)"),
            f"min({a('pricing30')} * 5, 25) * 100",
            f"CASE WHEN {a('demos')} >= 1 THEN 3000 ELSE 0 END",
            f"{a('events90')} * 1000",
            f"CASE WHEN {a('visits45')} = 0 THEN -1000 ELSE 0 END",
            f"CASE WHEN {_fold_in('c.consent_level', ['none', 'transactional'])}"
            " THEN -500 ELSE 0 END",
        ]
    )
    title = "lower(c.job_title)"
    fit = " + ".join(
        [
            "CASE WHEN a.employees BETWEEN 200 AND 5000 THEN 1500 ELSE 0 END",
            f"CASE WHEN {_fold_in('a.industry', ['software', 'financial services', 'healthcare'])}"
            " THEN 1000 ELSE 0 END",
            "CASE WHEN json_type(a.attributes, '$.tier') = 'text'"
            " AND lower(a.attributes ->> '$.tier') = 'enterprise' THEN 2000 ELSE 0 END",
            f"CASE WHEN instr({title}, 'director') > 0 OR substr({title}, 1, 2) = 'vp'"
            f" OR instr({title}, 'head of') > 0 OR {title} = 'cto' THEN 1500 ELSE 0 END",
            f"CASE WHEN {_fold_in('c.country', FIT_COUNTRIES)} THEN 500 ELSE 0 END",
            "CASE WHEN json_type(l.attributes, '$.budget_amount') IN ('integer', 'real')"
            " AND l.attributes ->> '$.budget_amount' > 10000 THEN 1000 ELSE 0 END",
            "CASE WHEN lower(l.context_kind) = 'event' THEN 500 ELSE 0 END",
            "CASE WHEN json_type(c.attributes, '$.persona') = 'text'"
            " AND lower(c.attributes ->> '$.persona') = 'buyer' THEN 1000 ELSE 0 END",
            "CASE WHEN instr(lower(c.email), '@gmail.') > 0 THEN -1000 ELSE 0 END",
            f"CASE WHEN {a('whitepapers')} >= 1 THEN 500 ELSE 0 END",
        ]
    )
    interest = "json_type(l.attributes, '$.product_interest')"
    intent = " + ".join(
        [
            _cents(f"min({a('docs_micros')} * 2 / 1000000.0, 20)"),
            f"CASE WHEN {a('pricing14')} >= 3 THEN 1500 ELSE 0 END",
            f"min({a('launch30')} * 4, 12) * 100",
            f"CASE WHEN {a('webinars60')} >= 1 THEN 1000 ELSE 0 END",
            f"min({a('mobile14')} * 50, 500)",
            f"CASE WHEN {interest} = 'text'"
            " AND lower(l.attributes ->> '$.product_interest') = 'analytics'"
            " THEN 1000 ELSE 0 END",
            f"CASE WHEN {a('opens45')} = 0 THEN -1500 ELSE 0 END",
        ]
    )
    open_lead = "coalesce(lower(l.status) = 'open', 0)"
    interested = (
        f"({interest} IS NOT NULL AND {interest} != 'null'"
        f" AND NOT ({interest} = 'text' AND l.attributes ->> '$.product_interest' = ''))"
    )
    consented = "coalesce(c.consent_level IN ('marketing', 'profiling'), 0)"
    return (
        f"SELECT l.id AS lead_id, {engagement} AS c1, {fit} AS c2, {intent} AS c3,\n"
        f"  {open_lead} AS in2, {open_lead} AND {interested} AND {consented} AS in3\n"
        "FROM lead l\n"
        "LEFT JOIN contact c ON c.id = l.parent_contact_id\n"
        "LEFT JOIN account a ON a.id = coalesce(l.parent_account_id, c.account_id)\n"
        "LEFT JOIN bare_behaviour bl ON bl.k = l.id\n"
        "LEFT JOIN bare_behaviour bc ON bc.k = -l.parent_contact_id\n"
        # An account-based lead (no contact) reads the behaviour of its account's contacts.
        "LEFT JOIN bare_account_behaviour ba"
        " ON l.parent_contact_id IS NULL AND ba.k = l.parent_account_id"
    )


def _grade(score: str, grades: list[dict[str, Any]]) -> str:
    whens = []
    for grade in grades:
        parts = []
        if "min" in grade:
            parts.append(f"{score} >= {grade['min']}")
        if "max" in grade:
            parts.append(f"{score} < {grade['max']}")
        whens.append(f"WHEN {' AND '.join(parts)} THEN '{grade['name']}'")
    return f"CASE {' '.join(whens)} END"


def bare_script() -> list[str]:
    """The statements of the bare re-score, in order, with :now and :as_of parameters."""
    columns = ", ".join(f"{name} INTEGER" for name in BEHAVIOUR_COLUMNS)
    upserts = []
    for number, (name, model) in enumerate(MODELS.items(), start=1):
        score = f"(c{number} / 100.0)"
        where = "true" if number == 1 else f"in{number}"
        upserts.append(
            f"SELECT (SELECT id FROM scoring_model WHERE name = '{name}'), lead_id, {score},"
            f" {_grade(score, model['grades'])}, {score} >= {model['sales_ready_score']},"
            f" 0, :as_of FROM bare_result WHERE {where}"
        )
    return [
        "DROP TABLE IF EXISTS temp.bare_behaviour",
        "DROP TABLE IF EXISTS temp.bare_result",
        f"CREATE TEMP TABLE bare_behaviour (k INTEGER PRIMARY KEY, {columns})",
        f"INSERT INTO bare_behaviour {_behaviour_select()}",
        "DROP TABLE IF EXISTS temp.bare_account_behaviour",
        f"CREATE TEMP TABLE bare_account_behaviour (k INTEGER PRIMARY KEY, {columns})",
        "INSERT INTO bare_account_behaviour SELECT c.account_id, "
        + ", ".join(f"sum(b.{name})" for name in BEHAVIOUR_COLUMNS)
        + " FROM bare_behaviour b JOIN contact c ON c.id = -b.k"
        " WHERE b.k < 0 AND c.account_id IS NOT NULL GROUP BY c.account_id",
        "CREATE TEMP TABLE bare_result (lead_id INTEGER PRIMARY KEY, c1 INTEGER, c2 INTEGER,"
        " c3 INTEGER, in2 INTEGER, in3 INTEGER)",
        f"INSERT INTO bare_result {_per_lead_select()}",
        "INSERT INTO bare_score (model_id, lead_id, score, grade, reached, stale, as_of)\n"
        + "\nUNION ALL\n".join(upserts)
        + "\nON CONFLICT (model_id, lead_id) DO UPDATE SET score = excluded.score,"
        " grade = excluded.grade, reached = excluded.reached, stale = 0, as_of = excluded.as_of"
        " WHERE bare_score.score != excluded.score OR bare_score.grade IS NOT excluded.grade"
        " OR bare_score.reached != excluded.reached OR bare_score.stale",
        "DELETE FROM bare_score WHERE model_id = (SELECT id FROM scoring_model WHERE name = 'fit')"
        " AND lead_id IN (SELECT lead_id FROM bare_result WHERE NOT in2)",
        "DELETE FROM bare_score WHERE model_id = (SELECT id FROM scoring_model"
        " WHERE name = 'intent') AND lead_id IN (SELECT lead_id FROM bare_result WHERE NOT in3)",
        "DROP TABLE temp.bare_behaviour",
        "DROP TABLE temp.bare_account_behaviour",
        "DROP TABLE temp.bare_result",
    ]


BARE_TABLE = """
CREATE TABLE bare_score (
    score FLOAT NOT NULL,
    grade VARCHAR(40),
    reached BOOLEAN NOT NULL,
    stale BOOLEAN NOT NULL,
    as_of DATETIME NOT NULL,
    model_id INTEGER NOT NULL REFERENCES scoring_model (id) ON DELETE CASCADE,
    lead_id INTEGER NOT NULL REFERENCES lead (id) ON DELETE CASCADE,
    PRIMARY KEY (model_id, lead_id)
)"""
BARE_INDEX = "CREATE INDEX ix_bare_score_lead_id ON bare_score (lead_id)"


# -- the data ----------------------------------------------------------------------------------

FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jan"]
LAST = ["Meyer", "Dubois", "Smith", "de Vries", "Rossi", "García", "Novak", "Berg", "Kim", "Ali"]
DOMAINS = ["example.com", "acme.io", "gmail.com", "corp.example", "mail.example.org"]
TITLES = [
    "VP Marketing", "Director of IT", "Head of Sales", "Software engineer", "Marketing manager",
    "CTO", "Analyst", "Sales Director", "Student", "Consultant", "vp engineering",
    "Head of Operations", None,
]  # fmt: skip
COUNTRIES = [
    "Germany", "France", "Netherlands", "United Kingdom", "United States", "Spain", "Italy",
    "Canada", "Brazil", "India", "germany", None,
]  # fmt: skip
INDUSTRIES = [
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Education",
    "Public sector", "software", None,
]  # fmt: skip
CONSENT = ["none"] * 10 + ["transactional"] * 15 + ["subscriptions"] * 25
CONSENT += ["marketing"] * 35 + ["profiling"] * 15
KIND_TABLE = ["email_open"] * 35 + ["page_visit"] * 35 + ["email_click"] * 14
KIND_TABLE += ["form_submit"] * 10 + ["event_registration"] * 6
PAGES = ["/pricing"] * 12 + ["/pricing/enterprise"] * 5 + ["/docs/start", "/docs/api"] * 10
PAGES += [f"/blog/post-{n}" for n in range(30)] + ["/", "/product/analytics", "/careers"] * 5
EMAILS = ["nl-2026-08", "nl-2026-09", "nl-2026-10", "nl-2026-11", "launch-2026-10", "promo-fall"]
FORMS = ["demo-request"] * 2 + ["contact-us", "whitepaper-ai", "whitepaper-crm", "newsletter"] * 2
EVENTS = ["webinar-2026-10", "webinar-2026-11", "conference-berlin", "meetup-paris"]
CAMPAIGNS = ["product-launch", "Product-Launch", "newsletter", "spring", "fall", "retarget"]


def _pool(chance: random.Random, size: int, make: Any) -> list[str]:
    return [json.dumps(make(chance)) for _ in range(size)]


def _account_attributes(chance: random.Random) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if chance.random() < 0.9:
        found["tier"] = chance.choice(["enterprise", "Enterprise", "mid-market", "smb", "smb"])
    if chance.random() < 0.5:
        found["arr"] = chance.choice([0, 12000, 48000, 250000])
    return found


def _contact_attributes(chance: random.Random) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if chance.random() < 0.7:
        found["persona"] = chance.choice(["buyer", "Buyer", "user", "influencer", "user"])
    if chance.random() < 0.6:
        found["newsletter"] = chance.random() < 0.5
    if chance.random() < 0.3:
        found["lead_source"] = chance.choice(["web", "event", "partner", "import"])
    return found


def _lead_attributes(chance: random.Random) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if chance.random() < 0.6:
        found["budget_amount"] = chance.choice([5000, 15000, 25000, 50000, 120000, 9999.5])
    if chance.random() < 0.7:
        found["product_interest"] = chance.choice(["analytics", "automation", "crm", "Analytics"])
    if chance.random() < 0.3:
        found["purchase_timeframe"] = chance.choice(["immediate", "this_quarter", "unknown"])
    return found


def _properties(kind: str) -> Any:
    def make(chance: random.Random) -> dict[str, Any]:
        if kind in ("email_open", "email_click"):
            return {"campaign": chance.choice(CAMPAIGNS), "utm_source": "email"}
        if kind == "page_visit":
            return {
                "device": chance.choice(["mobile", "desktop", "desktop", "tablet", "Mobile"]),
                "duration": chance.randrange(1, 600),
            }
        if kind == "form_submit":
            return {
                "campaign": chance.choice(CAMPAIGNS),
                "utm_source": chance.choice(["ads", "seo"]),
            }
        return {"campaign": chance.choice(CAMPAIGNS), "attended": chance.random() < 0.4}

    return make


def _stamp(epoch: int) -> str:
    """A moment as SQLAlchemy keeps a DateTime in SQLite."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(epoch))


def _coprime(n: int, start: int = 7919) -> int:
    step = start
    while math.gcd(step, n) != 1:
        step += 1
    return step


@dataclass(frozen=True)
class Sizes:
    leads: int
    contacts: int
    accounts: int
    interactions: int


class Generator:
    """Realistic rows for the leads, contacts, accounts and interactions tables."""

    def __init__(self, leads: int, per_lead: float, seed: int, start: int, now: int) -> None:
        self.chance = random.Random(seed)
        self.sizes = Sizes(
            leads=leads,
            contacts=max(1, leads * 9 // 10),
            accounts=max(1, leads // 10),
            interactions=round(leads * per_lead),
        )
        self.start = start  # the oldest interaction's time
        self.now = now
        self.parents: list[int] = [0]  # per lead id (from 1): its contact, 0 for none
        self.lead_step = _coprime(leads)
        self.contact_step = _coprime(self.sizes.contacts)
        chance = self.chance
        self.properties = {
            kind: _pool(chance, 200, _properties(kind)) for kind in sorted(set(KIND_TABLE))
        }
        self.targets = {
            "email_open": EMAILS,
            "email_click": EMAILS,
            "page_visit": PAGES,
            "form_submit": FORMS,
            "event_registration": EVENTS,
        }

    def accounts(self) -> Iterator[list[tuple[Any, ...]]]:
        chance = self.chance
        pool = _pool(chance, 300, _account_attributes)
        stamp = _stamp(self.start)
        rows = []
        for number in range(1, self.sizes.accounts + 1):
            employees = None if chance.random() < 0.1 else int(chance.lognormvariate(4.5, 1.6))
            revenue = None if employees is None else employees * 150_000.0
            rows.append(
                (number, f"Account {number}", chance.choice(INDUSTRIES), employees, revenue,
                 chance.choice(COUNTRIES), chance.choice(pool), 1, stamp, stamp)
            )  # fmt: skip
            if len(rows) == BATCH:
                yield rows
                rows = []
        yield rows

    def contacts(self) -> Iterator[list[tuple[Any, ...]]]:
        chance = self.chance
        pool = _pool(chance, 500, _contact_attributes)
        accounts = self.sizes.accounts
        stamp = _stamp(self.start)
        rows = []
        for number in range(1, self.sizes.contacts + 1):
            first, last = chance.choice(FIRST), chance.choice(LAST)
            # Some accounts are big: many contacts each.
            account = 1 + int(accounts * chance.random() ** 2) if chance.random() < 0.8 else None
            rows.append(
                (number, f"{first}.{last}.{number}@{chance.choice(DOMAINS)}".lower(), first,
                 last, chance.choice(TITLES), f"Company {number % 5000}", None,
                 chance.choice(COUNTRIES), chance.choice(INDUSTRIES), chance.choice(pool),
                 chance.choice(CONSENT), account, 1, stamp, stamp)
            )  # fmt: skip
            if len(rows) == BATCH:
                yield rows
                rows = []
        yield rows

    def leads(self) -> Iterator[list[tuple[Any, ...]]]:
        """Most leads have a contact of their own; some share one; a few have none."""
        chance = self.chance
        pool = _pool(chance, 500, _lead_attributes)
        sizes = self.sizes
        next_contact = 1
        rows = []
        for number in range(1, sizes.leads + 1):
            draw = chance.random()
            if draw < 0.04:
                contact = 0
            elif next_contact > 1 and (draw < 0.14 or next_contact > sizes.contacts):
                contact = chance.randrange(1, min(next_contact, sizes.contacts + 1))
            else:
                contact = next_contact
                next_contact += 1
            self.parents.append(contact)
            account = chance.randrange(1, sizes.accounts + 1) if chance.random() < 0.1 else None
            kind = chance.choice(["form", "event", "campaign", "page", None])
            status, reason = "open", "new"
            stage, ready = "inquiry", 0
            state = chance.random()
            if state < 0.03:
                status, reason, stage, ready = "qualified", "qualified", "sales_acceptance", 1
            elif state < 0.07:
                status, reason = "disqualified", "lost"
            stamp = _stamp(self.start + chance.randrange(self.now - self.start))
            rows.append(
                (number, f"Interest in {chance.choice(['analytics', 'automation', 'crm'])}",
                 kind, None if kind is None else f"{kind}-{number % 40}",
                 f"lead{number}@{chance.choice(DOMAINS)}", contact or None, account, status,
                 reason, ready, None, "lead_to_opportunity", stage, stamp, chance.choice(pool), 1,
                 stamp, stamp, None)
            )  # fmt: skip
            if len(rows) == BATCH:
                yield rows
                rows = []
        yield rows

    def _subject(self) -> tuple[int | None, int | None]:
        """(contact_id, lead_id): a quarter credited to a lead, the rest to a contact only;
        activity is skewed, a few leads and contacts doing much more than most."""
        chance = self.chance
        if chance.random() < 0.25:
            n = self.sizes.leads
            lead = 1 + (int(n * chance.random() ** 1.5) * self.lead_step) % n
            return (self.parents[lead] or None), lead
        n = self.sizes.contacts
        return 1 + (int(n * chance.random() ** 1.5) * self.contact_step) % n, None

    def interactions(self, count: int, start: int, end: int) -> Iterator[list[tuple[Any, ...]]]:
        """`count` interactions between `start` and `end`, stored in time order as they
        arrive."""
        chance = self.chance
        batches = max(1, math.ceil(count / BATCH))
        span = (end - start) / batches
        made = 0
        for batch in range(batches):
            size = min(BATCH, count - made)
            low = start + int(batch * span)
            width = max(1, int(span))
            rows = []
            for _ in range(size):
                kind = KIND_TABLE[int(chance.random() * 100)]
                contact, lead = self._subject()
                targets = self.targets[kind]
                rows.append(
                    (kind, low + int(chance.random() * width), contact, lead,
                     targets[int(chance.random() * len(targets))],
                     self.properties[kind][int(chance.random() * 200)])
                )  # fmt: skip
            rows.sort(key=lambda row: row[1])
            made += size
            yield rows


INSERTS = {
    "account": "INSERT INTO account (id, name, industry, employees, revenue, country, attributes,"
    " version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "contact": "INSERT INTO contact (id, email, first_name, last_name, job_title, company, phone,"
    " country, industry, attributes, consent_level, account_id, version, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "lead": "INSERT INTO lead (id, topic, context_kind, context_id, email, parent_contact_id,"
    " parent_account_id, status, status_reason, sales_ready, owner, process, stage,"
    " stage_entered_at, attributes, version, created_at, updated_at, scored_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "interaction": "INSERT INTO interaction (kind, occurred_epoch, occurred_at, created_at,"
    " contact_id, lead_id, target, properties)"
    " VALUES (?1, ?2, datetime(?2, 'unixepoch') || '.000000',"
    " datetime(?2, 'unixepoch') || '.000000', ?3, ?4, ?5, ?6)",
}


def _bulk(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")


def generate(path: Path, generator: Generator) -> None:
    """Fill the migrated database: secondary indexes are dropped first and built at the end."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _bulk(connection)
        tables = ("account", "contact", "lead", "interaction")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({', '.join('?' * len(tables))})",
            tables,
        ).fetchall()
        connection.execute("BEGIN")
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        for table, batches in (
            ("account", generator.accounts()),
            ("contact", generator.contacts()),
            ("lead", generator.leads()),
            (
                "interaction",
                generator.interactions(
                    generator.sizes.interactions, generator.start, generator.now
                ),
            ),
        ):
            for rows in batches:
                connection.executemany(INSERTS[table], rows)
        for _, sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def add_interactions(path: Path, generator: Generator, count: int, start: int, end: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        for rows in generator.interactions(count, start, end):
            connection.executemany(INSERTS["interaction"], rows)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def add_models(path: Path, at: int) -> None:
    """The three models, live; their definitions checked as the API checks them."""
    stamp = _stamp(at)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO scoring_model (name, status, definition, version, created_at,"
                " updated_at, live_since) VALUES (?, 'live', ?, 1, ?, ?, ?)",
                [
                    (
                        name,
                        json.dumps(
                            ScoringDefinition.model_validate(definition).model_dump(mode="json")
                        ),
                        stamp,
                        stamp,
                        stamp,
                    )
                    for name, definition in MODELS.items()
                ],
            )
            connection.execute(BARE_TABLE)
            connection.execute(BARE_INDEX)
    finally:
        connection.close()


# -- the measured runs, each in a child process --------------------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child_evaluate(path: Path, now: int, chunk: int) -> dict[str, Any]:
    import bpf
    from api.services.scoring import evaluation as scoring_service
    from api.storage.db import Database

    db = Database(f"sqlite:///{path}")
    try:
        catalog = bpf.Catalog.from_file(REPO_ROOT / "stages.yaml")
        run = scoring_service.new_run(db)
        assert run.id is not None
        as_of = dt.datetime.fromtimestamp(now, dt.UTC)
        rss_before = _status_mb("VmRSS")
        cpu = _cpu()
        started = time.perf_counter()
        done = scoring_service.evaluate(db, catalog, run.id, chunk=chunk, as_of=as_of)
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_seconds": _cpu() - cpu,
            "rss_before_mb": rss_before,
            "records": done.done,
            "changed": done.changed,
            "outcomes": done.outcomes,
        }
    finally:
        db.dispose()


def _child_bare(path: Path, now: int) -> dict[str, Any]:
    # The connection as the service opens one (api.db): WAL, synchronous NORMAL, foreign keys.
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        parameters = {"now": now, "as_of": _stamp(now)}
        rss_before = _status_mb("VmRSS")
        cpu = _cpu()
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        changed = 0
        for statement in bare_script():
            cursor = connection.execute(statement, parameters if ":" in statement else ())
            if statement.startswith(("INSERT INTO bare_score", "DELETE")):
                changed += cursor.rowcount
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_seconds": _cpu() - cpu,
            "rss_before_mb": rss_before,
            "changed": changed,
        }
    finally:
        connection.close()


def child_main(argv: Sequence[str]) -> int:
    what, path, now, chunk = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    result = _child_evaluate(path, now, chunk) if what == "evaluate" else _child_bare(path, now)
    result["peak_rss_mb"] = _status_mb("VmHWM")
    print(json.dumps(result), flush=True)
    return 0


def in_child(what: str, path: Path, now: int, chunk: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.rescore", what, str(path), str(now), str(chunk)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- checks --------------------------------------------------------------------------------------


def compare_tables(path: Path) -> dict[str, int]:
    """Every score of the evaluation against the baseline's."""
    connection = sqlite3.connect(path)
    try:
        row = connection.execute(
            "SELECT count(*),"
            " coalesce(sum(b.lead_id IS NULL), 0), coalesce(sum(s.lead_id IS NULL), 0),"
            " coalesce(sum(s.lead_id IS NOT NULL AND b.lead_id IS NOT NULL AND"
            "  (abs(s.score - b.score) > 0.000001 OR s.grade IS NOT b.grade"
            "   OR s.reached != b.reached)), 0)"
            " FROM lead_score s FULL OUTER JOIN bare_score b"
            " ON b.model_id = s.model_id AND b.lead_id = s.lead_id"
        ).fetchone()
    finally:
        connection.close()
    return {"scores": row[0], "only_evaluation": row[1], "only_bare": row[2], "different": row[3]}


def check_sample(path: Path, now: int, sample: int, seed: int) -> tuple[int, list[str]]:
    """Leads drawn at random, each scored by the one-lead Python evaluator (scoring.explain),
    against the scores the evaluation stored."""
    from scoring.explain import Occurrence, evaluate

    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    problems: list[str] = []
    try:
        models = {
            row["id"]: (row["name"], ScoringDefinition.model_validate_json(row["definition"]))
            for row in connection.execute("SELECT id, name, definition FROM scoring_model")
        }
        (top,) = connection.execute("SELECT max(id) FROM lead").fetchone()
        chance = random.Random(seed)
        ids = sorted({chance.randrange(1, top + 1) for _ in range(sample)})

        def record(table: str, record_id: int | None) -> dict[str, Any] | None:
            if record_id is None:
                return None
            row = connection.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                return None
            found = dict(row)
            found["attributes"] = json.loads(found["attributes"])
            return found

        for lead_id in ids:
            lead = record("lead", lead_id)
            if lead is None:
                continue
            contact = record("contact", lead["parent_contact_id"])
            account = record(
                "account",
                lead["parent_account_id"] or (contact["account_id"] if contact else None),
            )
            occurrences = [
                Occurrence(r["id"], r["kind"], r["occurred_epoch"], r["target"],
                           json.loads(r["properties"]))
                for r in connection.execute(
                    "SELECT * FROM interaction WHERE lead_id = ? UNION ALL"
                    " SELECT * FROM interaction WHERE lead_id IS NULL AND contact_id IN"
                    " (SELECT ? UNION ALL SELECT id FROM contact"
                    "  WHERE ? IS NULL AND account_id = ?)",
                    (lead_id, lead["parent_contact_id"], lead["parent_contact_id"],
                     lead["parent_account_id"]),
                )
            ]  # fmt: skip
            stored = {
                row["model_id"]: (row["score"], row["grade"], bool(row["reached"]))
                for row in connection.execute(
                    "SELECT * FROM lead_score WHERE lead_id = ?", (lead_id,)
                )
            }
            records = {"lead": lead, "contact": contact, "account": account}
            for model_id, (name, definition) in models.items():
                result = evaluate(definition, records, occurrences, now)
                expected = (result.score, result.grade, result.reached) if result.scored else None
                if stored.get(model_id) != expected:
                    problems.append(
                        f"lead {lead_id}, model {name}: stored {stored.get(model_id)},"
                        f" Python evaluator {expected}"
                    )
    finally:
        connection.close()
    return len(ids), problems


# -- the run -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads (default 1,000,000)")
    parser.add_argument(
        "--interactions-per-lead",
        type=float,
        default=5.0,
        help="interactions per lead on average (default 5)",
    )
    parser.add_argument(
        "--new-interactions",
        type=float,
        default=0.01,
        help="before the steady-state run: new interactions from the day that passed, as a "
        "share of those stored (default 0.01)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="steady-state rounds, each a day later than the one before (default 1)",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="leads per write transaction of the evaluation (default: the service's)",
    )
    parser.add_argument(
        "--sample", type=int, default=300, help="leads checked with the Python evaluator (300)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the temporary directory with the database goes (default: the system's)",
    )


def _figures(label: str, result: dict[str, Any]) -> str:
    extra = ""
    if "outcomes" in result:
        extra = f", {result['outcomes']:,} leads with outcomes"
    return (
        f"{label:<24} {result['seconds']:8.2f} s  cpu {result['cpu_seconds']:7.2f} s  "
        f"peak rss {result['peak_rss_mb']:6.0f} MB (before {result['rss_before_mb']:.0f} MB)"
        f"  {result['changed']:,} scores changed{extra}"
    )


@dataclass
class _Runs:
    """What the child processes measured, first run and rounds, and how their scores agree."""

    bare_first: dict[str, Any]
    first: dict[str, Any]
    comparisons: list[dict[str, int]]
    bares: list[dict[str, Any]] = field(default_factory=list)
    steady: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    if args.leads < 10 or args.interactions_per_lead < 0 or args.rounds < 1:
        raise SystemExit("need --leads >= 10, --interactions-per-lead >= 0 and --rounds >= 1")
    from api.services.scoring.evaluation import CHUNK

    chunk = args.chunk or CHUNK
    parent = _parent_with_room(args)
    now = int(time.time()) // 60 * 60
    first_at = now - args.rounds * DAY
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-", dir=parent) as workdir:
        path = Path(workdir) / "leadflow.db"
        generator = _populate(path, args, first_at)
        runs = _measure(path, generator, args, first_at, chunk)
    errors = _disagreements(runs)
    return _report(args, runs, generator.sizes, chunk, errors)


def _parent_with_room(args: argparse.Namespace) -> Path:
    """The directory for the run's database, once it is known to have room for it."""
    parent: Path = args.workdir or Path(tempfile.gettempdir())
    need = int(args.leads * BYTES_PER_LEAD * max(args.interactions_per_lead, 1) / 5)
    free = shutil.disk_usage(parent).free
    if free < need * 1.5:
        raise SystemExit(
            f"{parent} has {free / 1e9:.1f} GB free; this run needs about {need / 1e9:.1f} GB"
        )
    return parent


def _populate(path: Path, args: argparse.Namespace, first_at: int) -> Generator:
    from bench.database import prepare

    prepare(f"sqlite:///{path}")
    generator = Generator(
        args.leads, args.interactions_per_lead, args.seed, first_at - HISTORY_DAYS * DAY,
        first_at,
    )  # fmt: skip
    sizes = generator.sizes
    print(
        f"{NAME}: SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    started = time.perf_counter()
    generate(path, generator)
    add_models(path, first_at)
    print(
        f"generated {sizes.leads:,} leads, {sizes.contacts:,} contacts, {sizes.accounts:,} "
        f"accounts, {sizes.interactions:,} interactions in "
        f"{time.perf_counter() - started:.0f} s; database "
        f"{path.stat().st_size / 1e9:.2f} GB",
        flush=True,
    )
    return generator


def _measure(
    path: Path, generator: Generator, args: argparse.Namespace, first_at: int, chunk: int
) -> _Runs:
    bare_first = in_child("bare", path, first_at, chunk)
    print(_figures("first run, bare SQL", bare_first), flush=True)
    first = in_child("evaluate", path, first_at, chunk)
    print(_figures("first run, evaluation", first), flush=True)
    print(f"first run ratio {first['seconds'] / bare_first['seconds']:.2f}", flush=True)

    runs = _Runs(bare_first, first, comparisons=[compare_tables(path)])
    at = first_at
    for number in range(1, args.rounds + 1):
        at = first_at + number * DAY
        _round(path, generator, args, number, at, chunk, runs)
    runs.checked, runs.problems = check_sample(path, at, args.sample, args.seed)
    return runs


def _round(
    path: Path,
    generator: Generator,
    args: argparse.Namespace,
    number: int,
    at: int,
    chunk: int,
    runs: _Runs,
) -> None:
    """A day's new interactions, then both rescores of them, added to `runs`."""
    count = round(generator.sizes.interactions * args.new_interactions)
    add_interactions(path, generator, count, at - DAY, at)
    # Alternate which runs first, so that neither always has the warmer cache.
    pair = (("bare", runs.bares), ("evaluate", runs.steady))
    for what, results in pair if number % 2 else pair[::-1]:
        results.append(in_child(what, path, at, chunk))
    print(_figures(f"round {number}, bare SQL", runs.bares[-1]), flush=True)
    print(_figures(f"round {number}, evaluation", runs.steady[-1]), flush=True)
    print(
        f"round {number} ratio {runs.steady[-1]['seconds'] / runs.bares[-1]['seconds']:.2f}"
        f" (+{count:,} interactions, a day later)",
        flush=True,
    )
    runs.comparisons.append(compare_tables(path))


def _disagreements(runs: _Runs) -> int:
    """Print how the evaluation's scores compare with the bare SQL's and the Python
    evaluator's; return the number of errors."""
    errors = 0
    for number, comparison in enumerate(runs.comparisons):
        label = "first run" if number == 0 else f"round {number}"
        print(
            f"{label}: {comparison['scores']:,} scores compared: "
            f"{comparison['only_evaluation']} only in the evaluation, "
            f"{comparison['only_bare']} only in the bare SQL, {comparison['different']} different"
        )
        if comparison["only_evaluation"] or comparison["only_bare"] or comparison["different"]:
            errors += 1
    print(f"{runs.checked} leads checked with the Python evaluator: {len(runs.problems)} disagree")
    for problem in runs.problems[:5]:
        print(f"error: {problem}")
    return errors + len(runs.problems)


def _report(args: argparse.Namespace, runs: _Runs, sizes: Sizes, chunk: int, errors: int) -> int:
    first, bare_first, steady = runs.first, runs.bare_first, runs.steady
    value = sum(r["seconds"] for r in steady) / len(steady)
    baseline = sum(r["seconds"] for r in runs.bares) / len(runs.bares)
    peak = max(r["peak_rss_mb"] for r in [first, *steady])
    ratio = value / baseline
    print(
        f"steady state: evaluation {value:.2f} s, bare SQL {baseline:.2f} s, ratio {ratio:.2f} "
        f"(target {TARGET_RATIO:g}); peak RSS {peak:.0f} MB (target {TARGET_PEAK_MB:.0f})"
    )
    print_result(
        NAME,
        value,
        "s",
        baseline,
        target=TARGET_RATIO,
        passed=errors == 0 and ratio <= TARGET_RATIO and peak < TARGET_PEAK_MB,
        errors=errors,
        peak_rss_mb=round(peak, 1),
        target_peak_rss_mb=TARGET_PEAK_MB,
        first_run_s=round(first["seconds"], 3),
        first_run_baseline_s=round(bare_first["seconds"], 3),
        first_run_ratio=round(first["seconds"] / bare_first["seconds"], 4),
        first_run_outcomes=first["outcomes"],
        steady_changed=steady[-1]["changed"],
        leads=sizes.leads,
        contacts=sizes.contacts,
        accounts=sizes.accounts,
        interactions=sizes.interactions,
        models=len(MODELS),
        rounds=args.rounds,
        chunk=chunk,
        database="sqlite",
        cores=os.cpu_count(),
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
