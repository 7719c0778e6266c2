"""The one bounded download: every body fetched on a caller's behalf, read up to a cap, in time.

    fetched = await fetch(ctx, url, cap=OCSP_CAP, timeout_s=5.0, method="POST", content=der)
    if fetched.truncated:
        ...  # a finding saying `fetched.over_cap`, never a parse of the first `cap` bytes
    judge(fetched.status_code, fetched.body)

CRLs and OCSP answers (ssl-monitor), MTA-STS policies, RDAP records and DNS-over-HTTPS answers
(dns-monitor) come from servers a target names, so they are read under these rules:

1. Every connection goes through the context's guarded client (`httpclient.guarded_client`): the
   network policy on every address dialled, redirect hops included; the per-host rate limit; the
   context's resolver. Environment proxies are ignored.
2. The body is streamed and reading stops at `cap` bytes: no more than `cap` bytes of it (and the
   chunk that crossed the cap) are ever held, and the rest is not read; the connection is closed,
   not drained. `truncated` says that the server had more to send than the cap. Callers turn that
   into a failure of the fetch with `over_cap`: a cut CRL or policy is never parsed.
3. One deadline for the whole transfer: `timeout_s` bounds the lookup, the connection, the
   request, every redirect hop and the whole body together, not each read, so a body trickled a
   byte at a time ends at the deadline. Running out of time raises `FetchTimeout`, an
   `httpx2.TimeoutException` whose message says how much had arrived.
4. The body is asked for and read as it is sent (`Accept-Encoding: identity`): the cap counts the
   bytes on the wire, so a small compressed body cannot unpack to gigabytes. A body sent with a
   content encoding anyway is refused with `httpx2.DecodingError`.
5. Redirects are followed only when asked, at most `max_redirects`, by hand: a redirect's own
   body is never read (httpx2 would read it whole before following).
6. The messages written here (`over_cap`, `FetchTimeout`, the encoded body's error) show URLs with
   their userinfo hidden (`targets.redact_url`): they end up in findings.
7. Any status is a result (`status_code`), not an error. Errors: `PolicyError`,
   `netpolicy.ResolutionError` and `ratelimit.RateLimited` propagate unchanged, as from the
   guarded client; other transport failures are `httpx2.HTTPError` (`FetchTimeout` included).

`read_capped(chunks, cap)` is rule 2 on its own. http-monitor's hop-by-hop walk reads response
bodies with it rather than through `fetch`, because there the body is the thing checked rather
than a download: the walk follows redirects itself on its shared pool, times each phase against
the check's own deadline, asserts on the decoded body, and a body over the cap is a warning of
the check (`body_truncated`), not a failed fetch.

The caps of each kind of download are declared here, with why each is what it is.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio
import httpx2

from monitor_common.targets import redact_url

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = [
    "CRL_CAP",
    "DOH_CAP",
    "MTA_STS_CAP",
    "OCSP_CAP",
    "RDAP_CAP",
    "FetchTimeout",
    "Fetched",
    "fetch",
    "read_capped",
    "size_text",
]

DOH_CAP: Final = 65535
"""A DNS message is at most 65535 bytes (its length is a 16-bit field over TCP, RFC 1035 4.2.2)."""
MTA_STS_CAP: Final = 64 * 1024
"""An MTA-STS policy is a few short lines (RFC 8461 3.2): 64 KiB holds hundreds of `mx:` lines."""
RDAP_CAP: Final = 512 * 1024
"""A domain's RDAP record is a few KiB, tens with many entities and notices; the bootstrap file ~40 KiB."""
CRL_CAP: Final = 10 * 1024 * 1024
"""The public CAs partition their CRLs, which are then usually well under a few MB; 10 MiB leaves
room for a large unpartitioned one while a check's memory stays bounded (it is parsed whole)."""
OCSP_CAP: Final = 64 * 1024
"""An OCSP response is one signed status, a few KiB even with a delegated responder's certificate."""

# The phase timeouts end a little before the deadline, so that httpcore2 times out a stalled
# connect or handshake itself and closes what it opened (it leaks the socket of a TLS handshake
# cancelled from outside); the deadline's cancel scope stays the backstop (rule 3).
_MARGIN_S = 0.05


class FetchTimeout(httpx2.TimeoutException):
    """The transfer did not finish within its deadline (the message says how far it got)."""


