"""The desk's query language, parsed by us into an Elasticsearch bool query.

    nissan renault            both words (AND is the default operator)
    "jun seki"                a phrase
    nissan OR renault         either; NOT / -word excludes; ( ) groups; AND, && and || work too
    nissa*                    a word prefix (at the end of a word only)
    headline:nissan           one field: headline, body, byline (text, language-neutral);
    source:AFP lang:fr place:Tokyo format:nitf        exact values (source and place ignore case);
    entity:"Jun Seki"  person:seki  org:nissan  loc:tokyo   stories naming an entity (canonical key)

Words without a field are searched in headline (boosted), body, byline and in the
per-language analysed copy `lang.<code>` (stemming: "réunions" finds "réunion").

Why our own parser and not Elasticsearch's query_string: every user query becomes
match / match_phrase / term / bool queries built here, so no user input can reach
a regexp, a script, a leading wildcard, a field we did not list or any endpoint but
_search. A field that is not listed is refused with 400 naming it and the fields
that exist; so is anything the grammar cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.extract.nlp.normalize import canonical_key
from shared.contract import ENTITY_LABELS

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 8

TEXT_FIELDS = {"headline": ["headline"], "body": ["body"], "byline": ["byline"]}
DEFAULT_TEXT_FIELDS = ["headline^2", "body", "byline", "lang.*"]
KEYWORD_FIELDS = {  # name in the query -> (field, case-insensitive)
    "source": ("source", True),
    "lang": ("language", False),
    "language": ("language", False),
    "place": ("dateline.place", True),
    "format": ("format", False),
}
ENTITY_FIELDS = {"entity": None, "person": "PERSON", "org": "ORG", "loc": "LOC"}
KNOWN_FIELDS = sorted([*TEXT_FIELDS, *KEYWORD_FIELDS, *ENTITY_FIELDS])


class QueryError(ValueError):
    """A query the desk refuses; the message says why, for a 400 answer."""


@dataclass(frozen=True)
class Token:
    kind: str  # WORD PHRASE FIELD AND OR NOT PLUS MINUS LPAREN RPAREN
    text: str = ""


_FIELD_WORD = re.compile(r"([A-Za-z_]+):(.*)", re.S)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token("LPAREN" if char == "(" else "RPAREN"))
            i += 1
        elif char == '"':
            close = query.find('"', i + 1)
            if close == -1:
                raise QueryError(f'unclosed quote at character {i + 1}: close the phrase with "')
            tokens.append(Token("PHRASE", query[i + 1:close]))
            i = close + 1
        elif char in "+-!" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] not in "+-!)":
            tokens.append(Token("PLUS" if char == "+" else "NOT"))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            word = query[i:j]
            i = j
            if word in ("AND", "&&"):
                tokens.append(Token("AND"))
            elif word in ("OR", "||"):
                tokens.append(Token("OR"))
            elif word == "NOT":
                tokens.append(Token("NOT"))
            elif match := _FIELD_WORD.fullmatch(word):
                tokens.append(Token("FIELD", match.group(1).lower()))
                if match.group(2):
                    tokens.append(Token("WORD", match.group(2)))
            else:
                tokens.append(Token("WORD", word))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.terms = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> dict:
        node = self.or_expr(None, 0)
        if self.peek() is not None:
            raise QueryError("unbalanced ')' in the query")
        return node

    def or_expr(self, field: str | None, depth: int) -> dict:
        if depth > MAX_DEPTH:
            raise QueryError(f"query nests deeper than {MAX_DEPTH} levels of parentheses")
        options = [self.and_expr(field, depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            if self.peek() is None or self.peek().kind == "RPAREN":
                raise QueryError("OR needs something on its right")
            options.append(self.and_expr(field, depth))
        return options[0] if len(options) == 1 else {"bool": {"should": options, "minimum_should_match": 1}}

    def and_expr(self, field: str | None, depth: int) -> dict:
        must, must_not = [], []
        while (token := self.peek()) is not None and token.kind not in ("OR", "RPAREN"):
            if token.kind == "AND":
                self.take()
                after = self.peek()
                if not must and not must_not:
                    raise QueryError("AND needs something on its left")
                if after is None or after.kind in ("OR", "RPAREN", "AND"):
                    raise QueryError("AND needs something on its right")
                continue
            negated, node = self.unary(field, depth)
            (must_not if negated else must).append(node)
        if not must and not must_not:
            raise QueryError("empty expression: AND, OR or ( ) with nothing to combine")
        if len(must) == 1 and not must_not:
            return must[0]
        return {"bool": {"must": must or [{"match_all": {}}], **({"must_not": must_not} if must_not else {})}}

    def unary(self, field: str | None, depth: int) -> tuple[bool, dict]:
        token = self.peek()
        if token.kind == "NOT":
            self.take()
            if self.peek() is None:
                raise QueryError("NOT needs something after it")
            negated, node = self.unary(field, depth)
            return (not negated), node
        if token.kind == "PLUS":
            self.take()
            if self.peek() is None:
                raise QueryError("+ needs something after it")
        return False, self.primary(field, depth)

    def primary(self, field: str | None, depth: int) -> dict:
        token = self.take() if self.peek() is not None else None
        if token is None:
            raise QueryError("the query ends too early")
        if token.kind == "LPAREN":
            node = self.or_expr(field, depth + 1)
            if self.peek() is None or self.peek().kind != "RPAREN":
                raise QueryError("unbalanced '(' in the query: close it with ')'")
            self.take()
            return node
        if token.kind == "FIELD":
            if field is not None:
                raise QueryError(f"field {token.text}: inside {field}:( ) is not allowed")
            if token.text not in KNOWN_FIELDS:
                raise QueryError(f"unknown field '{token.text}' in the query; fields: {', '.join(KNOWN_FIELDS)} "
                                 '(put text with a colon in quotes: "10:30")')
            if self.peek() is None or self.peek().kind not in ("WORD", "PHRASE", "LPAREN"):
                raise QueryError(f"{token.text}: needs a value")
            return self.primary(token.text, depth)
        if token.kind in ("WORD", "PHRASE"):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise QueryError(f"query has more than {MAX_TERMS} terms")
            return clause(field, token.text, phrase=token.kind == "PHRASE")
        raise QueryError(f"unexpected {token.kind} in the query")


def parse_query(query: str) -> dict | None:
    """The Elasticsearch query for a user's query string (None: match everything)."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(query)} characters long; at most {MAX_QUERY_CHARS}")
    tokens = tokenize(query)
    if not tokens:
        return None
    return _Parser(tokens).parse()


