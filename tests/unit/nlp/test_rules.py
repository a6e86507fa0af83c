from __future__ import annotations

from datetime import date

import pytest

from services.extract.nlp.rules import find_values, parse_number

REF = date(2019, 12, 4)  # a Wednesday


def _vals(text, lang, ref=REF, year=2019):
    return {(m.text, m.label, m.value) for m in find_values(text, 0, lang, ref, year)}


@pytest.mark.parametrize(
    "raw, lang, value",
    [("12,500", "en", 12500), ("634.2", "fr", 634.2), ("10,76", "fr", 10.76), ("1.500", "de", 1500),
     ("1,5", "de", 1.5), ("1 234,5", "fr", 1234.5), ("1,234.5", "en", 1234.5), ("0 , 16", "en", 0.16)],
)
def test_numbers(raw, lang, value):
    assert parse_number(raw, lang) == pytest.approx(value)


def test_money_in_several_languages():
    assert ("634.2 yen", "MONEY", "634.2 JPY") in _vals("the stock fell to 634.2 yen", "en")
    assert ("$1.5 billion", "MONEY", "1500000000 USD") in _vals("a $1.5 billion deal", "en")
    assert ("1,5 milliard d'euros", "MONEY", "1500000000 EUR") in _vals("soit 1,5 milliard d'euros", "fr")
    assert ("1,5 Milliarden Euro", "MONEY", "1500000000 EUR") in _vals("Umsatz von 1,5 Milliarden Euro", "de")
    assert ("3 millones de dólares", "MONEY", "3000000 USD") in _vals("invirtió 3 millones de dólares", "es")


def test_percent_and_quantity():
    assert ("2.96%", "PERCENT", "2.96%") in _vals("fell 2.96% on Monday", "en")
    assert ("12,5 %", "PERCENT", "12.5%") in _vals("une hausse de 12,5 %", "fr")
    assert ("3,2 Prozent", "PERCENT", "3.2%") in _vals("ein Plus von 3,2 Prozent", "de")
    assert ("0 , 16%", "PERCENT", "0.16%") in _vals("declined by 0 , 16%", "en")
    assert ("10,76 millions de véhicules", "QUANTITY", "10760000 véhicules") in _vals(
        "en vendant 10,76 millions de véhicules", "fr")
    assert ("35 km", "QUANTITY", "35 km") in _vals("a 35 km stretch", "en")


def test_dates_resolved_against_the_story_date():
    v = _vals("on Wednesday, on December 1 and on January 14, next Friday, in November 2018", "en")
    assert ("Wednesday", "DATE", "2019-12-04") in v
    assert ("December 1", "DATE", "2019-12-01") in v
    assert ("January 14", "DATE", "2020-01-14") in v
    assert ("Friday", "DATE", "2019-12-06") in v
    assert ("November 2018", "DATE", "2018-11") in v
    f = _vals("mercredi 1er décembre, le 14 janvier 2020", "fr")
    assert ("mercredi", "DATE", "2019-12-04") in f and ("14 janvier 2020", "DATE", "2020-01-14") in f
    assert ("1er décembre", "DATE", "2019-12-01") in f
    assert ("14. Januar 2020", "DATE", "2020-01-14") in _vals("am 14. Januar 2020", "de")
    assert ("2019-12-04", "DATE", "2019-12-04") in _vals("filed 2019-12-04", "en")


def test_weekday_without_reference_has_no_value():
    assert ("Wednesday", "DATE", None) in _vals("said on Wednesday", "en", ref=None, year=None)


def test_may_the_verb_is_not_a_date():
    assert not [v for v in _vals("prices may rise", "en") if v[1] == "DATE"]


_DATE_CASES = [
    "On Wednesday, December 4, 2019 the board met; 4 décembre 2019, le 3 mars, mardi prochain.",
    "Am 3. März 2020 und seit 2018, since 2017, jusqu'en 2021, end of 2022, early 1999; in 2019-12-04.",
    "MAY 5 1987 - Shr 28 cts vs 22 cts; x2019-12-04; 2019-12-04x; _May 4; May_ 4; 12th May; 19th; 2019-13-45.",
    "el 5 de mayo de 2020, il 3 ottobre, op 4 december, segunda-feira, quarta-feira 5 de março de 2021",
    "",
    "no dates at all, only words like mayor, market and decent marches",
]


@pytest.mark.parametrize("text", _DATE_CASES)
def test_date_scan_finds_exactly_what_the_regex_finds(text):
    from services.extract.nlp.rules import DATE_RE, find_dates

    expected = [(m.start(), m.end(), m.group()) for m in DATE_RE.finditer(text)]
    assert [(m.start(), m.end(), m.group()) for m in find_dates(text)] == expected


