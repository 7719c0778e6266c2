"""Pages for the Observatory cross-check, and the child that grades them with both graders.

Run by `test_observatory.py` inside `unshare -rnm` (a network namespace with only loopback and a
private /etc/hosts naming every case host 127.0.0.1), as root of that namespace so it can serve
ports 80 and 443, which the published scanner always dials:

    python observatory_pages.py PACKAGE_DIR NODE VERSION  ->  one JSON object on stdout

It mints a CA and one certificate for every case host, serves each case by its Host header (http
on 80, https on 443), runs the scanner (`scan(host)` of the npm package, trusting the CA through
NODE_EXTRA_CA_CERTS) and http-monitor's `http_security_headers` on every case, and prints both.
Nothing in the namespace has a route out, so neither grader can reach any other host.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SRI = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"
STRONG_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self' https://cdn.example.net; frame-ancestors 'none'",
    ),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]
HSTS = ("Strict-Transport-Security", "max-age=31536000")


@dataclass
class Case:
    """One host: what its https page sends, and how its http side answers.

    http: "upgrade" (301 to https on the same host), "page" (the page itself, no redirect),
    "http-first" (301 to another http URL, then to https), "http-only" (301 to another http URL
    that answers), "offhost:<host>" (301 to https on
    another host), "refuse" (the connection is closed unanswered). https=False fails the TLS
    handshake for this host. `scheme` is the scheme of the URL http-monitor is given.
    """

    headers: list[tuple[str, str]] = field(default_factory=lambda: list[tuple[str, str]]())
    body: str = "<!doctype html><title>t</title><p>hello</p>"
    content_type: str | None = "text/html; charset=utf-8"
    http: str = "upgrade"
    https: bool = True
    cors: str | None = None  # "*" or "reflect" (echo the Origin, allow credentials)
    scheme: str = "https"
    moved: str | None = None  # https / answers 302 to /home with this Set-Cookie; /home is the page


def _page(scripts: str = "", head: str = "") -> str:
    return f"<!doctype html><html><head>{head}<title>t</title>{scripts}</head><body><p>hi</p></body></html>"


CASES: dict[str, Case] = {
    # Everything right: every bonus, A+ over 100.
    "strong.test": Case(
        headers=[*STRONG_HEADERS, ("Set-Cookie", "__Host-sid=1; Secure; HttpOnly; SameSite=Strict; Path=/")],
        body=_page(
            f'<script src="https://cdn.example.net/lib.js" integrity="{SRI}" crossorigin="anonymous"></script>'
            '<script src="/app.js"></script>'
        ),
    ),
    # Nothing at all, and http that never upgrades.
    "absent.test": Case(http="page"),
    # Every header present but weak; a session cookie without Secure; a script over http.
    "weak.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self' 'unsafe-inline' 'unsafe-eval'"),
            ("Strict-Transport-Security", "max-age=300"),
            ("X-Content-Type-Options", "nosnif"),
            ("X-Frame-Options", "ALLOW-FROM https://example.net"),
            ("Referrer-Policy", "unsafe-url"),
            ("Cross-Origin-Resource-Policy", "bogus"),
            ("Set-Cookie", "sessionid=abc; Path=/"),
        ],
        body=_page('<script src="http://cdn.example.net/x.js"></script>'),
        http="http-first",
    ),
    # CSP families: unsafe-eval; X-Frame-Options alone (its modifier changed after 1.4.8).
    # A cookie without Secure under HSTS, CORP same-site, a foreign https script without integrity.
    "csp-eval.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-eval'"),
            HSTS,
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cross-Origin-Resource-Policy", "same-site"),
            ("Set-Cookie", "theme=dark; SameSite=Lax"),
        ],
        body=_page('<script src="https://cdn.example.net/x.js"></script>'),
    ),
    # Insecure passive sources, an HSTS header sent twice, a referrer list ending unsafe, a cookie
    # without Secure (and no valid HSTS).
    "csp-passive.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self'; img-src http:"),
            ("Strict-Transport-Security", "max-age=63072000"),
            ("Strict-Transport-Security", "max-age=1"),
            ("Referrer-Policy", "no-referrer, unsafe-url"),
            ("Cross-Origin-Resource-Policy", "cross-origin"),
            ("Set-Cookie", "pref=1; SameSite=Lax"),
        ],
    ),
    # Report-only CSP earns nothing; a <meta> referrer counts; an invalid SameSite; a bad XFO.
    "csp-report.test": Case(
        headers=[
            ("Content-Security-Policy-Report-Only", "default-src 'self'"),
            HSTS,
            ("Set-Cookie", "pref=1; Secure; SameSite=Bogus"),
            ("X-Frame-Options", "bogus"),
        ],
        body=_page(head='<meta name="referrer" content="strict-origin">'),
    ),
    # A CSP in <meta> only, with 'strict-dynamic' and a nonce (which void 'unsafe-inline' and https:).
    "csp-meta.test": Case(
        headers=[HSTS, ("X-Content-Type-Options", "nosniff")],
        body=_page(
            head='<meta http-equiv="Content-Security-Policy" content="script-src \'nonce-abc\' '
            "'strict-dynamic' 'unsafe-inline' https:; object-src 'none'; base-uri 'none'\">"
        ),
    ),
    # A directive repeated: the policy is invalid.
    # ... a cookie with Secure but no SameSite, a local script with integrity.
    "csp-invalid.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self'; default-src 'none'"),
            HSTS,
            ("Set-Cookie", "theme=1; Secure"),
        ],
        body=_page(f'<script src="/app.js" integrity="{SRI}"></script>'),
    ),
    # An http: script source, an invalid referrer policy, a session cookie without HttpOnly, a
    # script from the same site's CDN, http that redirects only to http.
    "mixed.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self'; script-src 'self' http://cdn.example.net"),
            HSTS,
            ("Referrer-Policy", "bogus"),
            ("Set-Cookie", "sessionid=1; Secure; SameSite=Lax"),
        ],
        body=_page('<script src="https://cdn.mixed.test/a.js"></script>'),
        http="http-only",
    ),
    # Cookies: anti-CSRF without SameSite, an invalid SameSite, a __Secure- cookie without Secure
    # (which the jar drops).
    "cookies.test": Case(
        headers=[
            HSTS,
            ("Set-Cookie", "csrftoken=1; Secure; Path=/"),
            ("Set-Cookie", "pref=1; Secure; SameSite=Bogus"),
            ("Set-Cookie", "__Secure-x=1; Path=/"),
        ],
    ),
    # A login cookie without Secure, but the host has HSTS; CORS open to all.
    "cookies-hsts.test": Case(
        headers=[
            ("Strict-Transport-Security", "max-age=63072000"),
            ("Set-Cookie", "loginid=1; HttpOnly; Path=/"),
            ("Set-Cookie", "theme=dark; Secure; HttpOnly"),
        ],
        cors="*",
    ),
    # CORS reflecting the Origin with credentials.
    "cors.test": Case(headers=[*STRONG_HEADERS], cors="reflect"),
    # http redirects to https on another host first.
    "offhost.test": Case(headers=[HSTS], http="offhost:strong.test"),
    # No https at all: the page is graded over http.
    "nohttps.test": Case(
        headers=[("X-Frame-Options", "DENY"), ("Set-Cookie", "sess=1; HttpOnly; SameSite=Lax")],
        http="page",
        https=False,
        scheme="http",
    ),
    # No http at all; protocol-relative scripts with integrity.
    "nohttp.test": Case(
        headers=[HSTS, ("Content-Security-Policy", "default-src 'self'; report-uri /a; report-uri /b")],
        http="refuse",
        body=_page(f'<script src="//cdn.example.net/x.js" integrity="{SRI}"></script>'),
    ),
    # Two CSP headers (Node joins them with ", "), a quoted max-age (NaN to the scanner: passes),
    # a cookie for another domain (refused by the jar) and one set by a redirect of the https chain.
    "edge.test": Case(
        headers=[
            ("Content-Security-Policy", "default-src 'self'"),
            ("Content-Security-Policy", "script-src 'self'"),
            ("Strict-Transport-Security", 'max-age="31536000"'),
            ("Set-Cookie", "sid=1; Secure; HttpOnly; SameSite=Lax; Domain=other.example"),
        ],
        moved="__Host-pref=1; Secure; Path=/; SameSite=Lax",
    ),
    # A certificate without this name: both graders go on without verifying, and fail HSTS and
    # redirection for it.
    "badcert.test": Case(headers=[*STRONG_HEADERS]),
    # No Content-Type: not HTML to 1.4.8's SRI test; a foreign https script without integrity.
    "notype.test": Case(
        headers=[HSTS], content_type=None, body=_page('<script src="https://cdn.example.net/x.js"></script>')
    ),
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "pages"
    sys_version = ""
    tls = False

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _case(self) -> tuple[str, Case]:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        return host, CASES[host]

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _plain(self, host: str, case: Case) -> bool:
        """The http side; True when it answered."""
        if self.tls:
            return False
        if case.http == "refuse":
            self.close_connection = True
            self.connection.close()
            return True
        if case.http == "upgrade":
            self._send(301, [("Location", f"https://{host}{self.path}")])
        elif case.http == "http-first":
            if self.path == "/":
                self._send(301, [("Location", f"http://{host}/step")])
            else:
                self._send(301, [("Location", f"https://{host}/")])
        elif case.http == "http-only" and self.path == "/":
            self._send(301, [("Location", f"http://{host}/plain")])
        elif case.http == "http-only":
            self._send(200, [("Content-Type", "text/html")], b"<p>plain</p>")
        elif case.http.startswith("offhost:"):
            self._send(301, [("Location", f"https://{case.http.split(':', 1)[1]}/")])
        else:
            return False
        return True

    def do_GET(self) -> None:
        host, case = self._case()
        if self._plain(host, case):
            return
        if case.moved is not None and self.path == "/":
            self._send(302, [("Location", "/home"), ("Set-Cookie", case.moved)])
            return
        if self.path != ("/home" if case.moved is not None else "/"):
            self._send(404, [("Content-Type", "text/plain")], b"not found")
            return
        headers = list(case.headers)
        if case.content_type:
            headers.append(("Content-Type", case.content_type))
        self._send(200, headers, case.body.encode())

    do_HEAD = do_GET

    def do_OPTIONS(self) -> None:
        host, case = self._case()
        if self._plain(host, case):
            return
        headers: list[tuple[str, str]] = []
        if case.cors == "*":
            headers.append(("Access-Control-Allow-Origin", "*"))
        elif case.cors == "reflect":
            headers += [
                ("Access-Control-Allow-Origin", self.headers.get("Origin") or ""),
                ("Access-Control-Allow-Credentials", "true"),
            ]
        self._send(204, headers)


class _TlsHandler(_Handler):
    tls = True


def _serve(port: int, handler: type[_Handler], context: ssl.SSLContext | None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


DRIVER = r"""
const [pkg, ...hosts] = process.argv.slice(2);
const { scan } = await import(pkg + "/src/index.js");
const out = {};
for (const host of hosts) {
  try {
    const r = await scan(host);
    out[host] = { score: r.scan.score, grade: r.scan.grade,
                  tests: Object.fromEntries(Object.entries(r.tests).map(([k, v]) => [k, v.result])) };
  } catch (e) {
    out[host] = { error: String(e && e.message) };
  }
}
console.log(JSON.stringify(out));
"""


async def _ours(ca_pem: str, version: str) -> dict[str, Any]:
    from http_monitor.headers import http_security_headers
    from monitor_common.context import CheckContext
    from monitor_common.netpolicy import NetworkPolicy

    ctx = CheckContext(policy=NetworkPolicy(allow_private=True), timeout_s=10)
    out: dict[str, Any] = {}
    for host, case in CASES.items():
        result = await http_security_headers(  # one per host, as the scanner goes
            f"{case.scheme}://{host}/", ctx, ca_bundle_pem=ca_pem, observatory_version=version
        )
        out[host] = {
            "score": result.score,
            "grade": result.grade,
            "tests": {t.test: t.result for t in result.tests},
            "summary": result.summary,
        }
    return out


def main() -> None:
    package, node, version = sys.argv[1:4]
    from support.certs import CertAuthority

    ca = CertAuthority()
    leaf = ca.issue_leaf([host for host in CASES if host != "badcert.test"])
    context = leaf.server_ssl_context()
    refused = {host for host, case in CASES.items() if not case.https}

    def sni(sock: ssl.SSLObject, name: str, _: ssl.SSLContext) -> int | None:
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if name in refused else None

    context.sni_callback = sni
    _serve(80, _Handler, None)
    _serve(443, _TlsHandler, context)
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca_file.write_text(leaf.ca_pem)
        driver = Path(tmp) / "driver.mjs"
        driver.write_text(DRIVER)
        env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)}
        scanned = subprocess.run(
            [node, str(driver), package, *CASES],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    if scanned.returncode != 0:
        raise SystemExit(f"the scanner failed ({scanned.returncode}): {scanned.stderr[-2000:]}")
    ours = asyncio.run(_ours(leaf.ca_pem, version))
    print(json.dumps({"scanner": json.loads(scanned.stdout.strip().splitlines()[-1]), "ours": ours}))


if __name__ == "__main__":
    main()
