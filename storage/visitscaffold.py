"""`visitbot visit new`: a commented skeleton of a visit file from a few public facts.

What an operator knows on day one (the two leaders and countries, the city, the dates, the time
zone and the languages of the coverage) goes in; out comes a file with everything else laid out:
names to fill in per language, search feeds per language, the usual traps, a first agenda day,
a source to name. Every blank is a visible placeholder (`PLACEHOLDER`), and `visit check` refuses
a file that still has one, so nothing half-made is ever loaded. Pure: text in, text out.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote_plus

from storage.visitcheck import PLACEHOLDER


@dataclass(frozen=True)
class NewVisit:
    guest_leader: str  # "Lee Jae Myung"
    guest_country: str  # "South Korea"
    guest_code: str  # "KR"
    host_leader: str
    host_country: str
    host_code: str
    city: str
    starts_on: dt.date
    ends_on: dt.date
    timezone: str  # the host's, IANA
    languages: tuple[str, ...]  # ("en", "ko", "ar")
    guest_timezone: str = ""
    trip: str = ""  # a trip key shared by the stops of one tour, optional
    slug: str = ""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def default_slug(new: NewVisit) -> str:
    slug = f"{slugify(new.guest_leader)}-{slugify(new.host_country)}-{new.starts_on.year}"
    return slug[:32].rstrip("-")


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _blank(what: str, lang: str) -> str:
    return _q(f"{PLACEHOLDER}: {what} in {lang}⟫")


def _names(key: str, english: str, languages: tuple[str, ...], what: str) -> list[str]:
    lines = [f"{key}.en = {_q(english)}"]
    lines += [f"{key}.{lang} = {_blank(what, lang)}" for lang in languages if lang != "en"]
    return lines


def _aliases(english: list[str], languages: tuple[str, ...], what: str) -> list[str]:
    lines = [f"aliases.en = [{', '.join(_q(a) for a in english)}]"]
    lines += [f"aliases.{lang} = [{_blank(what, lang)}]" for lang in languages if lang != "en"]
    return lines


def _feed(query: str, lang: str, country: str) -> str:
    region = country.upper()
    return (
        f"https://news.google.com/rss/search?q={quote_plus(query)}"
        f"&hl={lang}&gl={region}&ceid={region}:{lang}"
    )


def render(new: NewVisit) -> str:
    """The skeleton, as TOML text with comments."""
    langs = new.languages
    slug = new.slug or default_slug(new)
    until = new.ends_on + dt.timedelta(days=30)
    since = new.starts_on - dt.timedelta(days=14)
    query = f'"{new.guest_leader}" {new.host_country}'
    feeds = [_feed(query, "en", new.host_code)]
    feeds += [_feed(query, lang, new.guest_code) for lang in langs if lang != "en"]
    out = [
        "# Visit file written by `visitbot visit new`. Fill in every ⟪fill in …⟫, then run",
        "# `visitbot visit check FILE`: it lists what is still missing. The format is documented",
        "# in storage/visits/README.md.",
        "",
        "[visit]",
        f"slug = {_q(slug)}",
        f"languages = [{', '.join(_q(lang) for lang in langs)}]",
        f"timezone = {_q(new.timezone)}",
    ]
    if new.guest_timezone:
        out.append(f"guest_timezone = {_q(new.guest_timezone)}")
    out += [
        f"starts_on = {new.starts_on.isoformat()}",
        f"ends_on = {new.ends_on.isoformat()}",
        "# News published in this window can be about the visit (before the announcement, after",
        "# the follow-up coverage); feeds are polled only then.",
        f"tracking_from = {since.isoformat()}",
        f"tracking_until = {until.isoformat()}",
        *_names("name", f"Visit of {new.guest_leader} to {new.host_country}", langs, "the visit"),
        *_names("venue", new.city, langs, "the city or venue"),
        "",
    ]
    if new.trip:
        out += [
            "# The tour this visit is a stop of: other stops' files with the same key make their",
            "# places traps here. Stops without a file go in the other-stops trap below.",
            "[trip]",
            f"key = {_q(new.trip)}",
            *_names("name", f"{new.guest_leader}'s tour", langs, "the tour's name"),
            "",
        ]
    out += [
        "# Aliases: how the press writes each country (capital, adjective, short forms).",
        "[host]",
        f"code = {_q(new.host_code.upper())}",
        *_names("name", new.host_country, langs, "the host country"),
        *_aliases([new.host_country, new.city], langs, "the host country's names"),
        "",
        "[guest]",
        f"code = {_q(new.guest_code.upper())}",
        *_names("name", new.guest_country, langs, "the guest country"),
        *_aliases([new.guest_country], langs, "the guest country's names"),
        "",
        "# People whose names anchor a story to this visit. Add the short forms the press uses",
        '# ("President Lee"), but not a bare family name that many others share.',
        "[[leaders]]",
        f"key = {_q(slugify(new.guest_leader)[:32])}",
        'side = "guest"',
        *_names("name", new.guest_leader, langs, "the guest leader"),
        *_aliases([new.guest_leader], langs, "the guest leader's names"),
        "",
        "[[leaders]]",
        f"key = {_q(slugify(new.host_leader)[:32])}",
        'side = "host"',
        *_names("name", new.host_leader, langs, "the host leader"),
        *_aliases([new.host_leader], langs, "the host leader's names"),
        "",
        "# Venues, spokespeople and parties to agreements: one [[anchors]] each, with a side",
        "# (host, guest; none means neutral). Add them as the programme becomes known.",
        "",
        "# Sectors the talks are expected to cover: display names and detection terms per",
        "# language (terms in other languages are optional but make detection work there).",
        "[[sectors]]",
        'key = "trade"',
        'name.en = "Trade and investment"',
        'terms.en = ["trade", "investment", "export", "economic"]',
        "",
        "# The usual traps: stories about the same people that are about something else.",
        "[[traps]]",
        'key = "phone-call"',
        'reason = "earlier phone calls between the two leaders"',
        'terms.en = ["phone call", "phone talk", "telephone", "by phone"]',
        "",
        "# Also worth adding once known, each as a [[traps]] with its terms per language:",
        "# - other-stops: the leader's other stops on the same tour that have no file here;",
        "# - earlier visits: predecessors' visits to the same country (their names);",
        "# - the host leader's other guests that week.",
        "",
        "[[topics]]",
        'key = "visit"',
        'name.en = "The visit"',
        "",
        "# Every fact, agenda item and agreement names a source with its published address.",
        "[sources.announcement]",
        'title.en = "The announcement of the visit"',
        f"url = {_q(PLACEHOLDER + ': the address of the announcement⟫')}",
        "",
        "[[facts]]",
        'key = "visit-dates"',
        'topic = "visit"',
        'source = "announcement"',
        "text.en = "
        + _q(
            f"{new.guest_leader} visits {new.host_country} from "
            f"{new.starts_on:%-d %B} to {new.ends_on:%-d %B %Y}."
        ),
        "",
        "# The programme: `date`, and `time` (HH:MM, local) when it is public.",
        "[[agenda]]",
        'key = "arrival"',
        f"date = {new.starts_on.isoformat()}",
        'source = "announcement"',
        f"title.en = {_q(f'Arrival in {new.city}')}",
        f"place.en = {_q(new.city)}",
        "",
        "# News feeds watched by default: a search per language. Replace the English names in",
        "# the non-English queries with the names you filled in above for better results.",
        "[feeds]",
        "urls = [",
        *[f"    {_q(url)}," for url in feeds],
        "]",
        "",
    ]
    return "\n".join(out)
