#!/usr/bin/env bash
# Refresh the vendored ONNX Runtime Web (npm `onnxruntime-web`, MIT) that the page's "run here" mode and
# `waestyle export --web` use: one build only (wasm, SIMD, threads; the threads need cross-origin isolation
# and fall back to one thread without it), its .wasm stored gzipped (3.7 MB instead of 14 MB).
#   bash scripts/vendor_onnxruntime_web.sh [VERSION]      (default: the pinned one below)
set -euo pipefail
VERSION="${1:-1.30.0}"
DEST="$(cd "$(dirname "$0")/.." && pwd)/src/waestyle/web/vendor/onnxruntime-web"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null && tar xzf "onnxruntime-web-$VERSION.tgz")
DIST="$WORK/package/dist"
rm -rf "$DEST" && mkdir -p "$DEST"
cp "$DIST/ort.wasm.min.mjs" "$DIST/ort-wasm-simd-threaded.mjs" "$DEST/"
gzip -9 -n -c "$DIST/ort-wasm-simd-threaded.wasm" > "$DEST/ort-wasm-simd-threaded.wasm.gz"
python3 - "$WORK/package/package.json" "$DEST/VERSION" <<'PY'
import json, sys
package = json.load(open(sys.argv[1]))
assert package["license"] == "MIT", package["license"]
open(sys.argv[2], "w").write(package["version"] + "\n")
PY
cat > "$DEST/LICENSE" <<'TXT'
MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
TXT
cat > "$DEST/NOTICE.md" <<TXT
# ONNX Runtime Web $VERSION

From the npm package \`onnxruntime-web@$VERSION\` (https://github.com/microsoft/onnxruntime, MIT licence,
see LICENSE), unmodified except that \`ort-wasm-simd-threaded.wasm\` is stored gzipped. Files:
\`ort.wasm.min.mjs\` (the JavaScript API, wasm execution provider only), \`ort-wasm-simd-threaded.mjs\`
and \`ort-wasm-simd-threaded.wasm\` (the runtime, SIMD and threads). Refreshed by
\`scripts/vendor_onnxruntime_web.sh\`. The runtime's own third-party notices are in its repository's
ThirdPartyNotices.txt.
TXT
ls -la "$DEST"
