"""Opening-hours questions and the sentences that answer them: 'Today we're open…', never 'On today…',
in English and Dutch, with the hours read from hours.json."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import day_text, opening_ranges, profile, ranges_text

SHOP = ZoneInfo(profile("shop")["timezone"])
CAFE = ZoneInfo(profile("cafe")["timezone"])
# A Tuesday afternoon in November: both open, no holiday near.
TUESDAY = date(2026, 11, 24)
SHOP_TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=SHOP)
CAFE_TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=CAFE)
CAFE_TUESDAY_NIGHT = datetime(2026, 11, 24, 21, 0, tzinfo=CAFE)
SHOP_SATURDAY_EVENING = datetime(2026, 11, 28, 16, 0, tzinfo=SHOP)
SHOP_SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=SHOP)
CAFE_FRIDAY_BREAK = datetime(2026, 11, 27, 17, 30, tzinfo=CAFE)  # between the day and the evening session
DECEMBER = datetime(2026, 12, 20, 11, 0, tzinfo=CAFE)

WRONG_DAY_FORMS = ("On today", "On tomorrow", "Op vandaag", "Op morgen", "again, ", "weer open op morgen")


def shop(day: date) -> str:
    return ranges_text(opening_ranges("shop", day))


def cafe(day: date, language: str = "en") -> str:
    return ranges_text(opening_ranges("cafe", day), language)


def first_opening(tenant: str, day: date) -> str:
    return opening_ranges(tenant, day)[0][0]


MONDAY_AFTER = date(2026, 11, 30)
SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)
FRIDAY = date(2026, 11, 27)
TOMORROW = TUESDAY + timedelta(days=1)
CHRISTMAS = date(2026, 12, 25)
CHRISTMAS_EVE = date(2026, 12, 24)
NEW_YEAR = date(2027, 1, 1)


def note(tenant: str, day: date) -> str:
    from tests.assistant.scenarios.fixture_data import hours

    return next(e["note"] for e in hours(tenant)["exceptions"] if e["date"] == day.isoformat())


TURNS = [
    Turn(id="hours-close-today-shop", tenant="shop", says=("what time do you close today",), now=SHOP_TUESDAY,
         must_say=(f"Today we close at {opening_ranges('shop', TUESDAY)[-1][1]}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-open-tmrw-slang", tenant="shop", says=("open tmrw?",), now=SHOP_TUESDAY,
         must_say=(f"Tomorrow we're open {shop(TOMORROW)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-open-tomorrow-shop", tenant="shop", says=("are you open tomorrow?",), now=SHOP_TUESDAY,
         must_say=(f"Tomorrow we're open {shop(TOMORROW)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-friday-two-sessions", tenant="cafe", says=("what are ur hours on friday",), now=CAFE_TUESDAY,
         must_say=(f"On {day_text(FRIDAY)} we're open {cafe(FRIDAY)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-closed-at-night", tenant="cafe", says=("are you open right now?",), now=CAFE_TUESDAY_NIGHT,
         must_say=("closed right now", f"We open again tomorrow at {first_opening('cafe', TOMORROW)}."),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-shop-saturday-evening-next-monday", tenant="shop", says=("r u open now",),
         now=SHOP_SATURDAY_EVENING,
         must_say=(f"We open again on {day_text(MONDAY_AFTER)} at {first_opening('shop', MONDAY_AFTER)}.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-shop-sunday-open-today", tenant="shop", says=("are you open today?",), now=SHOP_SUNDAY,
         must_say=("closed right now", f"We open again tomorrow at {first_opening('shop', SUNDAY + timedelta(1))}."),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-week-list-shop", tenant="shop", says=("opening hours",), now=SHOP_TUESDAY,
         must_say=(f"Today we're open {shop(TUESDAY)}.", f"Tomorrow we're open {shop(TOMORROW)}.",
                   f"We're closed on {day_text(SUNDAY)}.", f"On {day_text(SATURDAY)} we're open {shop(SATURDAY)}."),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-week-list-dutch", tenant="shop", says=("wat zijn jullie openingstijden?",), now=SHOP_TUESDAY,
         must_say=(f"Vandaag zijn we open {shop(TUESDAY)}.", f"Morgen zijn we open {shop(TOMORROW)}.",
                   f"Op {day_text(SUNDAY, 'nl')} zijn we gesloten."),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-dutch-now-closed-saturday", tenant="shop", says=("zijn jullie nu open?",),
         now=SHOP_SATURDAY_EVENING,
         must_say=("We zijn nu gesloten.",
                   f"We gaan op {day_text(MONDAY_AFTER, 'nl')} om {first_opening('shop', MONDAY_AFTER)} weer open."),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-dutch-tomorrow", tenant="shop", says=("zijn jullie morgen open?",), now=SHOP_TUESDAY,
         must_say=(f"Morgen zijn we open {shop(TOMORROW)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-christmas-day", tenant="cafe", says=("open on christmas day?",), now=DECEMBER,
         must_say=(f"We're closed on {day_text(CHRISTMAS)} ({note('cafe', CHRISTMAS)}).",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-dutch-christmas", tenant="shop", says=("zijn jullie open met kerst?",), now=SHOP_TUESDAY,
         must_say=(f"Op {day_text(CHRISTMAS, 'nl')} zijn we gesloten",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-saturday-opening", tenant="cafe", says=("what time do you open on saturday",),
         now=CAFE_TUESDAY, must_say=(f"On {day_text(SATURDAY)} we're open {cafe(SATURDAY)}.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-between-sessions", tenant="cafe", says=("are you open now?",), now=CAFE_FRIDAY_BREAK,
         must_say=(f"We open again today at {opening_ranges('cafe', FRIDAY)[1][0]}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-sunday", tenant="cafe", says=("are you open sunday",), now=CAFE_TUESDAY,
         must_say=(f"On {day_text(SUNDAY)} we're open {cafe(SUNDAY)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-shop-saturday-close", tenant="shop", says=("when do u close on saturday",), now=SHOP_TUESDAY,
         must_say=(f"On {day_text(SATURDAY)} we're open {shop(SATURDAY)}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-shop-new-year", tenant="shop", says=("r u guys open on new years day",),
         now=SHOP_TUESDAY, must_say=(f"We're closed on {day_text(NEW_YEAR)} ({note('shop', NEW_YEAR)}).",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-christmas-eve", tenant="cafe", says=("christmas eve hours?",), now=CAFE_TUESDAY,
         must_say=(f"On {day_text(CHRISTMAS_EVE)} we're open {cafe(CHRISTMAS_EVE)} ({note('cafe', CHRISTMAS_EVE)}).",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-away-note-sunday", tenant="shop", says=("i need to speak to someone",), now=SHOP_SUNDAY,
         offers_person=True,
         must_say=(f"a person will reply when we open again tomorrow at {first_opening('shop', MONDAY_AFTER)}.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-away-note-saturday-evening", tenant="shop", says=("can i talk to a human pls",),
         now=SHOP_SATURDAY_EVENING, offers_person=True,
         must_say=(f"when we open again on {day_text(MONDAY_AFTER)} at {first_opening('shop', MONDAY_AFTER)}.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-away-note-dutch", tenant="shop", says=("ik wil een medewerker spreken",), now=SHOP_SUNDAY,
         offers_person=True,
         must_say=(f"zodra we morgen om {first_opening('shop', MONDAY_AFTER)} weer open zijn.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-cafe-shut-today", tenant="cafe", says=("hiya what time do you shut today",), now=CAFE_TUESDAY,
         must_say=(f"Today we close at {opening_ranges('cafe', TUESDAY)[-1][1]}.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-dutch-close-today", tenant="shop", says=("hoe laat gaan jullie vandaag dicht?",),
         now=SHOP_TUESDAY, must_say=(f"Vandaag sluiten we om {opening_ranges('shop', TUESDAY)[-1][1]}.",),
         must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-shop-closed-tomorrow-sunday", tenant="shop", says=("are you open tomorrow",),
         now=SHOP_SATURDAY_EVENING, must_say=("We're closed tomorrow.",), must_not_say=WRONG_DAY_FORMS),
    Turn(id="hours-dutch-closed-tomorrow", tenant="shop", says=("zijn jullie morgen open",),
         now=SHOP_SATURDAY_EVENING, must_say=("Morgen zijn we gesloten.",), must_not_say=WRONG_DAY_FORMS),
]