def clause(field: str | None, text: str, phrase: bool = False) -> dict:
    """One word or phrase, for one field (None: the default text fields)."""
    prefix = False
    if not phrase:
        body = text.rstrip("*")
        if "*" in body or "?" in body:
            raise QueryError(f"'{text}': a wildcard works only at the end of a word (nissa*)")
        prefix = body != text
        if prefix and len(body) < 2:
            raise QueryError(f"'{text}': a prefix needs at least two characters")
        text = body
    if not text.strip():
        raise QueryError("empty phrase in the query")
    if field is None or field in TEXT_FIELDS:
        fields = DEFAULT_TEXT_FIELDS if field is None else TEXT_FIELDS[field]
        if prefix:
            kind = "phrase_prefix"
        elif phrase:
            kind = "phrase"
        else:
            kind = "best_fields"
        query: dict = {"query": text, "fields": fields, "type": kind}
        if kind == "best_fields":
            query["operator"] = "and"
        return {"multi_match": query}
    if prefix:
        raise QueryError(f"{field}: takes an exact value, not a prefix")
    if field in KEYWORD_FIELDS:
        name, case_insensitive = KEYWORD_FIELDS[field]
        value = text.lower() if name == "language" else text
        term: dict = {"value": value}
        if case_insensitive:
            term["case_insensitive"] = True
        return {"term": {name: term}}
    return entity_filter(ENTITY_FIELDS[field], text)


def entity_filter(label: str | None, name: str) -> dict:
    """Stories naming an entity: its canonical key (case and accents folded), under one label
    or, without one, under any (the flat `entity_keys.<LABEL>` fields of decision 16)."""
    key = canonical_key(name)
    if label:
        return {"term": {f"entity_keys.{label}": key}}
    return {"bool": {"should": [{"term": {f"entity_keys.{each}": key}} for each in ENTITY_LABELS],
                     "minimum_should_match": 1}}