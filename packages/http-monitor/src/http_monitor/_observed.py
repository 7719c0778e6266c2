"""What the Observatory's tests read and return: one chain's last response, what the scanner collects
for a host, one test's outcome, and a release's rules. Apart from `observatory` so that the tests
(`_analyzers`) and the scoring that runs them import these one way."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Inputs", "Outcome", "Response", "Rules"]


@dataclass(frozen=True)
class Rules:
    """One release's scoring: its modifiers and the two parsing rules that changed between them."""

    version: str
    modifiers: dict[str, int]
    split_csp_on_commas: bool = True
    untyped_body_is_html: bool = True


@dataclass
class Response:
    """The last response of one request chain, as the scanner keeps it."""

    url: str
    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order

    def values(self, name: str) -> list[str]:
        """The header as Node's http module gives it: repeats joined by ", " (Set-Cookie a list)."""
        found = [value for key, value in self.headers if key == name]
        if name == "set-cookie" or not found:
            return found
        return [found[0]] if name == "content-type" else [", ".join(found)]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


@dataclass
class Inputs:
    """What the scanner collects for one host: the https and http chains, the page, the preflight.

    `auto` is the page graded: the last response of the https chain when https connected, else of
    the http chain; `session_https` says which. `cookies` holds (request URL, Set-Cookie value)
    for every response of that chain, in order. `http_route` holds (URL, status) for every
    response of the http chain, the last included; `http` is None when http did not connect.
    """

    host: str
    auto: Response | None
    session_https: bool
    https: Response | None = None
    http: Response | None = None
    http_route: list[tuple[str, int]] = field(default_factory=lambda: list[tuple[str, int]]())
    cookies: list[tuple[str, str]] = field(default_factory=lambda: list[tuple[str, str]]())
    body: str | None = None
    cors: Response | None = None
    https_verified: bool = True
    http_verified: bool = True


@dataclass
class Outcome:
    """One test's result, as the scanner names it."""

    test: str
    result: str
    passed: bool
    modifier: int = 0
    data: str | None = None
