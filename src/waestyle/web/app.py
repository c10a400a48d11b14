"""`waestyle serve`: a FastAPI app over one loaded Stylizer, with a static page and a REST API.

Every limit is checked before the model runs: request and file sizes (413), pixel counts (413),
files that are not images (415), options out of range (422). Memory stays bounded under load: uploads are
decoded at most `max_concurrent` at a time, JPEGs at the smallest scale the output needs (draft mode), and
outputs are at most `max_output_side` pixels on their long side; inference runs in worker threads, at most
`max_concurrent` at a time, never on the event loop.
"""

import asyncio
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.core.errors import WaestyleError
from waestyle.core.version import __version__
from waestyle.data.images import ImageTooLarge, NotAnImage, decode_image
from waestyle.stylize.onnx_export import SIDECAR, STYLE_GRAPH, TRANSFER_GRAPH, head_graph_names
from waestyle.web.access import RateLimiter, key_matches
from waestyle.web.security import security_headers
from waestyle.web.static_site import model_summary, runtime_file

STATIC = Path(__file__).parent / "static"
CHUNK = 1 << 16


@dataclass(frozen=True)
class ServeLimits:
    max_file_bytes: int = 20 * 2**20  # one uploaded image
    max_request_bytes: int = 64 * 2**20  # the whole multipart body
    max_pixels: int = 25_000_000  # one decoded image
    max_styles: int = 8
    max_side: int = 768  # long side the model processes (about 0.5 s on 2 cores); larger outputs are resized up
    max_output_side: int = 2048  # long side of an output (default: the content's own, up to this)
    style_read_side: int = 1024  # styles are read at 256 px: a JPEG style needs no more than this decoded
    max_concurrent: int = 2  # transfers at once
    transfer_seconds: float = 120.0  # a transfer still running after this answers 503 (its slot frees when it ends)
    api_key: str | None = None  # if set, POST /api/transfer needs it (X-API-Key or Authorization: Bearer)
    rate_per_minute: int = 0  # transfers per client address per minute (0: no limit)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.3g} MB" if n_bytes >= 2**20 else f"{n_bytes / 1024:.3g} KB"


async def read_image(
    upload: UploadFile, name: str, limits: ServeLimits, gate: asyncio.Semaphore, min_long_side: int
) -> Image.Image:
    """An uploaded file as an RGB image, or a 413 / 415 / 422 with a message naming the field; decoded under
    `gate`, at the smallest JPEG scale with at least `min_long_side` pixels on the long side."""
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limits.max_file_bytes:
            raise HTTPException(413, f"{name}: larger than the limit of {_size(limits.max_file_bytes)}")
    if not data:
        raise HTTPException(422, f"{name}: empty file")
    async with gate:
        return await run_in_threadpool(decode_upload, data, name, limits, min_long_side)


def decode_upload(data: bytearray, name: str, limits: ServeLimits, min_long_side: int) -> Image.Image:
    """The CLI's image decoding (waestyle.data.images), its errors mapped to status codes."""
    try:
        image = decode_image(io.BytesIO(data), name, limits.max_pixels, min_long_side)
        # Other formats (and JPEGs between draft scales) shrink now, not after waiting for a transfer slot.
        image.thumbnail((min_long_side, min_long_side), Image.Resampling.BICUBIC, reducing_gap=3.0)
        return image
    except ImageTooLarge as err:
        raise HTTPException(413, str(err)) from err
    except NotAnImage as err:
        raise HTTPException(415, str(err)) from err
    except WaestyleError as err:
        raise HTTPException(422, str(err)) from err


def _examples(paths: list[Path], kind: str) -> list[dict]:
    return [{"name": p.stem, "url": f"/api/examples/{kind}/{p.stem}"} for p in paths]


def create_app(stylizer, limits: ServeLimits = ServeLimits()) -> FastAPI:
    """The app for one loaded model; `stylizer` is shared by all requests (inference only)."""
    app = FastAPI(
        title="waestyle",
        version=__version__,
        description="Instant arbitrary image style transfer with a Wasserstein Autoencoder.",
    )

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limits.max_request_bytes):
            return JSONResponse({"detail": f"request larger than the limit of {_size(limits.max_request_bytes)}"}, 413)
        return await call_next(request)

    @app.middleware("http")
    async def secure_every_answer(request: Request, call_next):
        """Content policy, no sniffing, no framing, no referrer; cross-origin isolation for the page's in-browser
        mode (see security.py)."""
        response = await call_next(request)
        response.headers.update(security_headers(request.url.path))
        return response

    examples = {"content": {p.stem: p for p in demo_contents()}, "style": {p.stem: p for p in demo_styles()}}
    app.include_router(_info_routes(stylizer, limits, examples))
    app.include_router(_transfer_route(stylizer, limits, examples))
    app.include_router(_in_browser_routes(stylizer))
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app


