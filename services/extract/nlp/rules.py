"""Rules for dates, money, percentages and quantities, in every language.

Each match becomes a Mention with ``method="rule"`` and a normalised value:

* MONEY    "<amount> <ISO 4217>"      "634.2 yen" -> "634.2 JPY",
           "10,76 millions d'euros" -> "10760000 EUR", "$1.5bn" -> "1500000000 USD",
           "634.2日元" / "634.2円" -> "634.2 JPY", "320亿美元" -> "32000000000 USD"
* PERCENT  "<number>%"                "2,96 %" / "2.96 per cent" / "2.96％" -> "2.96%"
* QUANTITY "<amount> <unit>"          "35 km" -> "35 km", "10,76 millions de véhicules"
                                      -> "10760000 véhicules"
* DATE     ISO 8601, as precise as the text: "2019-12-04", "2018-11", "2019".
           Day-month without a year, a bare month and weekdays ("Wednesday",
           "mercredi") are resolved against the story's reference date (see
           ``reference_date`` in the package: the dateline's day, else the
           publication date; else a year only, from the dateline or the
           copyright line). A weekday is the latest such day on or before the
           reference date, unless "next"/"prochain" goes with it or a future
           cue precedes it in the same clause ("will meet on Wednesday", "doit
           se réunir mercredi", "wird am Mittwoch"): then it is the first such
           day on or after it. A day-month takes the year that puts it closest
           to the reference date. When only a year is known, the reference is
           estimated as the latest day-month the story mentions in that year;
           weekdays then stay unresolved. Without a reference the DATE is kept
           with no value. A capitalised weekday followed by a capitalised word
           that is not a date word is part of a name ("the Sunday Times"), not
           a DATE.

Numbers: "," or "." followed by exactly three digits is a thousands separator
where that is the language's convention (en: "12,500"; fr/de/es/it/nl/pt:
"1.500", "1 500"), otherwise a decimal mark ("10,76", "634.2"). A number may
not follow a Latin letter, a digit, "." or "," ("A320"), but may follow a
Chinese or Japanese character. Scale words: thousand/million/billion and their
French, German, Spanish, Italian, Dutch and Portuguese forms (French
"milliard" = 1e9, "billion" = 1e12; German "Milliarde" = 1e9, "Billion" =
1e12; Spanish "mil millones" = 1e9, "billón" = 1e12), Chinese/Japanese 万 = 1e4
and 亿/億 = 1e8; "k"/"m" count as scales for money ("$3m") but not before a
noun ("a 3 m drop" is no quantity).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from shared.dateline import MONTHS  # one month table for datelines and date rules

from .normalize import Mention

COMMA_DECIMAL = {"fr", "de", "es", "it", "nl", "pt", "ru", "pl", "sv", "da", "no", "fi", "cs", "tr", "ro"}

# --- scale words -----------------------------------------------------------
_SCALES: list[tuple[str, float]] = [
    (r"mil\s+millones", 1e9), (r"billones?|billón", 1e12),  # es (before the generic words)
    (r"thousands?|k\b|mille|milles|tausend|Tsd\.?|mila|duizend|mil\b", 1e3),
    (r"millions?|million|Millionen|Million|Mio\.?|millones|millón|milioni|milione|miljoen|miljoenen|milhões|milhão|mln\.?|mn\b|m\b", 1e6),
    (r"billions?|bn\b|milliards?|Milliarden|Milliarde|Mrd\.?|miliardi|miliardo|miljard|miljarden|bilhões|bilhão|mld\.?", 1e9),
    (r"trillions?|tn\b", 1e12),
    (r"тыс\.|тысяч[аи]?", 1e3), (r"млн\.?|миллион(?:ов|а)?", 1e6), (r"млрд\.?|миллиард(?:ов|а)?", 1e9),  # ru
    (r"万|萬", 1e4), (r"亿|億", 1e8),  # zh/ja: "634.2亿日元", "100万円"
]
_SCALE_ALT = "|".join(p for p, _ in _SCALES)
# Before a noun ("3 m drop", "5 k runners") a one-letter abbreviation is more
# likely a unit or a name than a scale, so noun quantities need a scale word.
_NOUN_SCALE_ALT = "|".join(a for p, _ in _SCALES for a in p.split("|") if not re.fullmatch(r"[a-z]\\b", a))
# languages where "billion"/"Billion" is 1e12
_LONG_SCALE = {"fr", "de", "es", "it", "nl", "pt"}

# The last form is a decimal comma with stray spaces ("0 , 16%" in the seed
# story); it only counts right before a percent sign and after one or two
# digits, because elsewhere " , " separates list items ("in 1996 , 12 percent",
# "3 , 40 dollars" in CoNLL text).
NUM = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)*|\d{1,2} , \d+(?=\s?%)"
_NUM_RE = re.compile(NUM)

# Chinese and Japanese script is \w to Python and has no spaces, so "下跌2.96%，至634.2日元"
# and "2.96%安の634.2円" put numbers right after and before letters. Numbers may
# follow a CJK character; they still may not follow a Latin letter, digit or
# "."/"," ("A320", "1.5.2" are not amounts).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
# Number boundary. Every NUM starts with a digit: checking that first lets the
# scan skip the two lookbehinds at every other character.
_NB = rf"(?=\d)(?<![^\W{_CJK}])(?<![.,])"
# after a currency word: CJK words need no boundary ("634.2円で")
_CUR_END = rf"(?:(?<=[{_CJK}])|(?![\w]))"

_CURRENCY_WORDS: list[tuple[str, str]] = [
    (r"日元|円", "JPY"), (r"美元|ドル", "USD"), (r"欧元|ユーロ", "EUR"), (r"英镑|ポンド", "GBP"),
    (r"港元", "HKD"), (r"人民币|元", "CNY"),
    (r"US dollars?|U\.S\. dollars?|dollars? am[ée]ricains?|US-Dollar|d[óo]lares estadounidenses", "USD"),
    (r"Canadian dollars?|dollars? canadiens?", "CAD"),
    (r"Australian dollars?|dollars? australiens?", "AUD"),
    (r"Hong Kong dollars?", "HKD"),
    (r"dollars?|Dollar|d[óo]lares|dollari|dollaro", "USD"),
    (r"euros?|Euro|EUR|euro", "EUR"),
    (r"yens?|Yen", "JPY"),
    (r"yuans?|renminbi|Yuan", "CNY"),
    (r"pounds? sterling|pounds?|livres? sterling|Pfund|libras? esterlinas?|sterline", "GBP"),
    (r"Swiss francs?|francs? suisses?|Franken", "CHF"),
    (r"rupees?|roupies?", "INR"),
    (r"won", "KRW"),
    (r"roubles?|rubles?|Rubel|рубл(?:ей|я|ь)|руб\.", "RUB"),
    (r"доллар(?:ов|а)?", "USD"), (r"евро", "EUR"),
    (r"reais|real", "BRL"),
]
_CODES = "USD|EUR|JPY|GBP|CHF|CNY|CAD|AUD|HKD|INR|KRW|RUB|BRL|SEK|NOK|DKK|PLN|MXN|ZAR|TRY|SGD|NZD"
_SYMBOLS = [("US$", "USD"), ("C$", "CAD"), ("A$", "AUD"), ("HK$", "HKD"), ("NZ$", "NZD"), ("S$", "SGD"),
            ("R$", "BRL"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₹", "INR"),
            ("₩", "KRW"), ("₽", "RUB"), ("CHF", "CHF"), ("Fr.", "CHF")]
_SYM_ALT = "|".join(re.escape(s) for s, _ in _SYMBOLS) + "|" + _CODES
_CUR_WORD_ALT = "|".join(p for p, _ in _CURRENCY_WORDS) + "|" + _CODES

_OF = r"(?:\s+(?:de|of|d['’]|di|van)\s*|\s+)"

MONEY_RE = re.compile(
    rf"(?P<sym>{_SYM_ALT})\s?(?P<n1>{NUM})(?:\s?(?P<s1>{_SCALE_ALT}))?(?![\w])"
    rf"|{_NB}(?P<n2>{NUM})(?:\s?(?P<s2>{_SCALE_ALT}))?(?:{_OF})?\s?(?P<cur>{_CUR_WORD_ALT}|[€$£¥]){_CUR_END}",
)
PERCENT_RE = re.compile(
    rf"{_NB}(?P<n>{NUM})\s?(?:[%％]|per\s?cent\b|pour\s?cent\b|pour-cent\b|Prozent\b|por\s?ciento\b|per\s?cento\b|procent\b|por\s?cento\b|процент(?:ов|а)?\b)"
)
_UNITS: list[tuple[str, str]] = [
    (r"km²|km2|square kilomet(?:re|er)s?|kilomètres? carrés?|Quadratkilometer", "km2"),
    (r"km|kilomet(?:re|er)s?|kilomètres?|Kilometer[n]?|kil[óo]metros?|chilometri|chilometro", "km"),
    (r"miles?|milles?", "mi"),
    (r"kg|kilo(?:gram(?:me)?s?|s)?|Kilogramm|kilogramos?|chilogrammi", "kg"),
    (r"tonnes?|tons?|Tonnen|toneladas?|tonnellate|ton", "t"),
    (r"barrels?|barils?|Barrel|barriles|barili|vaten", "bbl"),
    (r"lit(?:re|er)s?|Liter|litros?|litri", "l"),
    (r"hectares?|Hektar|hect[áa]reas?|ettari|ha", "ha"),
    (r"megawatts?|MW", "MW"), (r"gigawatts?|GW", "GW"), (r"kWh|MWh|GWh|TWh", None),
    (r"°C|degrees Celsius|degrés", "°C"),
]
_UNIT_ALT = "|".join(p for p, _ in _UNITS)
QUANTITY_RE = re.compile(
    rf"{_NB}(?P<n>{NUM})(?:\s?(?P<s>{_SCALE_ALT}))?\s?(?P<unit>{_UNIT_ALT})(?![\w])"
    rf"|{_NB}(?P<n2>{NUM})\s(?P<s2>{_NOUN_SCALE_ALT})(?:{_OF})(?P<noun>[^\W\d_]{{3,}})",
)

# --- dates -------------------------------------------------------------------
WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate([
    "monday lundi montag lunes lunedì lunedi maandag segunda-feira понедельник",
    "tuesday mardi dienstag martes martedì martedi dinsdag terça-feira вторник",
    "wednesday mercredi mittwoch miércoles miercoles mercoledì mercoledi woensdag quarta-feira среда среду",
    "thursday jeudi donnerstag jueves giovedì giovedi donderdag quinta-feira четверг",
    "friday vendredi freitag viernes venerdì venerdi vrijdag sexta-feira пятница пятницу",
    "saturday samedi samstag sonnabend sábado sabado sabato zaterdag суббота субботу",
    "sunday dimanche sonntag domingo domenica zondag воскресенье",
]):
    for _n in _names.split():
        WEEKDAYS[_n] = _i
# Month names that take an abbreviation dot ("3 Dec.", "3 sept."); after a full
# name ("3 December.") a dot is the end of the sentence.
MONTH_ABBREVIATIONS = frozenset(
    "jan janv feb févr fevr mar apr avr jun jul juil aug sep sept oct okt nov dec déc dez dic".split()
)
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_WD_ALT = "|".join(sorted((re.escape(w) for w in WEEKDAYS), key=len, reverse=True))
_NEXT = re.compile(r"(?:next|prochain|nächsten|naechsten|kommenden|próximo|proximo|prossimo|volgende|следующ\w*)\s+$", re.I)
_LAST = re.compile(r"(?:last|past|dernier|letzten|vergangenen|pasado|scorso|passato|vorige|afgelopen|прошл\w*)\s+$", re.I)
# "mercredi prochain", "el miércoles próximo" / "mercredi dernier", "el miércoles pasado"
_NEXT_AFTER = re.compile(r"\s+(?:prochain|prochaine|próximo|proximo|prossimo|que viene|qui vient)\b", re.I)
_LAST_AFTER = re.compile(r"\s+(?:dernier|passé|pasado|scorso|passato)\b", re.I)
# A future-tense cue earlier in the same clause ("The board will meet on
# Wednesday", "Le conseil doit se réunir mercredi") makes a weekday the next
# such day rather than the last one. The clause is the text since the last
# punctuation mark, at most 80 characters: in "Seki, who will join Nidec,
# resigned on Wednesday" the cue belongs to another clause. Searched only
# before a weekday match, so it costs nothing on stories without weekdays.
_FUTURE_CUES = {
    "en": r"will|'ll|shall|(?:is|are|was|were) (?:due|expected|scheduled|set|slated|going|poised) to|(?:is|are) to|plans? to",
    "fr": r"va|vont|doit|doivent|devrait|devraient|sera|seront|aura|auront|\w{3,}(?:era|ira|eront|iront)|prochaine?",
    "de": r"wird|werden|soll|sollen|will|wollen|kommenden|nächsten",
    "es": r"va a|van a|\w+rán?|próxim[oa]",
    "it": r"\w+rà|\w+ranno|prossim[oa]",
    "pt": r"vai|vão|\w+rá|\w+rão|próxim[oa]",
    "nl": r"zal|zullen|gaat|gaan|komende|volgende",
    "ru": r"будет|будут|состоится|состоятся|планирует|планируют",
}
_FUTURE = {lang: re.compile(rf"(?<!\w)(?:{cues})(?!\w)[^.;:!?,]{{0,80}}$", re.I) for lang, cues in _FUTURE_CUES.items()}
_FUTURE_ANY = re.compile(rf"(?<!\w)(?:{'|'.join(_FUTURE_CUES.values())})(?!\w)[^.;:!?,]{{0,80}}$", re.I)

DATE_RE = re.compile(
    rf"(?<![\w-])(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})(?![\w-])"
    rf"|(?<![\w])(?P<d1>\d{{1,2}})(?:er|\.|º|°)?\s+(?:de\s+)?(?P<m1>{_MONTH_ALT})\.?(?:\s+(?:de\s+)?(?P<y1>\d{{4}}))?(?![\w])"
    rf"|(?<![\w])(?P<m2>{_MONTH_ALT})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?(?![\w])"
    rf"|(?<![\w])(?P<m3>{_MONTH_ALT})(?:\s+(?:de\s+|of\s+)?(?P<y3>\d{{4}}))?(?![\w])"
    rf"|(?<![\w])(?P<wd>{_WD_ALT})(?![\w])"
    rf"|\b(?:in|en|im|since|depuis|seit|desde|dal|sinds|until|jusqu'en|début|fin|end of|early|late)\s(?P<y4>(?:19|20)\d{{2}})(?![\w-])",
    re.IGNORECASE,
)
# Every DATE_RE alternative starts at the start of a word: digits, a month or
# weekday name, or one of the year cue words. Scanning only from such words
# finds exactly what DATE_RE.finditer finds, several times faster than letting
# the regex try its long IGNORECASE alternation at every character of a story.
_WORD_START = re.compile(r"(?<!\w)\w+")
_DATE_FIRST_WORDS = frozenset(
    [name.split("-")[0] for name in MONTHS] + [name.split("-")[0] for name in WEEKDAYS]
    + ["in", "en", "im", "since", "depuis", "seit", "desde", "dal", "sinds", "until", "jusqu", "début",
       "fin", "end", "early", "late"]
)


def find_dates(seg: str):
    """The matches of DATE_RE.finditer(seg), found from candidate words only."""
    end = 0
    for word in _WORD_START.finditer(seg):
        start = word.start()
        if start < end:
            continue
        token = word.group()
        if not (token[0].isdigit() or token.lower() in _DATE_FIRST_WORDS):
            continue
        m = DATE_RE.match(seg, start)
        if m:
            end = m.end()
            yield m


# Month names that are also ordinary words: only with a day or a year next to them.
_AMBIGUOUS_MONTHS = {"may", "mar", "jan", "mai", "mei", "sept", "sep", "oct", "nov", "dec", "feb", "apr",
                     "jun", "jul", "aug", "août", "mars", "mayo", "real", "juli", "juni", "dez", "dic"}


def parse_number(raw: str, lang: str | None = None) -> float | None:
    s = raw.replace("\u00a0", " ").replace("\u202f", " ").strip()
    if re.fullmatch(r"\d+ , \d+", s):  # "0 , 16": a decimal comma with stray spaces
        s = s.replace(" , ", ".")
        return float(s)
    s = re.sub(r"(?<=\d) (?=\d{3}\b)", "", s)
    comma_dec = (lang or "en") in COMMA_DECIMAL
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thou = "." if dec == "," else ","
        s = s.replace(thou, "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        grouped = len(parts) > 2 or (len(parts[-1]) == 3 and parts[0] != "0")
        if len(parts) > 2 or (grouped and ((sep == "," and not comma_dec) or (sep == "." and comma_dec))):
            s = s.replace(sep, "")
        elif len(parts) == 2:
            s = parts[0] + "." + parts[1]
        else:
            s = s.replace(sep, "")
    try:
        return float(s)
    except ValueError:
        return None


def _scale(word: str | None, lang: str | None) -> float:
    if not word:
        return 1.0
    w = word.strip()
    if re.fullmatch(r"billions?|Billion|billón|billones", w) and (lang or "en") in _LONG_SCALE:
        return 1e12
    for pat, mult in _SCALES:
        if re.fullmatch(pat, w, re.IGNORECASE if len(w) > 2 else 0):
            return mult
    return 1.0


def fmt(x: float) -> str:
    # relative tolerance: 634.2 * 1e8 is 63420000000.000008 in floating point
    if abs(x - round(x)) < 1e-9 * max(1.0, abs(x)):
        return str(int(round(x)))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _currency(tok: str) -> str | None:
    for s, code in _SYMBOLS:
        if tok == s:
            return code
    if re.fullmatch(_CODES, tok):
        return tok
    for pat, code in _CURRENCY_WORDS:
        if re.fullmatch(pat, tok, re.IGNORECASE):
            return code
    return {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY"}.get(tok)


def _unit(tok: str) -> str:
    for pat, norm in _UNITS:
        if re.fullmatch(pat, tok, re.IGNORECASE if len(tok) > 2 else 0):
            return norm or tok
    return tok


_DIGIT = re.compile(r"\d")

# Chinese and Japanese dates: "2019年12月3日", "12月3日", "12月", weekdays "水曜日",
# "星期三", "周三". Han script has no word boundaries, so these are their own
# pass, run only when a segment has one of the characters they need.
_CJK_DATE_HINT = re.compile(r"[年月曜星周週]")
_CJK_WEEKDAY_INDEX = {c: i for i, c in enumerate("一二三四五六")} | {"日": 6, "天": 6}
_JA_WEEKDAY_INDEX = {c: i for i, c in enumerate("月火水木金土日")}
CJK_DATE_RE = re.compile(
    r"(?<!\d)(?:(?P<y>\d{4})\s?年\s?)?(?P<m>\d{1,2})\s?月(?:\s?(?P<d>\d{1,2})\s?[日号])?"
    r"|(?<!\d)(?P<yo>\d{4})\s?年(?!\s?\d)"
    r"|(?P<ja>[月火水木金土日])曜日?"
    r"|(?:星期|礼拜|禮拜|周|週)(?P<zh>[一二三四五六日天])"
)


def _cjk_dates(seg: str, ref: date | None, ref_year: int | None, wd_ref: date | None):
    for m in CJK_DATE_RE.finditer(seg):
        if m.group("m"):
            mon, day = int(m.group("m")), int(m.group("d")) if m.group("d") else None
            if not 1 <= mon <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            year = int(m.group("y")) if m.group("y") else None
            if day is None:
                year = year or (ref.year if ref else ref_year)
                yield m.start(), m.end(), f"{year:04d}-{mon:02d}" if year else None
                continue
            if year is None:
                year = closest_year(mon, day, ref) if ref else ref_year
            try:
                yield m.start(), m.end(), date(year, mon, day).isoformat() if year else None
            except ValueError:
                continue
        elif m.group("yo"):
            yield m.start(), m.end(), m.group("yo")
        else:
            wd = _JA_WEEKDAY_INDEX[m.group("ja")] if m.group("ja") else _CJK_WEEKDAY_INDEX[m.group("zh")]
            # No tense cues for these languages: the last such day, as a wire
            # story's "on Wednesday" most often means.
            yield m.start(), m.end(), (wd_ref - timedelta(days=(wd_ref.weekday() - wd) % 7)).isoformat() if wd_ref else None


def find_values(seg: str, offset: int, lang: str | None, ref: date | None, ref_year: int | None,
                weekday_ref: date | None = ..., not_dates: list[tuple[int, int]] | None = None) -> list[Mention]:
    """All MONEY/PERCENT/QUANTITY/DATE mentions in one segment.

    Weekdays that are part of a name ("the Sunday Times") are appended to
    ``not_dates`` (story offsets), so that a model DATE there can be dropped too."""
    out: list[Mention] = []
    taken = bytearray(len(seg))
    wd_ref = ref if weekday_ref is ... else weekday_ref

    def add(s: int, e: int, label: str, value: str | None):
        if any(taken[s:e]):
            return
        taken[s:e] = b"\x01" * (e - s)
        out.append(Mention(offset + s, offset + e, seg[s:e], label, "rule", value))

    has_digit = _DIGIT.search(seg) is not None
    for m in (MONEY_RE.finditer(seg) if has_digit else ()):
        n = m.group("n1") or m.group("n2")
        amount = parse_number(n, lang)
        cur = _currency(m.group("sym") or m.group("cur"))
        if amount is None or cur is None:
            continue
        amount *= _scale(m.group("s1") or m.group("s2"), lang)
        add(m.start(), m.end(), "MONEY", f"{fmt(amount)} {cur}")
    for m in (PERCENT_RE.finditer(seg) if has_digit else ()):
        v = parse_number(m.group("n"), lang)
        if v is not None:
            add(m.start(), m.end(), "PERCENT", f"{fmt(v)}%")
    for m in (QUANTITY_RE.finditer(seg) if has_digit else ()):
        n = m.group("n") or m.group("n2")
        v = parse_number(n, lang)
        if v is None:
            continue
        v *= _scale(m.group("s") or m.group("s2"), lang)
        unit = _unit(m.group("unit")) if m.group("unit") else m.group("noun")
        add(m.start(), m.end(), "QUANTITY", f"{fmt(v)} {unit}")
    if _CJK_DATE_HINT.search(seg):
        for s0, e0, value in _cjk_dates(seg, ref, ref_year, wd_ref):
            add(s0, e0, "DATE", value)
    for m in find_dates(seg):
        if m.group("wd") and _weekday_in_name(m, seg, lang):
            if not_dates is not None:
                not_dates.append((offset + m.start(), offset + m.end()))
            continue
        value = _date_value(m, seg, ref, ref_year, wd_ref, lang)
        if value is False:
            continue
        s0 = m.start("y4") if m.group("y4") else m.start()
        end = m.end()
        if seg[end - 1] == "." and (m.group("m1") or "").lower() not in MONTH_ABBREVIATIONS:
            end -= 1  # "on 3 December." ends a sentence: the full stop is not part of the date
        add(s0, end, "DATE", value or None)
    return out


def closest_year(month: int, day: int, ref: date) -> int:
    best = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if best is None or abs((d - ref).days) < abs((best - ref).days):
            best = d
    return best.year if best else ref.year


def _date_value(m: re.Match, seg: str, ref: date | None, ref_year: int | None, wd_ref: date | None,
                lang: str | None = None):
    """ISO value, None when unresolvable, False when the match is not a date."""
    g = m.groupdict()
    if g["iso"]:
        try:
            date.fromisoformat(g["iso"])
        except ValueError:
            return False
        return g["iso"]
    if g["m1"] or g["m2"]:
        mon = MONTHS[(g["m1"] or g["m2"]).lower()]
        day = int(g["d1"] or g["d2"])
        year = g["y1"] or g["y2"]
        if not 1 <= day <= 31:
            return False
        if year:
            y = int(year)
        elif ref:
            y = closest_year(mon, day, ref)
        elif ref_year:
            y = ref_year
        else:
            return None
        try:
            return date(y, mon, day).isoformat()
        except ValueError:
            return False
    if g["m3"]:
        word = g["m3"]
        if not g["y3"] and (word.lower() in _AMBIGUOUS_MONTHS or word[0].islower() and word.lower() in {"may", "march"}):
            return False
        if not g["y3"] and not word[0].isupper() and word.lower() in {"march", "may"}:
            return False
        mon = MONTHS[word.lower()]
        if g["y3"]:
            return f"{int(g['y3']):04d}-{mon:02d}"
        if ref:
            d = date(ref.year, mon, 1)
            y = ref.year - 1 if (d - ref).days > 183 else ref.year + 1 if (ref - d).days > 183 else ref.year
            return f"{y:04d}-{mon:02d}"
        return f"{ref_year:04d}-{mon:02d}" if ref_year else None
    if g["wd"]:
        ref = wd_ref
        if ref is None:
            return None
        wd = WEEKDAYS[g["wd"].lower()]
        before = seg[max(0, m.start() - 120): m.start()]
        if _NEXT.search(before) or _NEXT_AFTER.match(seg, m.end()):
            delta = (wd - ref.weekday()) % 7 or 7
            return (ref + timedelta(days=delta)).isoformat()
        if not (_LAST.search(before) or _LAST_AFTER.match(seg, m.end())) and _FUTURE.get(lang or "", _FUTURE_ANY).search(before):
            return (ref + timedelta(days=(wd - ref.weekday()) % 7)).isoformat()
        delta = (ref.weekday() - wd) % 7
        return (ref - timedelta(days=delta)).isoformat()
    if g["y4"]:
        return g["y4"]
    return False


# "the Sunday Times", "Monday Night Football": a capitalised weekday directly
# followed by a capitalised word is part of a name, unless that word is one a
# date can be followed by in title-case headlines ("Quit On Wednesday After
# Scandal", "Clashes Erupt Monday Night") or the weekday follows a word that
# makes it a date ("On Wednesday Nissan said"). Not for German, where every
# noun is capitalised ("am Mittwoch Gespräche").
_NEXT_WORD = re.compile(r" ([A-ZÀ-Þ][a-zà-ÿ'’]+)(?: ([A-ZÀ-Þ])?)?")
_PREV_WORD = re.compile(r"(\w+)\W{1,2}$")
_DATE_FOLLOWERS = frozenset(
    "after against ahead amid and as at before but by despite during following for from in into of on or over "
    "since than the to under until upon via vs with without while when where who which that".split()
)
_TIMES_OF_DAY = frozenset(
    "morning afternoon evening night noon midday midnight matin soir après-midi mañana tarde noche mattina "
    "pomeriggio sera".split()
)
_DATE_PRECEDERS = frozenset(
    "on by until till since from last next this every each early late before after through le ce dès depuis "
    "jusqu au du al el este hasta desde il lo dal entro seit bis op sinds tot vanaf em no na até".split()
)


def _weekday_in_name(m: re.Match, seg: str, lang: str | None) -> bool:
    word = m.group("wd")
    if lang == "de" or not (word[0].isupper() and word[1:].islower()):
        return False
    nxt = _NEXT_WORD.match(seg, m.end())
    if not nxt:
        return False
    after = nxt.group(1).lower()
    if after in MONTHS or after in WEEKDAYS or after in _DATE_FOLLOWERS:
        return False
    if after in _TIMES_OF_DAY and not nxt.group(2):
        return False  # "Monday Night" is a date, "Monday Night Football" a name
    prev = _PREV_WORD.search(seg, max(0, m.start() - 30), m.start())
    return not (prev and prev.group(1).lower() in _DATE_PRECEDERS)


def estimate_reference(segments: list[tuple[int, str]], year: int) -> date | None:
    """Latest day-month mentioned in the story, placed in ``year``."""
    best = None
    for _, seg in segments:
        for m in find_dates(seg):
            g = m.groupdict()
            if not (g["m1"] or g["m2"]) or (g["y1"] or g["y2"]) and int(g["y1"] or g["y2"]) != year:
                continue
            try:
                d = date(year, MONTHS[(g["m1"] or g["m2"]).lower()], int(g["d1"] or g["d2"]))
            except ValueError:
                continue
            best = d if best is None or d > best else best
    return best
