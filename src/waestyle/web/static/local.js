// "Run here": the server's transfer (waestyle.stylize) redone in the browser around the exported graphs,
// which run in worker.js; with the model's style head, styles are read through it as Stylizer.style reads them. Pixels are resized by the canvas (bicubic-like, "high" quality), the rest mirrors
// the Python: the style read at the sidecar's long side, the content at 512 px / texture scale (768 at most)
// padded to the stride by repeating its edge, the output resized to the photo's size with the photo's finer
// detail added back, colours kept in BT.601 YCbCr. Refinement needs PyTorch: it is the server's alone.
"use strict";

const WORK_SIDE = 512, MAX_WORK_SIDE = 768, MAX_OUTPUT_SIDE = 2048;
const LUMA = [0.299, 0.587, 0.114];

// (height, width) with the long side set to `longSide`, as resolution.scaled_size.
function scaledSize(height, width, longSide) {
  const scale = longSide / Math.max(height, width);
  return [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
}

function drawn(source, height, width) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  Object.assign(context, { imageSmoothingEnabled: true, imageSmoothingQuality: "high" });
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

// RGBA bytes -> planar RGB floats in [0, 1], padded to (padHeight, padWidth) by repeating the last row and column.
function planar(image, padHeight = image.height, padWidth = image.width) {
  const { data, width, height } = image, plane = padHeight * padWidth, out = new Float32Array(3 * plane);
  for (let y = 0; y < padHeight; y++) {
    const row = Math.min(y, height - 1) * width;
    for (let x = 0; x < padWidth; x++) {
      const i = 4 * (row + Math.min(x, width - 1)), o = y * padWidth + x;
      out[o] = data[i] / 255; out[plane + o] = data[i + 1] / 255; out[2 * plane + o] = data[i + 2] / 255;
    }
  }
  return out;
}

// Planar floats (3, fullHeight, fullWidth) -> ImageData of the top-left (height, width), rounded like PIL.
function toImageData(values, fullHeight, fullWidth, height, width) {
  const image = new ImageData(width, height), plane = fullHeight * fullWidth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = y * fullWidth + x, i = 4 * (y * width + x);
      for (let c = 0; c < 3; c++) image.data[i + c] = Math.round(Math.min(1, Math.max(0, values[c * plane + o])) * 255);
      image.data[i + 3] = 255;
    }
  }
  return image;
}

function bitmapOf(image) {
  const canvas = new OffscreenCanvas(image.width, image.height);
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas;
}

const luma = (d, i) => LUMA[0] * d[i] + LUMA[1] * d[i + 1] + LUMA[2] * d[i + 2];

// The photo's luminance detail finer than the working size, added to the output (resolution.restore_detail).
function restoreDetail(out, content, workHeight, workWidth) {
  const coarse = drawn(bitmapOf(drawn(bitmapOf(content), workHeight, workWidth)), content.height, content.width);
  for (let i = 0; i < out.data.length; i += 4) {
    const detail = luma(content.data, i) - luma(coarse.data, i);
    for (let c = 0; c < 3; c++) out.data[i + c] = Math.min(255, Math.max(0, Math.round(out.data[i + c] + detail)));
  }
}

// The output's luminance with the photo's chroma (colors.preserve_colors).
function keepColours(out, content) {
  const d = out.data, s = content.data;
  for (let i = 0; i < d.length; i += 4) {
    const y = luma(d, i) / 255, r0 = s[i] / 255, g0 = s[i + 1] / 255, b0 = s[i + 2] / 255;
    const y0 = LUMA[0] * r0 + LUMA[1] * g0 + LUMA[2] * b0;
    const cb = 0.564 * (b0 - y0), cr = 0.713 * (r0 - y0);
    const r = y + cr / 0.713, b = y + cb / 0.564, g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b].forEach((v, c) => { d[i + c] = Math.round(Math.min(1, Math.max(0, v)) * 255); });
  }
}

