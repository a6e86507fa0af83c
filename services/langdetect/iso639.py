"""ISO 639 code handling for language identification.

``to_iso(label)`` turns a fastText lid.176 label into our output code: ISO 639-1
where the language has one, ISO 639-3 otherwise. Most fastText labels already
are 639-1; the exceptions are Wikipedia-style codes that are *not* (or not the
right) ISO codes: ``als`` is Alemannic in fastText (ISO 639-3 ``gsw``; ISO
``als`` is Tosk Albanian), ``bh`` (Bihari, 639-2 collective ``bih``), ``eml``
(Emilian-Romagnol, retired; ``egl``), ``sh`` (Serbo-Croatian, deprecated 639-1;
macrolanguage ``hbs``), ``nah`` (Nahuatl, collective, kept).

``acceptable(iso639_3)`` gives the set of output codes that count as correct for
a gold ISO 639-3 code: its 639-1 code, its macrolanguage's (cmn -> zh,
arb -> ar, pes -> fa, nob -> nb/no, ...), or the code itself.
"""

from __future__ import annotations

# ISO 639-1 -> ISO 639-3 (individual or macrolanguage code).
ISO1_TO_3: dict[str, str] = {
    "aa": "aar", "ab": "abk", "ae": "ave", "af": "afr", "ak": "aka", "am": "amh", "an": "arg",
    "ar": "ara", "as": "asm", "av": "ava", "ay": "aym", "az": "aze", "ba": "bak", "be": "bel",
    "bg": "bul", "bi": "bis", "bm": "bam", "bn": "ben", "bo": "bod", "br": "bre", "bs": "bos",
    "ca": "cat", "ce": "che", "ch": "cha", "co": "cos", "cr": "cre", "cs": "ces", "cu": "chu",
    "cv": "chv", "cy": "cym", "da": "dan", "de": "deu", "dv": "div", "dz": "dzo", "ee": "ewe",
    "el": "ell", "en": "eng", "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "fas",
    "ff": "ful", "fi": "fin", "fj": "fij", "fo": "fao", "fr": "fra", "fy": "fry", "ga": "gle",
    "gd": "gla", "gl": "glg", "gn": "grn", "gu": "guj", "gv": "glv", "ha": "hau", "he": "heb",
    "hi": "hin", "ho": "hmo", "hr": "hrv", "ht": "hat", "hu": "hun", "hy": "hye", "hz": "her",
    "ia": "ina", "id": "ind", "ie": "ile", "ig": "ibo", "ii": "iii", "ik": "ipk", "io": "ido",
    "is": "isl", "it": "ita", "iu": "iku", "ja": "jpn", "jv": "jav", "ka": "kat", "kg": "kon",
    "ki": "kik", "kj": "kua", "kk": "kaz", "kl": "kal", "km": "khm", "kn": "kan", "ko": "kor",
    "kr": "kau", "ks": "kas", "ku": "kur", "kv": "kom", "kw": "cor", "ky": "kir", "la": "lat",
    "lb": "ltz", "lg": "lug", "li": "lim", "ln": "lin", "lo": "lao", "lt": "lit", "lu": "lub",
    "lv": "lav", "mg": "mlg", "mh": "mah", "mi": "mri", "mk": "mkd", "ml": "mal", "mn": "mon",
    "mr": "mar", "ms": "msa", "mt": "mlt", "my": "mya", "na": "nau", "nb": "nob", "nd": "nde",
    "ne": "nep", "ng": "ndo", "nl": "nld", "nn": "nno", "no": "nor", "nr": "nbl", "nv": "nav",
    "ny": "nya", "oc": "oci", "oj": "oji", "om": "orm", "or": "ori", "os": "oss", "pa": "pan",
    "pi": "pli", "pl": "pol", "ps": "pus", "pt": "por", "qu": "que", "rm": "roh", "rn": "run",
    "ro": "ron", "ru": "rus", "rw": "kin", "sa": "san", "sc": "srd", "sd": "snd", "se": "sme",
    "sg": "sag", "si": "sin", "sk": "slk", "sl": "slv", "sm": "smo", "sn": "sna", "so": "som",
    "sq": "sqi", "sr": "srp", "ss": "ssw", "st": "sot", "su": "sun", "sv": "swe", "sw": "swa",
    "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha", "ti": "tir", "tk": "tuk", "tl": "tgl",
    "tn": "tsn", "to": "ton", "tr": "tur", "ts": "tso", "tt": "tat", "tw": "twi", "ty": "tah",
    "ug": "uig", "uk": "ukr", "ur": "urd", "uz": "uzb", "ve": "ven", "vi": "vie", "vo": "vol",
    "wa": "wln", "wo": "wol", "xh": "xho", "yi": "yid", "yo": "yor", "za": "zha", "zh": "zho",
    "zu": "zul",
}
ISO3_TO_1: dict[str, str] = {v: k for k, v in ISO1_TO_3.items()}