def test_date_scan_agrees_on_the_seed_stories():
    from services.extract.nlp.rules import DATE_RE, find_dates

    from .conftest import seed_text

    for prefix in ("000", "001"):
        text = seed_text(prefix)
        expected = [(m.start(), m.end()) for m in DATE_RE.finditer(text)]
        assert expected, "the seed stories mention dates"
        assert [(m.start(), m.end()) for m in find_dates(text)] == expected


# --- Chinese and Japanese: numbers right after a CJK character ----------------

@pytest.mark.parametrize("text, lang, expected", [
    ("日产股价下跌2.96%，至634.2日元。", "zh", {("2.96%", "PERCENT", "2.96%"), ("634.2日元", "MONEY", "634.2 JPY")}),
    ("日産株は2.96%安の634.2円で取引を終えた", "ja", {("2.96%", "PERCENT", "2.96%"), ("634.2円", "MONEY", "634.2 JPY")}),
    ("营收320亿美元", "zh", {("320亿美元", "MONEY", "32000000000 USD")}),
    ("营收634.2亿元", "zh", {("634.2亿元", "MONEY", "63420000000 CNY")}),
    ("売上高は100万円", "ja", {("100万円", "MONEY", "1000000 JPY")}),
    ("欧元区下跌2.5％", "zh", {("2.5％", "PERCENT", "2.5%")}),
    ("売上高は5億ユーロ", "ja", {("5億ユーロ", "MONEY", "500000000 EUR")}),
])
def test_cjk_numbers_currencies_and_scales(text, lang, expected):
    assert _vals(text, lang) == expected


def test_numbers_still_do_not_start_inside_latin_words_or_numbers():
    assert _vals("the A320 and version 1.5.2 at x2.5%", "en") == set()
    assert ("3%", "PERCENT", "3%") in _vals("Airbus A320 deliveries rose 3%", "en")


# --- "0 , 16%" is a spaced decimal comma only before a percent sign ----------

def test_spaced_comma_is_a_list_separator_unless_a_percentage_follows():
    v = _vals("in 1996 , 12 percent of voters and 3 , 40 dollars", "en")
    assert ("12 percent", "PERCENT", "12%") in v and ("40 dollars", "MONEY", "40 USD") in v
    assert not [x for x in v if x[0].startswith(("1996 ,", "3 ,"))]
    assert ("0 , 16%", "PERCENT", "0.16%") in _vals("declined by 0 , 16%", "en")


def test_one_letter_scales_count_for_money_but_not_before_a_noun():
    assert not [x for x in _vals("a 3 m drop and 5 k runners", "en") if x[1] == "QUANTITY"]
    v = _vals("a $3m deal for 3 million shares", "en")
    assert ("$3m", "MONEY", "3000000 USD") in v and ("3 million shares", "QUANTITY", "3000000 shares") in v


# --- weekdays: past by default, the next one after a future cue -------------

THURSDAY = date(2019, 12, 5)


def _dates(text, lang):
    return {(m.text, m.value) for m in find_values(text, 0, lang, THURSDAY, 2019) if m.label == "DATE"}


@pytest.mark.parametrize("text, lang, day, value", [
    ("The board will meet on Wednesday.", "en", "Wednesday", "2019-12-11"),
    ("The board met on Wednesday.", "en", "Wednesday", "2019-12-04"),
    ("Results are due to be published on Friday.", "en", "Friday", "2019-12-06"),
    ("Nissan's board plans to vote on Thursday.", "en", "Thursday", "2019-12-05"),
    ("Nissan said on Wednesday it will cut jobs.", "en", "Wednesday", "2019-12-04"),
    ("Seki, who will join Nidec, resigned on Wednesday.", "en", "Wednesday", "2019-12-04"),
    ("He will explain what happened last Wednesday.", "en", "Wednesday", "2019-12-04"),
    ("Le conseil doit se réunir mercredi.", "fr", "mercredi", "2019-12-11"),
    ("Le conseil se réunira mercredi.", "fr", "mercredi", "2019-12-11"),
    ("Le conseil se réunit mercredi prochain.", "fr", "mercredi", "2019-12-11"),
    ("Le conseil s'est réuni mercredi.", "fr", "mercredi", "2019-12-04"),
    ("Der Vorstand wird am Mittwoch entscheiden.", "de", "Mittwoch", "2019-12-11"),
    ("Der Vorstand hat am Mittwoch entschieden.", "de", "Mittwoch", "2019-12-04"),
    ("El consejo se reunirá el miércoles.", "es", "miércoles", "2019-12-11"),
    ("El consejo se reunió el miércoles.", "es", "miércoles", "2019-12-04"),
    ("Il consiglio si riunirà mercoledì.", "it", "mercoledì", "2019-12-11"),
])
def test_weekday_direction(text, lang, day, value):
    assert (day, value) in _dates(text, lang)