// A seeded standard-normal draw (mulberry32, then Box-Muller): a random style repeats with its seed in the
// browser; it is not the server's draw for the same seed (that one comes from PyTorch's generator).
function priorSample(seed, size) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return Float32Array.from({ length: size }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

// The weighted mean of equally long vectors (the weights scaled to sum to 1), as controls.mix_latents.
function mixed(vectors, weights) {
  const total = weights.reduce((a, b) => a + b, 0), out = new Float32Array(vectors[0].length);
  vectors.forEach((vector, k) => vector.forEach((v, i) => { out[i] += (weights[k] / total) * v; }));
  return out;
}

class LocalEngine {
  constructor(onProgress) {
    this.worker = new Worker("worker.js", { type: "module" });
    this.pending = new Map();
    this.next = 0;
    this.worker.onmessage = ({ data }) => {
      if (data.type === "progress") { onProgress(data.loaded, data.total); return; }
      const { resolve, reject } = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.error) reject(new Error(data.error)); else resolve(data.result);
    };
    this.worker.onerror = (event) => {
      for (const { reject } of this.pending.values()) reject(new Error(event.message || "the worker failed"));
      this.pending.clear();
    };
  }

  call(type, payload = {}, transfer = []) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type, ...payload }, transfer);
    });
  }

  // Threads only where SharedArrayBuffer is allowed (a cross-origin isolated page); one otherwise.
  async load(modelBase) {
    const threads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const { sidecar, threads: used } = await this.call("load", { modelBase, threads });
    this.sidecar = sidecar;
    this.threads = used;
    return this;
  }

  // {z, statistics}: a style image's z_s and the statistics the style head reads (null without a head).
  async styleRead(bitmap) {
    const style = this.sidecar.style;
    let image;
    if (this.sidecar.model.style_size) {
      image = drawn(bitmap, ...scaledSize(bitmap.height, bitmap.width, style.long_side));
    } else {  // the old models: a centre square
      const side = Math.min(bitmap.height, bitmap.width);
      const canvas = new OffscreenCanvas(side, side);
      canvas.getContext("2d").drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, side, side);
      image = drawn(canvas, style.long_side, style.long_side);
    }
    const pixels = planar(image);
    return this.call("style", { pixels, height: image.height, width: image.width }, [pixels.buffer]);
  }

  // The style head's codes and offsets for the mixed z_s `z` and the style images' reads ({z, statistics,
  // weight}, weight > 0): the head reads their statistics' weighted mean, as Stylizer.style does; none without a
  // head or without images (a random style alone). A content-sized head also reads how much of z_c the transfer
  // keeps: log2 k / log2 K (models.style_head.content_size_input).
  async headOf(z, reads, contentDim) {
    if (!this.sidecar.style_head || !reads.length) return { codes: null, offsets: null };
    const statistics = mixed(reads.map((r) => r.statistics), reads.map((r) => r.weight));
    const full = this.sidecar.model.content_dim;
    const contentSize = contentDim >= full ? 1 : Math.log2(Math.max(1, contentDim)) / Math.log2(full);
    return this.call("head", { z: Float32Array.from(z), statistics, contentSize });
  }

  // options: {styles: [{bitmap, weight}], random: {seed, weight} | null, strength, contentDim, keepColors, styleScale}
  async stylise(content, options) {
    const model = this.sidecar.model, spatial = this.sidecar.transfer.dynamic_size;
    const reads = [];
    for (const style of options.styles) reads.push({ ...await this.styleRead(style.bitmap), weight: style.weight });
    const latents = reads.map((read) => read.z), weights = reads.map((read) => read.weight);
    if (options.random) { latents.push(priorSample(options.random.seed, model.style_dim)); weights.push(options.random.weight); }
    const total = weights.reduce((a, b) => a + b, 0);
    if (!latents.length || total <= 0) throw new Error("choose a style, or weights that are not all zero");
    let z = mixed(latents, weights);
    const contentDim = options.contentDim ?? model.content_dim;
    let { codes, offsets } = await this.headOf(z, reads.filter((read) => read.weight > 0), contentDim);
    if (options.strength !== 1) {  // from the content's own z_s (each layer's code from it), offsets scaled
      const own = (await this.styleRead(content)).z, s = options.strength;
      z = z.map((v, i) => own[i] + s * (v - own[i]));
      if (codes) codes = codes.map((v, i) => own[i % own.length] + s * (v - own[i % own.length]));
      if (offsets) offsets = offsets.map((v) => s * v);
    }
    const [workHeight, workWidth] = spatial
      ? scaledSize(content.height, content.width, Math.max(16, Math.min(MAX_WORK_SIDE, Math.round(WORK_SIDE / options.styleScale))))
      : [model.image_size, model.image_size];
    const stride = this.sidecar.transfer.side_multiple, least = this.sidecar.transfer.min_side;
    const padTo = (side) => (spatial ? Math.max(least, Math.ceil(side / stride) * stride) : side);
    const [padHeight, padWidth] = [padTo(workHeight), padTo(workWidth)];
    const pixels = planar(drawn(content, workHeight, workWidth), padHeight, padWidth);
    const decoded = await this.call("transfer", { pixels, height: padHeight, width: padWidth, z, codes, offsets,
      contentSize: contentDim }, [pixels.buffer]);
    const work = toImageData(decoded, padHeight, padWidth, workHeight, workWidth);
    const [height, width] = scaledSize(content.height, content.width, Math.min(MAX_OUTPUT_SIDE, Math.max(content.height, content.width)));
    const out = height === workHeight && width === workWidth ? work : drawn(bitmapOf(work), height, width);
    if (spatial && (height > workHeight || width > workWidth) || options.keepColors) {
      const photo = drawn(content, height, width);
      if (spatial && (height > workHeight || width > workWidth)) restoreDetail(out, photo, workHeight, workWidth);
      if (options.keepColors) keepColours(out, photo);
    }
    return bitmapOf(out).convertToBlob({ type: "image/png" });
  }
}