def _in_browser_routes(stylizer) -> APIRouter:
    """The page's "run here" mode: the vendored ONNX Runtime Web, and this model's graphs (exported once, on
    the first request, into the ONNX cache; see static_site.py)."""
    router, lock, exported = APIRouter(), threading.Lock(), []

    def graphs() -> Path:
        from waestyle.stylize.onnx_backend import ensure_export
        from waestyle.stylize.onnx_export import fp32_copy

        with lock:  # one export, whatever the number of first requests
            if not exported:
                # fp32 even if PyTorch runs bf16; with the style head's graphs when the model has one
                exported.append(ensure_export(fp32_copy(stylizer.model), stylizer.head))
            return exported[0]

    @router.get("/runtime/{name}", include_in_schema=False)
    def runtime(name: str) -> Response:
        try:
            data, media_type, gzipped = runtime_file(name)
        except FileNotFoundError as err:
            raise HTTPException(404, f"no runtime file {name!r}") from err
        return Response(data, media_type=media_type, headers={"Content-Encoding": "gzip"} if gzipped else None)

    @router.get("/model/{name}", include_in_schema=False)
    async def graph(name: str) -> FileResponse:
        if name not in (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR, *head_graph_names(stylizer.head)):
            raise HTTPException(404, f"no model file {name!r}")
        try:
            folder = await run_in_threadpool(graphs)
        except WaestyleError as err:
            raise HTTPException(503, f"the in-browser mode needs the model's ONNX graphs: {err}") from err
        return FileResponse(
            folder / name, media_type="application/json" if name == SIDECAR else "application/octet-stream"
        )

    return router


def _info_routes(stylizer, limits: ServeLimits, examples: dict) -> APIRouter:
    """Health, the model's settings and limits, and the bundled examples."""
    router, config = APIRouter(), stylizer.config

    @router.get("/api/health")
    def health() -> dict:
        """Whether the server is up, and what the loaded model can do (the page reads it)."""
        return {
            "status": "ok",
            "version": __version__,
            "backend": getattr(stylizer, "backend", "torch"),
            "compiled": getattr(stylizer, "compiled", False),
            "style_head": getattr(stylizer, "style_head", None) is not None,
            "model": model_summary(config),
            "auth": {"api_key": limits.api_key is not None},
            "limits": {
                "max_file_bytes": limits.max_file_bytes,
                "max_pixels": limits.max_pixels,
                "max_styles": limits.max_styles,
                "max_side": limits.max_side,
                "max_output_side": limits.max_output_side,
                "transfer_seconds": limits.transfer_seconds,
                "rate_per_minute": limits.rate_per_minute,
            },
        }

    @router.get("/api/styles")
    def styles() -> list[dict]:
        """The bundled example styles; fetch one from its url, or name it in `style_example`."""
        return _examples(demo_styles(), "style")

    @router.get("/api/contents")
    def contents() -> list[dict]:
        """The bundled example content images."""
        return _examples(demo_contents(), "content")

    @router.get("/api/examples/{kind}/{name}", response_class=FileResponse)
    def example(kind: str, name: str):
        path = examples.get(kind, {}).get(name)
        if path is None:
            raise HTTPException(404, f"no bundled {kind} example {name!r}")
        return FileResponse(path, media_type="image/jpeg")

    return router