# --- weekdays inside names -----------------------------------------------------

@pytest.mark.parametrize("text, name_day", [
    ("He told the Sunday Times on Monday.", "Sunday"), ("Seki spoke to the Sunday Telegraph.", "Sunday"),
    ("Monday Night Football drew fans.", "Monday"), ("Britain's Sunday Express said so.", "Sunday"),
])
def test_weekday_starting_a_name_is_not_a_date(text, name_day):
    not_dates = []
    found = {m.text for m in find_values(text, 0, "en", THURSDAY, 2019, not_dates=not_dates) if m.label == "DATE"}
    assert name_day not in found
    assert [text[a:b] for a, b in not_dates] == [name_day]  # reported, so a model DATE there is dropped too
    if "on Monday" in text:
        assert "Monday" in found


@pytest.mark.parametrize("text, lang, day", [
    ("On Wednesday Nissan said it would cut jobs.", "en", "Wednesday"),
    ("Nissan Chief To Quit On Wednesday After Scandal", "en", "Wednesday"),
    ("Clashes erupted Monday Night.", "en", "Monday"),
    ("Wednesday December 4 was chosen.", "en", "Wednesday"),
    ("Merkel hat am Mittwoch Macron getroffen.", "de", "Mittwoch"),
])
def test_weekday_before_a_capitalised_word_can_still_be_a_date(text, lang, day):
    assert day in {d for d, _ in _dates(text, lang)}


@pytest.mark.parametrize("text, lang, span", [
    ("Renault said on 3 December. Nissan agreed.", "en", "3 December"),
    ("Le conseil s'est réuni le 3 décembre. Il a décidé.", "fr", "3 décembre"),
    ("Die Sitzung war am 3. Dezember. Danach sprach er.", "de", "3. Dezember"),
    ("Se reunió el 3 de diciembre. Luego habló.", "es", "3 de diciembre"),
    ("The board met on 3 Dec. and agreed.", "en", "3 Dec."),  # an abbreviation keeps its dot
])
def test_a_full_stop_after_a_month_name_ends_the_sentence_not_the_date(text, lang, span):
    dates = [m for m in find_values(text, 0, lang, REF, 2019) if m.label == "DATE"]
    assert [m.text for m in dates] == [span]
    assert text[dates[0].start:dates[0].end] == span


def test_russian_dates_weekdays_money_and_percentages():
    v = _vals("В среду, 4 декабря 2019 года, компания сообщила о сделке на 12,5 млн рублей; "
              "акции упали на 3,5 процента, а в следующую пятницу совет соберётся снова.", "ru")
    assert ("среду", "DATE", "2019-12-04") in v
    assert ("4 декабря 2019", "DATE", "2019-12-04") in v
    assert ("12,5 млн рублей", "MONEY", "12500000 RUB") in v
    assert ("3,5 процента", "PERCENT", "3.5%") in v
    assert ("пятницу", "DATE", "2019-12-06") in v
    assert ("1,2 млрд долларов", "MONEY", "1200000000 USD") in _vals("инвестиции в 1,2 млрд долларов", "ru")


@pytest.mark.parametrize("text, lang, expected", [
    ("日産は2019年12月3日に発表した。", "ja", ("2019年12月3日", "2019-12-03")),
    ("日産は水曜日に発表した。", "ja", ("水曜日", "2019-12-04")),
    ("会議は1月14日に開かれる。", "ja", ("1月14日", "2020-01-14")),
    ("雷诺周三表示，将于11月召开会议。", "zh", ("周三", "2019-12-04")),
    ("雷诺周三表示，将于11月召开会议。", "zh", ("11月", "2019-11")),
    ("该公司于2018年成立。", "zh", ("2018年", "2018")),
])
def test_chinese_and_japanese_dates(text, lang, expected):
    assert (expected[0], "DATE", expected[1]) in _vals(text, lang)


def test_cjk_dates_without_a_reference_have_no_value():
    assert ("水曜日", "DATE", None) in _vals("日産は水曜日に発表した。", "ja", ref=None, year=None)
    assert ("13月", "DATE", None) not in _vals("13月", "ja")  # no such month: not a date
