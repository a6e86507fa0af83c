"""Bearer tokens and the sources each may publish.

    WIRESTREAM_API_TOKENS="tokenA=AFP,Reuters;tokenB=*"
    WIRESTREAM_API_TOKEN="tokenC"            (any source, as before)

A story's id is the hash of its provider and guid, so whoever may publish a
provider's name may replace or kill that provider's stories. A token bound to
sources may publish only stories whose source is one of them (compared as story
ids compare providers: case, width and spacing folded).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from shared.contract import provider_key

ANY_SOURCE = "*"


@dataclass(frozen=True)
class TokenGrant:
    token: str
    sources: frozenset[str] | None  # provider keys; None: any source


class TokenTable:
    def __init__(self, grants: list[TokenGrant]) -> None:
        self.grants = grants

    @classmethod
    def from_settings(cls, api_token: str | None, api_tokens: str | None) -> "TokenTable":
        grants = parse_api_tokens(api_tokens)
        if api_token:
            grants.append(TokenGrant(api_token, None))
        return cls(grants)

    @property
    def required(self) -> bool:
        return bool(self.grants)

    def grant_for(self, presented: str) -> TokenGrant | None:
        """The grant whose token matches, compared in constant time against every token."""
        found = None
        for grant in self.grants:
            if hmac.compare_digest(presented.encode(), grant.token.encode()):
                found = grant
        return found


def parse_api_tokens(value: str | None) -> list[TokenGrant]:
    """'tokenA=AFP,Reuters;tokenB=*' -> grants; a malformed entry is a ValueError at start-up,
    never a token that silently grants more (or less) than meant."""
    grants = []
    for entry in (value or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        token, equals, sources_text = entry.rpartition("=")
        token = token.strip()
        if not equals or not token:
            raise ValueError("api_tokens entry must be 'token=SOURCE,SOURCE' or 'token=*' "
                             f"(got one of {len(entry)} characters without a token or '=')")
        sources = [source.strip() for source in sources_text.split(",") if source.strip()]
        if not sources:
            raise ValueError("api_tokens entry names no source; use '*' for any source")
        any_source = ANY_SOURCE in sources
        grants.append(TokenGrant(token, None if any_source else frozenset(provider_key(s) for s in sources)))
    return grants
