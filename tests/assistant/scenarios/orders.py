"""Order questions in context: the dates said relative to today in the shop's zone (expected today,
tomorrow, on a date; delivered on a date; late by so many days, with the team asked to look), in
English and Dutch, verified by the customer's own e-mail address or phone number.

The demo orders are dated relative to the day the demo was loaded ('today+1d'): expectations read
them through fixture_data in the shop's zone, and the late ones are asked about some days later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import (
    day_text,
    days_after_load,
    demo_day,
    demo_moment_day,
    load_day,
    next_weekday,
    opening_ranges,
    order_delivered_day,
    order_item_names,
    order_total_text,
    orders,
    ranges_text,
)

ORDERS = orders("shop")


def eta(number: str):
    return demo_day("shop", ORDERS[number]["estimated_delivery"])


def contact(number: str) -> str:
    return ORDERS[number]["email"]


def placed(number: str, language: str = "en") -> str:
    return day_text(demo_moment_day("shop", ORDERS[number]["created"]), language)


def facts(number: str) -> tuple[str, ...]:
    """What every verified answer about the order says: its number, what is in it and its total."""
    return (number, *order_item_names("shop", number), order_total_text("shop", number))


def late_by(number: str, days: int):
    """The moment `days` days after the order's expected delivery, in the shop's zone."""
    return days_after_load("shop", (eta(number) - load_day("shop")).days + days)


TL_12 = "TL-10412"  # shipped, expected today+1d
LATE_WORDS = ("late", "te laat")


def saturday_facts(now: datetime) -> tuple[str, ...]:
    """What an answer to "are you open on saturday?" asked at `now` says, one of them."""
    ranges = opening_ranges("shop", next_weekday(now.date(), 5))
    if not ranges:
        return ("closed",)
    return (ranges_text(ranges), f"until {ranges[-1][1]}")


LATE_AND_HOURS_AT = late_by(TL_12, 3)

TURNS = [
    Turn(id="order-expected-tomorrow", tenant="shop", says=(f"where is my order {TL_12}? {contact(TL_12)}",),
         must_say=(*facts(TL_12), "is shipped", ORDERS[TL_12]["carrier"], ORDERS[TL_12]["tracking_number"],
                   "Expected delivery: tomorrow.", f"Ordered on {placed(TL_12)}."),
         must_not_say=LATE_WORDS, offers_person=False),
    Turn(id="order-expected-today", tenant="shop", says=(f"wheres my parcel TL-10414 {contact('TL-10414')}",),
         must_say=(*facts("TL-10414"), "Expected delivery: today."), must_not_say=LATE_WORDS),
    Turn(id="order-expected-on-a-date", tenant="shop", says=(f"status of order TL-10415 pls, {contact('TL-10415')}",),
         must_say=(*facts("TL-10415"), f"Expected delivery: {day_text(eta('TL-10415'))}."),
         must_not_say=(*LATE_WORDS, "Expected delivery: on")),
    Turn(id="order-packed-with-date", tenant="shop", says=(f"when will TL-10417 arrive? {contact('TL-10417')}",),
         must_say=(*facts("TL-10417"), "packed", f"Expected delivery: {day_text(eta('TL-10417'))}."),
         must_not_say=LATE_WORDS),
    Turn(id="order-delivered-on", tenant="shop", says=(f"where is order TL-10398? {contact('TL-10398')}",),
         must_say=(*facts("TL-10398"), f"It was delivered on {day_text(order_delivered_day('shop', 'TL-10398'))}."),
         must_not_say=("Expected delivery", *LATE_WORDS)),
    Turn(id="order-delivered-by-phone", tenant="shop",
         says=(f"has my order TL-10399 been delivered? phone {ORDERS['TL-10399']['phone']}",),
         must_say=(*facts("TL-10399"), f"delivered on {day_text(order_delivered_day('shop', 'TL-10399'))}"),
         must_not_say=("Expected delivery",)),
    Turn(id="order-eleven-days-late", tenant="shop", says=(f"where is my order {TL_12}?? {contact(TL_12)}",),
         now=late_by(TL_12, 11), offers_person=True,
         must_say=(*facts(TL_12), f"It was expected on {day_text(eta(TL_12))}, so it is 11 days late",
                   "I've asked the team to look into it"),
         must_not_say=("Expected delivery:", "on its way, expected")),
    Turn(id="order-one-day-late", tenant="shop", says=(f"order {TL_12} still hasnt come. {contact(TL_12)}",),
         now=late_by(TL_12, 1), offers_person=True,
         must_say=("It was expected yesterday, so it is a day late", "asked the team"),
         must_not_say=("Expected delivery:", "1 days")),
    Turn(id="order-late-dutch", tenant="shop",
         says=(f"waar blijft mijn bestelling TL-10413? {contact('TL-10413')}",), now=late_by("TL-10413", 4),
         offers_person=True,
         must_say=("Bestelling TL-10413 is verzonden", f"Hij werd verwacht op {day_text(eta('TL-10413'), 'nl')}",
                   "4 dagen te laat", "ik heb het team gevraagd"),
         must_not_say=("Verwachte levering",)),
    Turn(id="order-late-and-hours", tenant="shop",
         says=(f"where is order {TL_12} {contact(TL_12)} and are you open on saturday?",),
         now=LATE_AND_HOURS_AT, offers_person=True,
         must_say=("so it is 3 days late", "I've asked the team"),
         must_say_one_of=(saturday_facts(LATE_AND_HOURS_AT),)),
    Turn(id="order-in-three-messages", tenant="shop", says=("where's my parcel??", "it's tl-10412", contact(TL_12)),
         must_say=(*facts(TL_12), "Expected delivery: tomorrow."), must_not_say=LATE_WORDS),
    Turn(id="order-asks-number-first", tenant="shop", says=("where is my order",),
         must_say=("What's your order number?",), must_not_say=("TL-",)),
    Turn(id="order-asks-contact", tenant="shop", says=(f"where is {TL_12}",),
         must_say=(f"e-mail address or phone number you used for order {TL_12}",),
         must_not_say=("shipped", ORDERS[TL_12]["tracking_number"])),
    Turn(id="order-wrong-email", tenant="shop", says=(f"where is order {TL_12}? my email is someone@else.example",),
         must_say=("couldn't find an order",), must_not_say=("shipped", ORDERS[TL_12]["tracking_number"], "late")),
    Turn(id="order-cancelled", tenant="shop", says=(f"order TL-10405 status? {contact('TL-10405')}",),
         must_say=("TL-10405 is cancelled",), must_not_say=("Expected delivery", *LATE_WORDS)),
    Turn(id="order-refunded", tenant="shop", says=(f"whats happening with TL-10400 {contact('TL-10400')}",),
         must_say=("TL-10400 is refunded",), must_not_say=("Expected delivery", *LATE_WORDS)),
    Turn(id="order-paid-no-date", tenant="shop", says=(f"where is my order TL-10419 {contact('TL-10419')}",),
         must_say=("TL-10419 is paid and being prepared",), must_not_say=("Expected delivery", *LATE_WORDS)),
    Turn(id="order-dutch-today", tenant="shop",
         says=(f"waar is mijn bestelling TL-10414? {contact('TL-10414')}",),
         must_say=("Bestelling TL-10414 is verzonden", "Verwachte levering: vandaag.",
                   f"Besteld op {placed('TL-10414', 'nl')}."),
         must_not_say=(*LATE_WORDS, "Expected")),
    Turn(id="order-dutch-delivered", tenant="shop",
         says=(f"is mijn bestelling TL-10406 al bezorgd? {contact('TL-10406')}",),
         must_say=("Bestelling TL-10406 is bezorgd",
                   f"Hij is bezorgd op {day_text(order_delivered_day('shop', 'TL-10406'), 'nl')}."),
         must_not_say=("Verwachte levering",)),
    Turn(id="order-phone-packed-tomorrow", tenant="shop",
         says=(f"status of order TL-10418, phone {ORDERS['TL-10418']['phone']}",),
         must_say=(*facts("TL-10418"), "Expected delivery: tomorrow."), must_not_say=LATE_WORDS),
    Turn(id="order-pending-then-hours", tenant="shop", says=(f"where is {TL_12}", "are you open on sunday?"),
         now=days_after_load("shop", 0), must_say_one_of=(("closed on", "closed today", "closed tomorrow"),),
         must_not_say=(ORDERS[TL_12]["tracking_number"],)),
    Turn(id="order-tracking-link-on-its-own-line", tenant="shop", says=(f"track {TL_12} {contact(TL_12)}",),
         must_say=(f"Track it here: {ORDERS[TL_12]['tracking_url']}",),
         must_not_say=(f"{ORDERS[TL_12]['tracking_url']} Expected",)),
    Turn(id="order-expected-tomorrow-seen-at-late-evening", tenant="shop",
         says=(f"where is my order {TL_12}? {contact(TL_12)}",),
         now=days_after_load("shop", 0, hour=23) - timedelta(minutes=1),
         must_say=("Expected delivery: tomorrow.",), must_not_say=LATE_WORDS),
]
