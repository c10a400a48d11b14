"""The page without a server: the vendored ONNX Runtime Web, the exported graphs, and `waestyle export --web`.

The page (static/) can run the two exported graphs itself (static/local.js, static/worker.js) with ONNX Runtime
Web, vendored from npm (vendor/onnxruntime-web: one build, wasm with SIMD and threads, its .wasm stored gzipped;
scripts/vendor_onnxruntime_web.sh refreshes it). Threads need SharedArrayBuffer, which browsers allow only on a
cross-origin isolated page: served with the two security.ISOLATION_HEADERS. Without them it uses one thread.

`export_site` writes all of it as plain files that any static file server can host; no CDN, nothing fetched
from elsewhere.
"""

import gzip
import json
import shutil
import tempfile
from pathlib import Path

from waestyle.core.bundled import ASSETS, demo_contents, demo_styles
from waestyle.core.errors import WaestyleError
from waestyle.core.version import __version__
from waestyle.models.style_head import StyleHead
from waestyle.models.wae import WAEStyleModel
from waestyle.web.security import security_headers

STATIC = Path(__file__).parent / "static"
VENDOR = Path(__file__).parent / "vendor" / "onnxruntime-web"
PAGE_FILES = ("index.html", "app.js", "local.js", "worker.js", "style.css")
# What the page's worker loads from runtime/; the .wasm is stored as .wasm.gz.
RUNTIME_FILES = (
    "ort.wasm.min.mjs",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm",
    "LICENSE",
    "NOTICE.md",
)
MEDIA_TYPES = {".mjs": "text/javascript", ".wasm": "application/wasm", ".md": "text/markdown", "": "text/plain"}
MAX_STYLES = 8


def runtime_version() -> str:
    return (VENDOR / "VERSION").read_text().strip()


def runtime_file(name: str) -> tuple[bytes, str, bool]:
    """(bytes, media type, gzipped) of a vendored runtime file; the .wasm comes gzipped, for a
    `Content-Encoding: gzip` answer (3.7 MB on the wire instead of 14)."""
    if name not in RUNTIME_FILES:
        raise FileNotFoundError(name)
    suffix = Path(name).suffix
    if suffix == ".wasm":
        return (VENDOR / f"{name}.gz").read_bytes(), MEDIA_TYPES[suffix], True
    return (VENDOR / name).read_bytes(), MEDIA_TYPES[suffix], False


def model_summary(config) -> dict:
    """What the page needs to know of the model (the server's /api/health and the static site's site.json)."""
    return {"arch": config.arch, "image_size": config.image_size, "content_dim": config.content_dim,
            "style_dim": config.style_dim, "nested_content": config.nested_content,
            "content_fill": config.content_fill}  # fmt: skip


def export_site(model: WAEStyleModel, out: str | Path, *, overwrite: bool = False,
                style_head: StyleHead | None = None) -> Path:  # fmt: skip
    """A static site in `out`: the page, the runtime, the model's graphs, the bundled examples, licences.

    Built in a temporary folder beside `out` and moved into place at the end, so a failed export leaves no
    half-written site. The graphs come from the ONNX cache (exported there first if missing: waestyle[onnx]).
    """
    from waestyle.stylize.onnx_backend import ensure_export
    from waestyle.stylize.onnx_export import SIDECAR, STYLE_GRAPH, TRANSFER_GRAPH, head_graph_names

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise WaestyleError(f"{out} is not empty; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a web server must read it
    try:
        for name in PAGE_FILES:
            shutil.copy2(STATIC / name, staging / name)
        runtime = staging / "runtime"
        runtime.mkdir()
        for name in RUNTIME_FILES:
            data, _, gzipped = runtime_file(name)
            (runtime / name).write_bytes(gzip.decompress(data) if gzipped else data)
        # the ONNX cache's copy: made once per model (and style head), shared with `waestyle serve`
        graphs = ensure_export(model, style_head)
        (staging / "model").mkdir()
        for name in (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR, *head_graph_names(style_head)):
            shutil.copy2(graphs / name, staging / "model" / name)
        _write_examples(staging / "examples")
        settings = {"static": True, "version": __version__, "runtime": f"onnxruntime-web {runtime_version()}"}
        settings |= {"model": model_summary(model.config), "limits": {"max_styles": MAX_STYLES}}
        (staging / "site.json").write_text(json.dumps(settings, indent=1))
        headers = security_headers("/")  # the server's own: isolation (threads) and the content policy
        (staging / "_headers").write_text("/*\n" + "".join(f"  {k}: {v}\n" for k, v in headers.items()))
        (staging / "README.md").write_text(_readme())
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_examples(folder: Path) -> None:
    for kind, paths in (("content", demo_contents()), ("style", demo_styles())):
        (folder / kind).mkdir(parents=True)
        for path in paths:
            shutil.copy2(path, folder / kind / path.name)
        listing = [{"name": p.stem, "url": f"examples/{kind}/{p.name}"} for p in paths]
        (folder / f"{kind}s.json").write_text(json.dumps(listing, indent=1))
    shutil.copy2(ASSETS / "LICENSES.md", folder / "LICENSES.md")


def _readme() -> str:
    return f"""# waestyle in the browser

A static site made by `waestyle export --web` (waestyle {__version__}): the page stylises on the visitor's own
machine with ONNX Runtime Web {runtime_version()}; pictures never leave the device. Host the folder with any
static file server, for example `python -m http.server -d .` (one thread there). Where the host sends

    Cross-Origin-Opener-Policy: same-origin
    Cross-Origin-Embedder-Policy: require-corp

the page is cross-origin isolated and the runtime uses up to four threads (`_headers` sets them on Netlify and
Cloudflare Pages; nginx: `add_header` for both).

Licences: waestyle, MIT; ONNX Runtime Web, MIT (runtime/LICENSE, runtime/NOTICE.md); the example pictures,
examples/LICENSES.md; the model, see the waestyle model card.
"""
