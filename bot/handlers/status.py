"""/status: is the visit upcoming, under way or over, counted in the visit's time zone."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import reply, visit_of
from bot.i18n import Html, t
from bot.render import format_day, human_delta, visit_status


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    data = await svc.reading(update, loaded)
    visit = loaded.visit
    now = svc.now()
    state = visit_status(now, visit.starts_on, visit.ends_on, visit.timezone)
    dates = t(
        lang,
        "status.dates",
        start=format_day(visit.starts_on, lang),
        end=format_day(visit.ends_on, lang),
        venue=visit.venue.get(data),
    )
    if state.phase == "upcoming":
        line = t(lang, "status.upcoming", countdown=human_delta(state.delta, lang))
    elif state.phase == "under_way":
        line = t(lang, "status.under_way", day=state.day, days=state.days)
    else:
        today = now.astimezone(visit.timezone).date()
        ago = (today - visit.ends_on).days
        key = "status.concluded_one" if ago == 1 else "status.concluded"
        line = t(lang, key, days=ago)
    title = t(lang, "status.title", visit=visit.name.get(data))
    await reply(update, context, Html("\n".join([title, "", line, dates])))
