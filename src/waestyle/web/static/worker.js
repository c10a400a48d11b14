// The page's "run here" engine: ONNX Runtime Web (wasm, SIMD; threads when the page is cross-origin isolated)
// on the exported graphs (style encoder, transfer, and the style head's two when the model has one), in a Web
// Worker so the page never freezes. Messages in: {id, type: "load" | "style" | "head" | "transfer", ...}; out:
// {id, result} or {id, error}, and {type: "progress", loaded, total} while the graphs download.
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
  const head = sidecar.style_head;  // null: no style head
  const names = [sidecar.graphs.style_encoder, sidecar.graphs.transfer];
  if (head) names.push(head.head_graph, head.statistics_graph);
  const bytes = await downloadAll(names.map((name) => `${modelBase}${name}`));
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
  const [style, transfer, headGraph, statistics] = await Promise.all(
    bytes.map((graph) => ort.InferenceSession.create(graph, options)));
  sessions = { style, transfer, head: headGraph ?? null, statistics: statistics ?? null, sidecar };
  return { threads: ort.env.wasm.numThreads, sidecar };
}

// A style image's z_s, and the statistics its style head reads (null without one).
async function encodeStyle({ pixels, height, width }) {
  const input = new ort.Tensor("float32", pixels, [1, 3, height, width]);
  const out = await sessions.style.run({ [sessions.sidecar.style.input]: input });
  const z = out[sessions.sidecar.style.output].data;
  if (!sessions.statistics) return { z, statistics: null };
  const read = await sessions.statistics.run({ style: input });
  return { z, statistics: read.statistics.data };
}

// The style head: (z_s, statistics[, content size]) -> a code per styled decoder layer and every layer's norm
// offsets.
async function styleHead({ z, statistics, contentSize }) {
  const feeds = {
    z_style: new ort.Tensor("float32", z, [1, z.length]),
    statistics: new ort.Tensor("float32", statistics, [1, statistics.length]),
  };
  if (sessions.sidecar.style_head.content_size) feeds.content_size = new ort.Tensor("float32", [contentSize], [1]);
  const out = await sessions.head.run(feeds);
  return { codes: out.codes.data, offsets: out.offsets.data };
}

// A spatial model's graph takes one code per styled decoder layer (sidecar transfer.styled_layers): the style
// head's, or z_s repeated.
function styleCodes(z, codes) {
  const layers = sessions.sidecar.transfer.styled_layers;
  if (!layers) return new ort.Tensor("float32", z, [1, z.length]);
  if (!codes) {
    codes = new Float32Array(layers * z.length);
    for (let layer = 0; layer < layers; layer++) codes.set(z, layer * z.length);
  }
  return new ort.Tensor("float32", codes, [1, layers, z.length]);
}

async function transfer({ pixels, height, width, z, codes, offsets, contentSize }) {
  const feeds = {
    content: new ort.Tensor("float32", pixels, [1, 3, height, width]),
    z_style: styleCodes(z, codes),
    content_size: new ort.Tensor("int64", BigInt64Array.from([BigInt(contentSize)]), [1]),
  };
  const size = sessions.sidecar.transfer.offsets; // the style head's norm offsets, or zeros
  if (size) feeds.offsets = new ort.Tensor("float32", offsets ?? new Float32Array(size), [1, size]);
  const out = await sessions.transfer.run(feeds);
  return out[sessions.sidecar.transfer.output].data;
}

const handlers = { load, style: encodeStyle, head: styleHead, transfer };

// Float32Arrays of a result (itself or its fields) move to the page instead of being copied.
function transferables(result) {
  const values = result instanceof Float32Array ? [result] : Object.values(result ?? {});
  return values.filter((v) => v instanceof Float32Array).map((v) => v.buffer);
}

self.onmessage = async ({ data }) => {
  try {
    const result = await handlers[data.type](data);
    self.postMessage({ id: data.id, result }, transferables(result));
  } catch (error) {
    self.postMessage({ id: data.id, error: String(error?.message ?? error) });
  }
};
