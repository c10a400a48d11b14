"""The REST API of `waestyle serve`: success, every limit, every bad input, concurrent requests."""

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.stylize.stylizer import Stylizer
from waestyle.web.app import ServeLimits, create_app
from waestyle.web.live import live_server


def png_bytes(size=(48, 32), seed=0, fmt="PNG") -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def decoded(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer.load(max_side=256)  # the bundled model: spatial and nested


@pytest.fixture(scope="module")
def client(stylizer):
    return TestClient(create_app(stylizer))


def test_health_styles_and_examples(client, stylizer):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"]["nested_content"] is True
    assert health["backend"] == stylizer.backend in ("torch", "onnxruntime")
    assert health["style_head"] is True  # the bundled model reads styles through its head
    styles = client.get("/api/styles").json()
    assert [s["name"] for s in styles] == [p.stem for p in demo_styles()]
    example = client.get(styles[0]["url"])
    assert example.status_code == 200 and example.headers["content-type"] == "image/jpeg"
    assert len(client.get("/api/contents").json()) == len(demo_contents())
    assert client.get("/api/examples/style/nope").status_code == 404
    assert "/api/transfer" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and 'id="stylise"' in page.text and "http" not in page.text.split("<body>")[0]


def test_transfer_returns_a_png_at_the_content_size(client):
    files = {"content": ("c.png", png_bytes((61, 37)), "image/png"), "style": ("s.jpg", png_bytes(seed=1, fmt="JPEG"))}
    assert decoded(client.post("/api/transfer", files=files)).shape == (37, 61, 3)


def test_examples_random_style_weights_and_controls(client):
    data = {"content_example": "cat", "style_example": ["brick", "dots"], "random_style": "true", "seed": "4",
            "weights": "0.5,0.3,0.2", "strength": "0.7", "content_dim": "16", "keep_colors": "true",
            "long_side": "120"}  # fmt: skip
    out = decoded(client.post("/api/transfer", data=data))
    assert max(out.shape[:2]) == 120


def test_refine_is_a_form_field_and_mixes_refine_toward_their_images(client):
    content = {"content": ("c.png", png_bytes((40, 40)), "image/png")}
    plain = decoded(client.post("/api/transfer", files=content, data={"style_example": "mosaic"}))
    refined = decoded(client.post("/api/transfer", files=content, data={"style_example": "mosaic", "refine": "2"}))
    assert refined.shape == plain.shape and not np.array_equal(refined, plain)
    mixed = {"style_example": ["mosaic", "rings"], "weights": "2,1,1", "refine": "1", "random_style": "true"}
    assert decoded(client.post("/api/transfer", files=content, data=mixed)).shape == plain.shape
    too_many = client.post("/api/transfer", files=content, data={"style_example": "mosaic", "refine": "500"})
    assert too_many.status_code == 422
    only_random = client.post("/api/transfer", files=content, data={"random_style": "true", "refine": "2"})
    assert only_random.status_code == 422 and "style image" in only_random.json()["detail"]


def test_weights_one_and_zero_equal_the_single_style(client):
    content = {"content": ("c.png", png_bytes((40, 40)), "image/png")}
    single = decoded(client.post("/api/transfer", files=content, data={"style_example": "mosaic"}))
    mixed = client.post("/api/transfer", files=content, data={"style_example": ["mosaic", "rings"], "weights": "1,0"})
    assert np.abs(decoded(mixed).astype(int) - single.astype(int)).max() <= 1


def test_a_random_style_is_reproducible(client):
    data = {"content_example": "coffee", "random_style": "true", "seed": "9", "long_side": "64"}
    assert np.array_equal(decoded(client.post("/api/transfer", data=data)),
                          decoded(client.post("/api/transfer", data=data)))  # fmt: skip


@pytest.mark.parametrize(
    ("files", "data", "status", "message"),
    [
        (
            {"content": ("c.txt", b"<html>not an image</html>")},
            {"style_example": "brick"},
            415,
            "content: not an image",
        ),
        ({"content": ("c.png", png_bytes()[:60])}, {"style_example": "brick"}, 422, "truncated"),
        ({"content": ("c.png", b"")}, {"style_example": "brick"}, 422, "empty file"),
        ({"content": ("c.png", png_bytes())}, {}, 422, "give a style"),
        ({}, {"style_example": "brick"}, 422, "give one content"),
        ({"content": ("c.png", png_bytes())}, {"style_example": "nope"}, 422, "no bundled style example"),
        ({"content": ("c.png", png_bytes())}, {"style_example": "brick", "weights": "1,2"}, 422, "give 1 non-negative"),
        ({"content": ("c.png", png_bytes())}, {"style_example": "brick", "weights": "x"}, 422, "numbers separated"),
        ({"content": ("c.png", png_bytes())}, {"style_example": "brick", "strength": "2"}, 422, "less than or equal"),
        ({"content": ("c.png", png_bytes())}, {"style_example": "brick", "content_dim": "999"}, 422, "at most"),
        ({"content": ("c.png", png_bytes()), "style": ("s.gif", b"GIF89a")}, {}, 415, "style 1: not an image"),
    ],
)
def test_bad_input_gets_a_clear_status(client, files, data, status, message):
    response = client.post("/api/transfer", files=files, data=data)
    assert response.status_code == status, response.text
    assert message in response.text


def test_size_and_pixel_limits(stylizer):
    limits = ServeLimits(max_file_bytes=4000, max_request_bytes=20_000, max_pixels=50 * 50, max_styles=2)
    client = TestClient(create_app(stylizer, limits))
    big_file = {"content": ("c.png", png_bytes((60, 60)), "image/png")}  # about 11 KB of noise
    response = client.post("/api/transfer", files=big_file, data={"style_example": "brick"})
    assert response.status_code == 413 and "content: larger than the limit" in response.text
    huge = client.post("/api/transfer", content=b"x" * 30_000, headers={"content-type": "multipart/form-data"})
    assert huge.status_code == 413 and "request larger" in huge.text
    wide = io.BytesIO()
    Image.new("RGB", (400, 10), "white").save(wide, format="PNG")  # tiny file, too many pixels
    response = client.post(
        "/api/transfer", files={"content": ("w.png", wide.getvalue())}, data={"style_example": "brick"}
    )
    assert response.status_code == 413 and "above the limit of 2,500 pixels" in response.text
    response = client.post("/api/transfer", data={"content_example": "cat", "style_example": ["brick"] * 3})
    assert response.status_code == 422 and "at most 2 styles" in response.text


def test_a_model_without_nested_content_refuses_content_dim(tiny_model):
    client = TestClient(create_app(Stylizer.load(tiny_model)))
    response = client.post(
        "/api/transfer", data={"content_example": "cat", "style_example": "brick", "content_dim": "4"}
    )
    assert response.status_code == 422 and "without nested content" in response.text


def test_concurrent_requests_do_not_mix_up_their_results(stylizer):
    app = create_app(stylizer, ServeLimits(max_concurrent=2))
    jobs = [{"content_example": c, "style_example": s, "long_side": "96"} for c in ("cat", "coffee") for s in
            ("brick", "dots", "rings", "strokes")]  # fmt: skip
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        alone = [decoded(http.post("/api/transfer", data=job)) for job in jobs]
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda job: decoded(http.post("/api/transfer", data=job)), jobs * 2))
    for i, out in enumerate(together):
        assert np.array_equal(out, alone[i % len(jobs)]), jobs[i % len(jobs)]


def test_outputs_are_capped_and_large_uploads_decoded_small(stylizer):
    """Memory under load: a large upload is decoded and kept at the output's size, never more."""
    client = TestClient(create_app(stylizer, ServeLimits(max_output_side=96)))
    big = png_bytes((400, 300), fmt="JPEG")
    response = client.post("/api/transfer", files={"content": ("c.jpg", big, "image/jpeg")},
                           data={"style_example": "strokes"})  # fmt: skip
    assert decoded(response).shape == (72, 96, 3)
    too_long = client.post("/api/transfer", files={"content": ("c.jpg", big, "image/jpeg")},
                           data={"style_example": "strokes", "long_side": "200"})  # fmt: skip
    assert too_long.status_code == 422 and "at most this server's 96" in too_long.text
    assert client.get("/api/health").json()["limits"]["max_output_side"] == 96