# Individual languages (ISO 639-3) -> the 639-1 code of their macrolanguage,
# and a few variant codes found in corpora.
MACRO_TO_1: dict[str, str] = {
    "cmn": "zh", "arb": "ar", "pes": "fa", "prs": "fa", "zlm": "ms", "zsm": "ms", "mly": "ms",
    "swh": "sw", "swc": "sw", "ekk": "et", "lvs": "lv", "ltg": "lv", "khk": "mn", "uzn": "uz",
    "uzs": "uz", "azj": "az", "azb": "az", "plt": "mg", "ydd": "yi", "yih": "yi", "gug": "gn",
    "ayr": "ay", "knc": "kr", "ojb": "oj", "gax": "om", "gaz": "om", "pbu": "ps", "pbt": "ps",
    "quz": "qu", "quy": "qu", "qug": "qu", "qud": "qu", "qva": "qu", "qvc": "qu", "qvh": "qu",
    "qvm": "qu", "qvn": "qu", "qwh": "qu", "qxa": "qu", "qxn": "qu", "qxu": "qu", "fri": "fy",
    "kmr": "ku", "ckb": "ku", "sdh": "ku", "npi": "ne", "ory": "or", "als": "sq", "aln": "sq",
    "tw": "ak", "twi": "ak", "fat": "ak", "nob": "no", "nno": "no", "lus": "lus", "nhn": "nah",
    "fuc": "ff", "fuf": "ff", "hbs": "sh", "bos": "sh", "hrv": "sh", "srp": "sh", "pnb": "pa",
    "kng": "kg", "ktu": "kg", "mhr": "mhr",
}

# fastText lid.176 labels that are not ISO codes (or not the right ones).
FASTTEXT_TO_ISO: dict[str, str] = {"als": "gsw", "bh": "bih", "eml": "egl", "sh": "hbs"}


def to_iso(label: str) -> str:
    """Output code for a fastText label: 639-1 where one exists, else 639-3."""
    label = label.replace("__label__", "").strip().lower()
    if label in FASTTEXT_TO_ISO:
        return FASTTEXT_TO_ISO[label]
    if len(label) == 3 and label in ISO3_TO_1:
        return ISO3_TO_1[label]
    return label


def normalise_code(code: str | None) -> str | None:
    """Normalise a declared language tag ('en-GB', 'eng', 'FR') to our output code."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-")[0].lower()
    if not base:
        return None
    if len(base) == 3:
        return ISO3_TO_1.get(base, MACRO_TO_1.get(base, base))
    return base


def acceptable(gold_iso639_3: str) -> set[str]:
    """Codes that count as a correct answer for a gold ISO 639-3 code."""
    g = gold_iso639_3.strip().lower()
    ok = {g}
    if g in ISO3_TO_1:
        ok.add(ISO3_TO_1[g])
    if g in MACRO_TO_1:
        macro = MACRO_TO_1[g]
        ok.add(macro)
        if macro in ISO1_TO_3:
            ok.add(ISO1_TO_3[macro])
    if g in ("nob",):
        ok.add("nb")
    if g in ("nno",):
        ok.add("nn")
    if ok & {"sh", "hbs"}:
        ok |= {"sh", "hbs"}
    if g in ("ckb", "kmr"):
        ok.add(g)
    return ok
