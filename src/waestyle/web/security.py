"""The headers every answer of `waestyle serve` carries, for the day it is exposed beyond loopback.

The page loads only its own files: scripts, styles, images and the model come from the server itself, results
are blob: URLs, and the in-browser mode compiles WebAssembly ('wasm-unsafe-eval', not 'unsafe-eval') in workers.
Cross-origin isolation (COOP/COEP) lets that mode use threads. FastAPI's /docs and /redoc pages load their
scripts from a CDN with inline code, so they get every header but the page's script policy and isolation.
"""

ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "img-src 'self' blob: data:",
    "connect-src 'self' blob: data:",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])  # fmt: skip
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_DOCS = ("/docs", "/redoc")


def security_headers(path: str) -> dict[str, str]:
    """The headers for an answer to `path`."""
    if path.startswith(API_DOCS):
        return {**ALWAYS, "Content-Security-Policy": "frame-ancestors 'none'"}
    return {**ALWAYS, "Content-Security-Policy": PAGE_POLICY, **ISOLATION_HEADERS}
