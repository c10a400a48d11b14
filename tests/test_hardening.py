"""The server as exposed beyond loopback: security headers, an API key, a rate limit, a time limit."""

import time

import pytest
from fastapi.testclient import TestClient

from waestyle.cli.main import main
from waestyle.stylize.stylizer import Stylizer
from waestyle.web.access import RateLimiter, presented_key
from waestyle.web.app import ServeLimits, create_app

KEY = "a-key-of-twenty-chars"
EXAMPLE = {"content_example": "cat", "style_example": "strokes", "long_side": "48"}


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer.load(max_side=64)


def test_every_answer_carries_the_security_headers(stylizer):
    client = TestClient(create_app(stylizer))
    for path in ("/", "/api/health", "/app.js", "/runtime/ort.wasm.min.mjs", "/no-such-file"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self' 'wasm-unsafe-eval'" in policy
        assert "unsafe-inline" not in policy and headers["cross-origin-embedder-policy"] == "require-corp"
    docs = client.get("/docs").headers  # FastAPI's page loads its scripts from a CDN: no script policy there
    assert docs["x-frame-options"] == "DENY" and "cross-origin-embedder-policy" not in docs
    too_large = client.post("/api/transfer", headers={"content-length": str(2**40)})
    assert too_large.status_code == 413 and too_large.headers["x-content-type-options"] == "nosniff"


def test_an_api_key_guards_the_transfers_only(stylizer):
    client = TestClient(create_app(stylizer, ServeLimits(api_key=KEY)))
    assert client.get("/api/health").json()["auth"] == {"api_key": True}
    refused = client.post("/api/transfer", data=EXAMPLE)
    assert refused.status_code == 401 and "API key" in refused.json()["detail"]
    assert client.post("/api/transfer", data=EXAMPLE, headers={"X-API-Key": KEY + "x"}).status_code == 401
    assert client.post("/api/transfer", data=EXAMPLE, headers={"X-API-Key": KEY}).status_code == 200
    assert client.post("/api/transfer", data=EXAMPLE, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert presented_key({"authorization": "Basic abc"}) is None


def test_a_rate_limit_answers_429_with_retry_after(stylizer):
    client = TestClient(create_app(stylizer, ServeLimits(rate_per_minute=2)))
    codes = [client.post("/api/transfer", data=EXAMPLE).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.post("/api/transfer", data=EXAMPLE)
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and "2 transfers a minute" in refused.json()["detail"]


def test_the_rate_limiter_slides_and_forgets_idle_clients():
    now = [0.0]
    limiter = RateLimiter(2, window=60, max_clients=3, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 60]
    now[0] = 30
    assert limiter.retry_after("a") == 30 and limiter.retry_after("b") == 0
    now[0] = 60.5
    assert limiter.retry_after("a") == 0  # the first two left the window
    for client in "cdef":
        limiter.retry_after(client)
    assert len(limiter._seen) == 3 and "a" not in limiter._seen  # bounded, the longest idle forgotten


def test_a_transfer_over_the_time_limit_answers_503_and_its_slot_frees_when_it_ends(stylizer):
    client = TestClient(create_app(stylizer, ServeLimits(transfer_seconds=0.01, max_concurrent=1)))
    slow = client.post("/api/transfer", data={**EXAMPLE, "refine": "30"})
    assert slow.status_code == 503 and "limit of 0.01 s" in slow.json()["detail"]
    # The next request waits for the one slot, which frees when the abandoned transfer ends: it is answered.
    started = time.monotonic()
    again = client.post("/api/transfer", data={**EXAMPLE, "refine": "30"})
    assert again.status_code == 503 and time.monotonic() - started < 60


def test_serve_refuses_a_short_key_and_bad_limits(capsys):
    assert main(["serve", "--api-key", "short"]) == 1
    assert "at least 16 characters" in capsys.readouterr().err
    assert main(["serve", "--time-limit", "0"]) == 1
    assert "--time-limit must be positive" in capsys.readouterr().err