@dataclass(frozen=True)
class Fetched:
    """A response as far as it was read: at most `cap` bytes of body, `truncated` if more came."""

    url: str
    status_code: int
    headers: httpx2.Headers
    body: bytes
    truncated: bool
    cap: int

    @property
    def over_cap(self) -> str:
        """What to say when `truncated`: the body was larger than this fetch reads."""
        return f"{redact_url(self.url)} sent more than {size_text(self.cap)}, the most read for it; reading stopped there"

    @property
    def text(self) -> str:
        """The body as text (the charset of its Content-Type, else UTF-8; bad bytes replaced)."""
        charset = httpx2.Response(self.status_code, headers=self.headers).charset_encoding or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


def size_text(size: int) -> str:
    """`65535 bytes`, `64 KiB`, `10 MiB`: a cap as a person reads it."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


async def read_capped(chunks: AsyncIterator[bytes], cap: int) -> tuple[bytes, bool]:
    """Read `chunks` until they end or `cap` bytes are in: (the bytes, whether more were sent).

    Stops at the first chunk that crosses the cap and keeps only its part below the cap; a body
    of exactly `cap` bytes is read to its end to tell it from a longer one.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        room = cap - size
        if len(chunk) > room:
            parts.append(chunk[:room])
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False


async def fetch(
    ctx: CheckContext,
    url: str,
    *,
    cap: int,
    timeout_s: float,
    method: str = "GET",
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
    follow_redirects: bool = False,
    max_redirects: int = 5,
) -> Fetched:
    """Fetch `url` through `ctx`, reading at most `cap` body bytes, all within `timeout_s`.

    Defaults: GET without a body, no extra headers, certificates checked against the system's
    CAs (`verify`), redirects not followed (at most 5 when `follow_redirects`). See the module's
    rules for what is raised.

    Raises:
        FetchTimeout: the transfer did not finish within `timeout_s` seconds.
        httpx2.HTTPError: the connection or the exchange failed, or the body came encoded.
        PolicyError, ResolutionError, RateLimited: as from `httpclient.guarded_client`.
    """
    from monitor_common.httpclient import guarded_client

    started = time.monotonic()
    received = _Received()
    request_headers = {"accept-encoding": "identity", **(headers or {})}
    client = guarded_client(ctx, timeout=max(timeout_s - _MARGIN_S, 0.001), verify=verify)
    fetched: Fetched | None = None
    try:
        async with client:
            with anyio.move_on_after(timeout_s):
                fetched = await _transfer(
                    client,
                    client.build_request(method, url, content=content, headers=request_headers),
                    cap=cap,
                    started=started,
                    timeout_s=timeout_s,
                    redirects=max_redirects if follow_redirects else 0,
                    received=received,
                )
    except httpx2.TimeoutException:
        fetched = None  # a phase timed out before the deadline: the same failure, said once below
    if fetched is None:
        size = received.response.num_bytes_downloaded if received.response is not None else 0
        got = f", {size} body bytes received" if size else ""
        raise FetchTimeout(
            f"{redact_url(received.url or url)} did not finish sending within {timeout_s:g} s{got}"
        )
    return fetched


@dataclass
class _Received:
    """How far the transfer got, for the timeout's message."""

    url: str = ""
    response: httpx2.Response | None = None


async def _transfer(
    client: httpx2.AsyncClient,
    request: httpx2.Request,
    *,
    cap: int,
    started: float,
    timeout_s: float,
    redirects: int,
    received: _Received,
) -> Fetched:
    while True:
        received.url = str(request.url)
        # Each hop gets what is left of the one deadline for its phases (rule 3).
        left = max(timeout_s - (time.monotonic() - started) - _MARGIN_S, 0.001)
        request.extensions["timeout"] = httpx2.Timeout(left).as_dict()
        response = await client.send(request, stream=True)
        received.response = response
        try:
            following = response.next_request if redirects > 0 else None
            if following is not None:
                redirects -= 1
                request = following
                continue
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise httpx2.DecodingError(
                    f"{redact_url(str(request.url))} sent a {encoding}-encoded body although none was asked for",
                    request=request,
                )
            body, truncated = await read_capped(response.aiter_raw(), cap)
            return Fetched(
                url=str(request.url),
                status_code=response.status_code,
                headers=response.headers,
                body=body,
                truncated=truncated,
                cap=cap,
            )
        finally:
            await response.aclose()
