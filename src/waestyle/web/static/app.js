// The waestyle page: choose a content and one or more styles, set the controls, then POST /api/transfer, or
// run the exported graphs here (local.js). Served by `waestyle serve`, or as the static site of
// `waestyle export --web` (site.json says so; there it always runs here).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { content: null, styles: [], mixing: false, model: null, site: null, engine: null };
const runsHere = () => document.querySelector("input[name=engine]:checked").value === "here";

// A chosen image: an uploaded File or a bundled example's name, with a URL to preview it.
function fromFile(file) { return { file, label: file.name, url: URL.createObjectURL(file) }; }
function fromExample(example) { return { example: example.name, label: example.name, url: example.url }; }
// The slider moves in octaves: -2..2 is a texture 4x finer to 4x larger than the default.
function styleScale() { return 2 ** Number($("style-scale").value); }

function setContent(item) {
  state.content = item;
  $("content-preview").src = item.url;
  markChosen("content-examples", item.example);
  refresh();
}

function addStyle(item) {
  if (!state.mixing && state.styles.length) state.styles.pop();
  if (state.styles.length >= (state.model?.limits.max_styles ?? 8)) return;
  state.styles.push({ ...item, weight: 1 });
  state.mixing = false;
  $("style-preview").src = item.url;
  markChosen("style-examples", item.example);
  renderStyles();
  refresh();
}

function renderStyles() {
  const list = $("style-list");
  list.replaceChildren();
  if (state.styles.length < 2) return;  // weights only matter when styles are mixed
  state.styles.forEach((style, index) => {
    const row = document.createElement("li");
    const thumb = Object.assign(document.createElement("img"), { src: style.url, alt: style.label });
    const weight = Object.assign(document.createElement("input"),
      { type: "number", min: "0", step: "0.1", value: style.weight, className: "weight" });
    weight.setAttribute("aria-label", `weight of ${style.label}`);
    weight.addEventListener("input", () => { style.weight = Number(weight.value); });
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "remove" });
    remove.addEventListener("click", () => { state.styles.splice(index, 1); renderStyles(); refresh(); });
    row.append(thumb, document.createTextNode(style.label), weight, remove);
    list.append(row);
  });
}

function markChosen(galleryId, name) {
  for (const img of $(galleryId).querySelectorAll("img")) img.classList.toggle("chosen", img.dataset.name === name);
}

function refresh() {
  const hasStyle = state.styles.length > 0 || $("random-style").checked;
  $("stylise").disabled = !(state.content && hasStyle);
}

function wireDrop(zoneId, inputId, onFile) {
  const zone = $(zoneId), input = $(inputId);
  input.addEventListener("change", () => { if (input.files[0]) onFile(fromFile(input.files[0])); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) onFile(fromFile(file));
  });
}

async function loadGallery(url, galleryId, onPick) {
  const examples = await (await fetch(url)).json();
  for (const example of examples) {
    const img = Object.assign(document.createElement("img"),
      { src: example.url, alt: example.name, title: example.name, loading: "lazy" });
    img.dataset.name = example.name;
    img.addEventListener("click", () => onPick(fromExample(example)));
    $(galleryId).append(img);
  }
}

function buildForm() {
  const form = new FormData();
  const content = state.content;
  if (content.file) form.append("content", content.file); else form.append("content_example", content.example);
  // The API takes weights in this order: uploaded styles, bundled examples, the random style.
  const uploads = state.styles.filter((s) => s.file), examples = state.styles.filter((s) => !s.file);
  uploads.forEach((s) => form.append("style", s.file));
  examples.forEach((s) => form.append("style_example", s.example));
  const weights = [...uploads, ...examples].map((s) => s.weight);
  if ($("random-style").checked) {
    form.append("random_style", "true");
    form.append("seed", String(Math.max(0, Math.floor(Number($("seed").value) || 0))));
    weights.push(1);
  }
  if (weights.length > 1) form.append("weights", weights.join(","));
  form.append("strength", $("strength").value);
  form.append("keep_colors", $("keep-colors").checked ? "true" : "false");
  if (Number($("refine").value) > 0) form.append("refine", $("refine").value);
  if (!$("style-scale-control").hidden) form.append("style_scale", String(styleScale()));
  if (!$("content-dim-control").hidden && Number($("content-dim").value) < state.model.model.content_dim) {
    form.append("content_dim", $("content-dim").value);
  }
  return form;
}

async function onServer() {
  const key = $("api-key").value.trim();
  const headers = key ? { "X-API-Key": key } : {};
  const response = await fetch("/api/transfer", { method: "POST", body: buildForm(), headers });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    throw new Error(detail || `the server answered ${response.status}`);
  }
  return response.blob();
}

