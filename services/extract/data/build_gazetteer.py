"""Regenerate places.tsv from the Unicode CLDR data that Babel ships.

Development-time only (Babel is not a runtime dependency):
    pip install babel && python services/extract/data/build_gazetteer.py

Writes LOC rows: country/territory names and the CLDR exemplar city names of
time zones, in the languages we process, one ``LABEL<TAB>name`` per line.
CLDR data: Unicode License v3 (https://www.unicode.org/license.txt).
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.dates import get_timezone_location
from babel.core import get_global

LANGS = ["en", "fr", "de", "es", "it", "nl", "pt", "sv", "da", "nb", "fi", "pl", "cs", "ro", "hu", "tr"]
OUT = Path(__file__).with_name("places.tsv")


def main() -> None:
    names: set[str] = set()
    zones = sorted(get_global("zone_territories"))
    for lang in LANGS:
        loc = Locale.parse(lang)
        for code, name in loc.territories.items():
            if code.isalpha() and len(code) == 2 and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}:
                names.add(name)
        for z in zones:
            if "/" not in z or z.startswith(("Etc/", "SystemV/")):
                continue
            try:
                city = get_timezone_location(z, locale=loc, return_city=True)
            except Exception:
                continue
            if city and not any(c.isdigit() for c in city):
                names.add(city)
    rows = sorted(n for n in names if len(n) >= 3 and "(" not in n)
    OUT.write_text("# LOC names from Unicode CLDR via Babel (build_gazetteer.py); Unicode License v3\n"
                   + "".join(f"LOC\t{n}\n" for n in rows), encoding="utf-8")
    print(f"{len(rows)} names -> {OUT}")


if __name__ == "__main__":
    main()
