"""The web page in a real browser: Debian's Chromium driven by Playwright, against a live server."""

import base64
import functools
import http.server
import io
import re
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.stylize.stylizer import Stylizer
from waestyle.web.app import create_app
from waestyle.web.live import live_server
from waestyle.web.static_site import export_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (make test installs Debian's `chromium` when run as root)"
)
# Headless on a machine without network: no sandbox (root), no background connections.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def test_upload_two_images_stylise_and_download(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with live_server(create_app(Stylizer.load(max_side=512))) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.locator("#content-examples img").count() == len(demo_contents())
        page.set_input_files("#content-file", str(demo_contents()[0]))
        page.set_input_files("#style-file", str(demo_styles()[3]))
        page.click("#stylise")
        expect(page.locator("#result")).to_have_attribute("src", re.compile("^blob:"), timeout=60_000)
        assert page.locator("#download").is_visible()
        png = page.evaluate(
            """async () => {
                const blob = await (await fetch(document.getElementById('download').href)).blob();
                const bytes = new Uint8Array(await blob.arrayBuffer());
                let text = ''; for (const b of bytes) text += String.fromCharCode(b);
                return btoa(text);
            }"""
        )
        page.screenshot(path=str(tmp_path / "web-page.png"), full_page=True)
        status = page.text_content("#status")
        # Mix in a bundled style with weights, add a random style, keep colours, double the texture: a new result.
        first = page.get_attribute("#result", "src")
        page.click("#add-style")
        page.click("#style-examples img[data-name=brick]")
        assert page.locator("#style-list li").count() == 2
        page.locator("#style-list input.weight").nth(1).fill("0.5")
        page.check("#random-style")
        page.check("#keep-colors")
        assert page.locator("#style-scale-control").is_visible()  # a spatial model: the texture scale applies
        page.locator("#style-scale").fill("1")  # one octave up: texture twice as large
        assert page.text_content("#style-scale-value") == "2.00"
        page.click("#stylise")
        expect(page.locator("#result")).not_to_have_attribute("src", first, timeout=60_000)
        expect(page.locator("#status")).to_have_text(DONE, timeout=60_000)
        browser.close()
    with Image.open(io.BytesIO(base64.b64decode(png))) as result, Image.open(demo_contents()[0]) as content:
        assert result.format == "PNG" and result.size == content.size
    assert status.startswith("done in")
    with Image.open(tmp_path / "web-page.png") as shot:
        assert shot.size[0] == 1200
    print(f"screenshot: {tmp_path / 'web-page.png'}")


# Waits by Playwright's selectors, not wait_for_function: the server's content policy forbids evaluating strings.
DONE = re.compile(r"^done")
# The page's own result, as base64 PNG bytes.
RESULT_PNG = """async () => {
    const blob = await (await fetch(document.getElementById('result').src)).blob();
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = ''; for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
}"""
# Mean absolute difference to PyTorch's fp32 output, in 8-bit steps: the canvas resizes (to the 512-px working
# size and back, the style to 256 px) where PIL does on the server; the graphs themselves agree to 1e-6.
TOLERANCE = 2.0


def stylise_here(page, content: str, style: str, timeout: int = 120_000) -> tuple[Image.Image, str]:
    """Choose two bundled examples, run the page's in-browser mode, return the result and the status line."""
    from playwright.sync_api import expect

    page.click(f"#content-examples img[data-name={content}]")
    page.click(f"#style-examples img[data-name={style}]")
    page.check("input[name=engine][value=here]")
    assert page.locator("#refine-note").is_visible() and not page.locator("#refine-control").is_visible()
    page.click("#stylise")
    expect(page.locator("#status")).to_have_text(DONE, timeout=timeout)
    png = base64.b64decode(page.evaluate(RESULT_PNG))
    return Image.open(io.BytesIO(png)).convert("RGB"), page.text_content("#status")


