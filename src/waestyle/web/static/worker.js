// The page's "run here" engine: ONNX Runtime Web (wasm, SIMD; threads when the page is cross-origin isolated)
// on the two exported graphs, in a Web Worker so the page never freezes. Messages in: {id, type: "load" |
// "style" | "transfer", ...}; out: {id, result} or {id, error}, and {type: "progress", loaded, total} while
// the graphs download.
import * as ort from "./runtime/ort.wasm.min.mjs";

let sessions = null;

// Both graphs fetched at once, with progress in bytes over both (from their Content-Length headers).
async function downloadAll(urls) {
  const responses = await Promise.all(urls.map((url) => fetch(url)));
  for (const [i, response] of responses.entries()) {
    if (!response.ok) throw new Error(`${urls[i]}: the server answered ${response.status}`);
  }
  const total = responses.reduce((sum, r) => sum + Number(r.headers.get("content-length") || 0), 0);
  let loaded = 0;
  return Promise.all(responses.map(async (response) => {
    const reader = response.body.getReader(), parts = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded += value.length;
      self.postMessage({ type: "progress", loaded, total });
    }
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) { bytes.set(part, offset); offset += part.length; }
    return bytes;
  }));
}

async function load({ modelBase, threads }) {
  ort.env.wasm.wasmPaths = new URL("runtime/", self.location.href).href;
  ort.env.wasm.numThreads = threads;
  const sidecar = await (await fetch(`${modelBase}waestyle-onnx.json`)).json();
  const names = [sidecar.graphs.style_encoder, sidecar.graphs.transfer];
  const [style, transfer] = await downloadAll(names.map((name) => `${modelBase}${name}`));
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
  sessions = {
    style: await ort.InferenceSession.create(style, options),
    transfer: await ort.InferenceSession.create(transfer, options),
    sidecar,
  };
  return { threads: ort.env.wasm.numThreads, sidecar };
}

async function encodeStyle({ pixels, height, width }) {
  const input = new ort.Tensor("float32", pixels, [1, 3, height, width]);
  const out = await sessions.style.run({ [sessions.sidecar.style.input]: input });
  return out[sessions.sidecar.style.output].data;
}

// A spatial model's graph takes one code per styled decoder layer (sidecar transfer.styled_layers): z_s repeated.
function styleCodes(z) {
  const layers = sessions.sidecar.transfer.styled_layers;
  if (!layers) return new ort.Tensor("float32", z, [1, z.length]);
  const codes = new Float32Array(layers * z.length);
  for (let layer = 0; layer < layers; layer++) codes.set(z, layer * z.length);
  return new ort.Tensor("float32", codes, [1, layers, z.length]);
}

async function transfer({ pixels, height, width, z, contentSize }) {
  const feeds = {
    content: new ort.Tensor("float32", pixels, [1, 3, height, width]),
    z_style: styleCodes(z),
    content_size: new ort.Tensor("int64", BigInt64Array.from([BigInt(contentSize)]), [1]),
  };
  const offsets = sessions.sidecar.transfer.offsets; // the norm offsets refinement moves: zeros here
  if (offsets) feeds.offsets = new ort.Tensor("float32", new Float32Array(offsets), [1, offsets]);
  const out = await sessions.transfer.run(feeds);
  return out[sessions.sidecar.transfer.output].data;
}

const handlers = { load, style: encodeStyle, transfer };

self.onmessage = async ({ data }) => {
  try {
    const result = await handlers[data.type](data);
    const transferable = result instanceof Float32Array ? [result.buffer] : [];
    self.postMessage({ id: data.id, result }, transferable);
  } catch (error) {
    self.postMessage({ id: data.id, error: String(error?.message ?? error) });
  }
};