// The graphs load once, on the first "here" (a few MB; the progress bar shows it).
function localEngine() {
  if (!state.engine) {
    const bar = $("load-progress");
    bar.hidden = false;
    const engine = new LocalEngine((loaded, total) => { bar.max = total || 1; bar.value = loaded; });
    state.engine = engine.load(state.site ? "model/" : "/model/").then((ready) => {
      bar.hidden = true;
      document.body.dataset.engineThreads = ready.threads;
      return ready;
    }, (error) => { state.engine = null; bar.hidden = true; throw error; });
  }
  return state.engine;
}

async function decodedImage(item) {
  return createImageBitmap(item.file ?? await (await fetch(item.url)).blob());
}

async function here() {
  $("status").textContent = "loading the model into this page…";
  const engine = await localEngine();
  $("status").textContent = "stylising here…";
  const bar = $("load-progress");
  bar.removeAttribute("value");  // an indeterminate bar while the worker runs
  bar.hidden = false;
  try {
    const styles = await Promise.all(state.styles.map(async (s) => ({ bitmap: await decodedImage(s), weight: s.weight })));
    const random = $("random-style").checked
      ? { seed: Math.max(0, Math.floor(Number($("seed").value) || 0)), weight: 1 } : null;
    const contentDim = $("content-dim-control").hidden ? null : Number($("content-dim").value);
    return await engine.stylise(await decodedImage(state.content), {
      styles, random, strength: Number($("strength").value), contentDim,
      keepColors: $("keep-colors").checked, styleScale: $("style-scale-control").hidden ? 1 : styleScale(),
    });
  } finally {
    bar.hidden = true;
  }
}

async function stylise() {
  const status = $("status");
  status.className = "";
  status.textContent = "stylising…";
  $("stylise").disabled = true;
  const started = performance.now();
  try {
    const blob = runsHere() ? await here() : await onServer();
    const url = URL.createObjectURL(blob);
    $("result").src = url;
    Object.assign($("download"), { href: url, hidden: false });
    const where = runsHere() ? ` here (${document.body.dataset.engineThreads} thread(s))` : "";
    status.textContent = `done${where} in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  } finally {
    refresh();
  }
}

// Refinement is PyTorch's: the page says so where it runs the graphs itself. So is a smaller content size for a
// model that fills the dropped z_c channels (from the prior, or from the style picture's own code): the graphs
// only zero them.
function showEngine() {
  const local = runsHere();
  const model = state.model.model;
  const filled = model.nested_content && (model.content_fill ?? "zero") !== "zero";
  $("api-key-control").hidden = local || !state.model.auth?.api_key;
  $("refine-control").hidden = local;
  $("refine-note").hidden = !local;
  if (local) $("refine").value = 0;
  $("content-dim-control").hidden = !model.nested_content || (local && filled);
  $("content-dim-note").hidden = !(local && filled);
}

async function start() {
  state.site = await fetch("site.json").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  state.model = state.site ?? await (await fetch("/api/health")).json();
  if (state.site) {  // a static site: no server to run on
    $("engine-server-choice").hidden = true;
    document.querySelector("input[name=engine][value=here]").checked = true;
  }
  for (const radio of document.querySelectorAll("input[name=engine]")) radio.addEventListener("change", showEngine);
  const model = state.model.model;
  $("model-info").textContent = `Model: ${model.arch}, trained at ${model.image_size} px.`;
  $("style-scale-control").hidden = model.arch !== "spatial";
  if (model.nested_content) {
    Object.assign($("content-dim"), { max: model.content_dim, value: model.content_dim });
    $("content-dim-value").textContent = model.content_dim;
  }
  showEngine();
  $("strength").addEventListener("input", () => { $("strength-value").textContent = Number($("strength").value).toFixed(2); });
  $("style-scale").addEventListener("input", () => { $("style-scale-value").textContent = styleScale().toFixed(2); });
  $("refine").addEventListener("input", () => {
    $("refine-value").textContent = Number($("refine").value) ? `${$("refine").value} steps` : "off";
  });
  $("content-dim").addEventListener("input", () => { $("content-dim-value").textContent = $("content-dim").value; });
  $("random-style").addEventListener("change", refresh);
  $("add-style").addEventListener("click", () => { state.mixing = true; $("status").textContent = "choose the next style"; });
  $("stylise").addEventListener("click", stylise);
  wireDrop("content-drop", "content-file", setContent);
  wireDrop("style-drop", "style-file", addStyle);
  await Promise.all([
    loadGallery(state.site ? "examples/contents.json" : "/api/contents", "content-examples", setContent),
    loadGallery(state.site ? "examples/styles.json" : "/api/styles", "style-examples", addStyle),
  ]);
  document.body.dataset.ready = "true";
}

start();