def pytorch_reference(content: str, styles: list[str], weights: list[float] | None = None, **controls) -> np.ndarray:
    """The server's transfer (in fp32, through the bundled model's style head) of `content` in a mix of `styles`."""
    stylizer = Stylizer.load(precision="fp32", backend="torch", max_side=768)
    paths = {p.stem: p for p in demo_contents() + demo_styles()}
    images = [Image.open(paths[name]).convert("RGB") for name in styles]
    with Image.open(paths[content]) as c:
        out = stylizer.transfer(c.convert("RGB"), stylizer.style(images, weights), **controls)
    return np.asarray(out, dtype=np.float64)


def test_the_page_stylises_in_the_browser_without_the_transfer_api():
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with live_server(create_app(Stylizer.load(max_side=768))) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.evaluate("crossOriginIsolated") is True  # the server's two headers
        result, status = stylise_here(page, "cat", "strokes")
        threads = int(page.get_attribute("body", "data-engine-threads"))
        browser.close()
    assert not any("/api/transfer" in r for r in requests) and any(r.endswith("/model/transfer.onnx") for r in requests)
    assert any(r.endswith("/model/style_head.onnx") for r in requests)  # styles read through the model's head
    assert threads > 1 and "here" in status
    reference = pytorch_reference("cat", ["strokes"])
    ours = np.asarray(result, dtype=np.float64)
    assert ours.shape == reference.shape
    difference = np.abs(ours - reference)
    print(f"in-browser vs PyTorch: mean {difference.mean():.2f}, max {difference.max():.0f} (8-bit steps); {status}")
    assert difference.mean() <= TOLERANCE


def test_the_exported_site_runs_from_a_plain_static_server(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    stylizer = Stylizer.load(precision="fp32", backend="torch")
    site = export_site(stylizer.model, tmp_path / "site", style_head=stylizer.head)
    assert (site / "model" / "style_head.onnx").is_file() and (site / "model" / "style_statistics.onnx").is_file()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            assert page.evaluate("crossOriginIsolated") is False  # a plain server sends no isolation headers
            assert not page.locator("#engine-server-choice").is_visible()  # nothing to run on but the browser
            result, status = stylise_here(page, "cat", "strokes")
            threads = int(page.get_attribute("body", "data-engine-threads"))
            # Every control the graphs can express, in the browser: a two-style mix with weights (the head reads
            # the mean of their statistics), half strength, the photo's colours; then a
            # random style added to the mix.
            first = page.get_attribute("#result", "src")
            page.click("#add-style")
            page.click("#style-examples img[data-name=brick]")
            page.locator("#style-list input.weight").nth(1).fill("0.5")
            page.locator("#strength").fill("0.5")
            # the bundled model fills a smaller content size from the style picture, in PyTorch: server only
            assert not page.locator("#content-dim-control").is_visible()
            assert page.locator("#content-dim-note").is_visible()
            page.check("#keep-colors")
            page.click("#stylise")
            expect(page.locator("#result")).not_to_have_attribute("src", first, timeout=60_000)
            expect(page.locator("#status")).to_have_text(DONE, timeout=60_000)
            mixed = Image.open(io.BytesIO(base64.b64decode(page.evaluate(RESULT_PNG)))).convert("RGB")
            second = page.get_attribute("#result", "src")
            page.check("#random-style")
            page.click("#stylise")
            expect(page.locator("#result")).not_to_have_attribute("src", second, timeout=60_000)
            expect(page.locator("#status")).to_have_text(DONE, timeout=60_000)
            browser.close()
    finally:
        server.shutdown()
    assert mixed.size == result.size and np.abs(np.asarray(mixed, float) - np.asarray(result, float)).mean() > 2
    assert threads == 1 and status.startswith("done here")
    ours = np.asarray(result, dtype=np.float64)
    assert np.abs(ours - pytorch_reference("cat", ["strokes"])).mean() <= TOLERANCE
    controls = {"strength": 0.5, "keep_colors": True}
    reference = pytorch_reference("cat", ["strokes", "brick"], [1, 0.5], **controls)
    assert np.abs(np.asarray(mixed, dtype=np.float64) - reference).mean() <= TOLERANCE
