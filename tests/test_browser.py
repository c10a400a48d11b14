"""The web page in a real browser: Debian's Chromium driven by Playwright, against a live server."""

import base64
import io
import shutil

import pytest
from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.stylize.stylizer import Stylizer
from waestyle.web.app import create_app

from .web_helpers import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (make test installs Debian's `chromium` when run as root)"
)
# Headless on a machine without network: no sandbox (root), no background connections.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def test_upload_two_images_stylise_and_download(tmp_path):
    from playwright.sync_api import sync_playwright

    with live_server(create_app(Stylizer.load(max_side=512))) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert page.locator("#content-examples img").count() == len(demo_contents())
        page.set_input_files("#content-file", str(demo_contents()[0]))
        page.set_input_files("#style-file", str(demo_styles()[3]))
        page.click("#stylise")
        page.wait_for_function("document.getElementById('result').naturalWidth > 0", timeout=60_000)
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
        page.wait_for_function(f"document.getElementById('result').src !== {first!r}", timeout=60_000)
        page.wait_for_function("document.getElementById('status').textContent.startsWith('done')", timeout=60_000)
        browser.close()
    with Image.open(io.BytesIO(base64.b64decode(png))) as result, Image.open(demo_contents()[0]) as content:
        assert result.format == "PNG" and result.size == content.size
    assert status.startswith("done in")
    with Image.open(tmp_path / "web-page.png") as shot:
        assert shot.size[0] == 1200
    print(f"screenshot: {tmp_path / 'web-page.png'}")