def _transfer_route(stylizer, limits: ServeLimits, examples: dict) -> APIRouter:
    """POST /api/transfer: uploads decoded at most `max_concurrent` at a time, transfers likewise."""
    router, config = APIRouter(), stylizer.config
    gate = asyncio.Semaphore(limits.max_concurrent)  # transfers at once
    decode_gate = asyncio.Semaphore(limits.max_concurrent)  # uploads decoded at once
    limiter = RateLimiter(limits.rate_per_minute) if limits.rate_per_minute else None

    @router.post("/api/transfer", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def transfer(
        request: Request,
        content: Annotated[UploadFile | None, File(description="the content image")] = None,
        content_example: Annotated[str | None, Form(description="or a bundled content's name")] = None,
        style: Annotated[list[UploadFile] | None, File(description="style image(s); repeat to mix")] = None,
        style_example: Annotated[list[str] | None, Form(description="bundled style name(s); repeat")] = None,
        weights: Annotated[str | None, Form(description="mixing weights in order: uploads, examples, random")] = None,
        random_style: Annotated[bool, Form(description="add a style sampled from the prior N(0, I)")] = False,
        seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
        strength: Annotated[float, Form(ge=0.0, le=1.0, description="0: content's own style, 1: full")] = 1.0,
        content_dim: Annotated[int | None, Form(ge=1, description="content channels kept (nested models)")] = None,
        keep_colors: Annotated[bool, Form()] = False,
        long_side: Annotated[
            int | None, Form(ge=16, le=4096, description="output long side (at most max_output_side)")
        ] = None,
        style_scale: Annotated[float, Form(ge=0.1, le=10.0, description="texture size; 2: twice as large")] = 1.0,
        refine: Annotated[
            int, Form(ge=0, le=200, description="steps searching the style latent towards the style's statistics")
        ] = 0,
    ) -> Response:
        """Stylise `content` with the mix of its styles; returns a PNG."""
        _admit(request, limits, limiter)
        if (content is None) == (content_example is None):
            raise HTTPException(422, "give one content: an uploaded `content` file or a `content_example` name")
        uploads = [s for s in style or [] if s.filename or s.size]
        names = style_example or []
        mix = _check_styles(len(uploads) + len(names) + int(random_style), weights, limits)
        _check_sizes(config, limits, content_dim, long_side)
        if content is not None:
            out_side = long_side or limits.max_output_side
            content_image = await read_image(content, "content", limits, decode_gate, out_side)
        else:
            content_image = _example_image(examples, "content", content_example)
        style_images = [
            await read_image(s, f"style {i + 1}", limits, decode_gate, limits.style_read_side)
            for i, s in enumerate(uploads)
        ]
        style_images += [_example_image(examples, "style", n) for n in names]
        controls = {"strength": strength, "content_dim": content_dim, "keep_colors": keep_colors,
                    "long_side": long_side or min(max(content_image.size), limits.max_output_side),
                    "style_scale": style_scale, "refine": refine}  # fmt: skip
        png = await within_time(limits.transfer_seconds, gate, _stylise, stylizer, content_image, style_images,
                                random_style, seed, mix, controls)  # fmt: skip
        return Response(png, media_type="image/png")

    return router


def _admit(request: Request, limits: ServeLimits, limiter: RateLimiter | None) -> None:
    """The key, then the client's rate: 401 / 429 before anything is read."""
    if limits.api_key is not None and not key_matches(limits.api_key, request.headers):
        raise HTTPException(401, "this server needs an API key: send X-API-Key", {"WWW-Authenticate": "Bearer"})
    if limiter is not None:
        wait = limiter.retry_after(request.client.host if request.client else "unknown")
        if wait > 0:
            raise HTTPException(429, f"more than {limits.rate_per_minute} transfers a minute; retry in {wait:.0f} s",
                                {"Retry-After": str(max(1, round(wait)))})  # fmt: skip


async def within_time(seconds: float, gate: asyncio.Semaphore, fn, *args):
    """`fn(*args)` in a worker thread, holding one of `gate`'s slots; 503 if it runs past `seconds`. A thread
    cannot be stopped, so its slot frees only when it ends: the bound on concurrent work holds."""
    await gate.acquire()
    work = asyncio.ensure_future(run_in_threadpool(fn, *args))
    try:
        return await asyncio.wait_for(asyncio.shield(work), seconds)
    except TimeoutError as err:
        hint = "try fewer refine steps or a smaller image"
        raise HTTPException(503, f"the transfer took longer than the limit of {seconds:g} s; {hint}") from err
    finally:
        work.add_done_callback(lambda _: gate.release())


def _check_styles(count: int, weights: str | None, limits: ServeLimits) -> list[float] | None:
    """The number of styles within the limit; their mixing weights parsed."""
    if count == 0:
        raise HTTPException(422, "give a style: `style` file(s), `style_example` name(s) or `random_style`")
    if count > limits.max_styles:
        raise HTTPException(422, f"at most {limits.max_styles} styles")
    return _parse_weights(weights, count)


def _check_sizes(config, limits: ServeLimits, content_dim: int | None, long_side: int | None) -> None:
    """content_dim within what the model offers; the output within the server's limit."""
    if content_dim is not None and not config.nested_content:
        raise HTTPException(422, "this model was trained without nested content: content_dim is not available")
    if content_dim is not None and content_dim > config.content_dim:
        raise HTTPException(422, f"content_dim must be at most the model's {config.content_dim}")
    if long_side is not None and long_side > limits.max_output_side:
        raise HTTPException(422, f"long_side must be at most this server's {limits.max_output_side}")


def _parse_weights(text: str | None, count: int) -> list[float] | None:
    if not text:
        return None
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError as err:
        raise HTTPException(422, f"weights {text!r}: give numbers separated by commas") from err
    if len(weights) != count or min(weights) < 0 or sum(weights) <= 0:
        raise HTTPException(422, f"weights: give {count} non-negative numbers, not all zero")
    return weights


def _example_image(examples: dict, kind: str, name: str) -> Image.Image:
    path = examples[kind].get(name)
    if path is None:
        raise HTTPException(422, f"no bundled {kind} example {name!r}; see /api/{kind}s")
    with Image.open(path) as image:
        return image.convert("RGB")


def _stylise(stylizer, content: Image.Image, styles: list, random_style: bool, seed: int, weights, controls) -> bytes:
    """The blocking part, run in a worker thread: encode, decode, PNG."""
    try:
        sources = [*styles, *([stylizer.random_style(seed)] if random_style else [])]
        # the images stay with the latent: the style head reads them, and refinement aims at their statistics
        z_style = stylizer.style(sources, weights)
        output = stylizer.transfer(content, z_style, **controls)
    except WaestyleError as err:
        raise HTTPException(422, str(err)) from err
    buffer = io.BytesIO()
    output.save(buffer, format="PNG", compress_level=1)  # fast: level 6 costs 0.4 s on a 1-MP output
    return buffer.getvalue()
