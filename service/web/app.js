// The NIO web page: one track with sliders and a live chart, or a small
// catalog from a CSV. Talks only to this server's JSON API (/v1/...).
"use strict";

const $ = (id) => document.getElementById(id);
const UNITS = { duration_ms: "ms", loudness: "dB", tempo: "BPM", key: "pitch class",
                time_signature: "beats/bar" };
let model = null;            // GET /v1/model
let catalogRows = [];        // parsed CSV tracks
let catalogResults = [];     // results in the order they arrived

function fmt(v, digits = 2) {
  if (v === undefined || v === null || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  return v.toFixed(digits);
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// A server with --auth_tokens wants "Authorization: Bearer TOKEN" on every
// API call: the token is asked for once (the form appears on a 401) and kept
// for this tab only.
const TOKEN_KEY = "nio-token";
function withToken(headers) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  return headers;
}
function askForTokenOn401(res) {
  if (res.status === 401) $("token-form").hidden = false;
}

async function api(path, body) {
  const init = body === undefined ? { headers: withToken({}) } : {
    method: "POST", headers: withToken({ "Content-Type": "application/json" }),
    body: JSON.stringify(body) };
  const res = await fetch(path, init);
  askForTokenOn401(res);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON: shown as text */ }
  if (!res.ok) throw new Error(json && json.message ? json.message : `HTTP ${res.status}: ${text}`);
  return json;
}

// POST to the streaming endpoint; calls onEvent for every NDJSON event.
async function stream(body, onEvent) {
  const res = await fetch("/v1/optimize/stream", {
    method: "POST", headers: withToken({ "Content-Type": "application/json" }),
    body: JSON.stringify(body) });
  askForTokenOn401(res);
  if (!res.ok) {
    const text = await res.text();
    let message = `HTTP ${res.status}`;
    try { message = JSON.parse(text).message || message; } catch (e) { message += ": " + text; }
    throw new Error(message);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const event = JSON.parse(line);
      if (event.error) throw new Error(event.error.message);
      onEvent(event);
    }
    if (done) break;
  }
}

// ---- the form -------------------------------------------------------------

function featureStep(f) {
  if (f.kind === "binary" || f.kind === "integer") return 1;
  const span = f.range_max - f.range_min;
  return span > 1000 ? 1000 : span > 100 ? 1 : span > 10 ? 0.1 : 0.01;
}

function validMessage(f, v) {
  if (!isFinite(v)) return "enter a number";
  if (f.valid_min !== undefined && (v < f.valid_min || (f.valid_min_exclusive && v === f.valid_min)))
    return `must be ${f.valid_min_exclusive ? ">" : "≥"} ${f.valid_min}`;
  if (f.valid_max !== undefined && (v > f.valid_max || (f.valid_max_exclusive && v === f.valid_max)))
    return `must be ${f.valid_max_exclusive ? "<" : "≤"} ${f.valid_max}`;
  if ((f.kind === "binary" || f.kind === "integer") && v !== Math.round(v)) return "must be a whole number";
  return "";
}

function buildFeatures() {
  const box = $("features");
  box.textContent = "";
  const mutable = new Set(model.default_options.mutable_features || []);
  for (const f of model.features) {
    const row = document.createElement("div");
    row.className = "feature";
    row.dataset.feature = f.name;
    const unit = UNITS[f.name] || (f.kind === "binary" ? "0 or 1" : "");
    const toggle = Object.assign(document.createElement("input"), {
      type: "checkbox", id: `mut-${f.name}`, checked: mutable.has(f.name) || f.mutable_by_default });
    toggle.setAttribute("aria-label", `the optimizer may change ${f.name}`);
    const name = document.createElement("label");
    name.className = "name";
    name.htmlFor = `val-${f.name}`;
    name.title = f.description;
    name.textContent = f.name;
    const small = document.createElement("small");
    small.textContent = f.kind === "binary" ? "0 or 1"
      : f.kind === "integer" ? `${f.range_min} … ${f.range_max}${unit ? " " + unit : ""}`
      : `${fmt(f.range_min)} … ${fmt(f.range_max)}${unit ? " " + unit : ""}`;
    name.appendChild(small);
    const slider = Object.assign(document.createElement("input"), {
      type: "range", id: `rng-${f.name}`, min: f.range_min, max: f.range_max, step: featureStep(f),
      title: f.description });
    slider.setAttribute("aria-label", `${f.name} slider`);
    const number = Object.assign(document.createElement("input"), {
      type: "number", id: `val-${f.name}`, step: "any", title: f.description });
    const msg = document.createElement("div");
    msg.className = "msg";
    msg.id = `msg-${f.name}`;
    msg.setAttribute("role", "alert");
    slider.addEventListener("input", () => { number.value = slider.value; checkFeature(f); });
    number.addEventListener("input", () => { slider.value = number.value; checkFeature(f); });
    const help = () => { $("feature-help").textContent = `${f.name}: ${f.description}`; };
    row.addEventListener("focusin", help);
    row.addEventListener("mouseenter", help);
    row.append(toggle, name, slider, number, msg);
    box.appendChild(row);
  }
}

function checkFeature(f) {
  const input = $(`val-${f.name}`);
  const message = input.value.trim() === "" ? "enter a number" : validMessage(f, Number(input.value));
  input.setAttribute("aria-invalid", message ? "true" : "false");
  $(`msg-${f.name}`).textContent = message ? `${f.name}: ${message}` : "";
  return !message;
}

function setTrack(track) {
  const values = track.features || {};
  for (const f of model.features) {
    const v = values[f.name] !== undefined ? values[f.name] : f.default_value;
    $(`val-${f.name}`).value = +v.toPrecision(6);
    $(`rng-${f.name}`).value = v;
    checkFeature(f);
  }
  if (track.genre) $("genre").value = track.genre;
}

function applyPreset() {
  const preset = model.presets.find((p) => p.name === $("preset").value);
  if (!preset) return;
  $("preset-description").textContent = preset.description || "";
  setTrack(preset.track || {});
  const options = preset.options || {};
  if (options.mutable_features && options.mutable_features.length) {
    const m = new Set(options.mutable_features);
    for (const f of model.features) $(`mut-${f.name}`).checked = m.has(f.name);
  }
}

function readOptions() {
  const o = {
    optimizer: $("opt-optimizer").value, mode: $("opt-mode").value,
    steps: Number($("opt-steps").value), lambda: Number($("opt-lambda").value),
    starts: Number($("opt-starts").value),
    mutable_features: model.features.filter((f) => $(`mut-${f.name}`).checked).map((f) => f.name),
  };
  const target = $("opt-target").value.trim();
  if (target !== "") o.target = Number(target);
  const problems = [];
  const bad = (id, text) => { problems.push(text); $(id).setAttribute("aria-invalid", "true"); };
  for (const id of ["opt-steps", "opt-lambda", "opt-starts", "opt-target"]) $(id).setAttribute("aria-invalid", "false");
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 100000) bad("opt-steps", "steps: a whole number in [1, 100000]");
  if (!isFinite(o.lambda) || o.lambda < 0) bad("opt-lambda", "λ: a number ≥ 0");
  if (!Number.isInteger(o.starts) || o.starts < 1 || o.starts > 64) bad("opt-starts", "starts: a whole number in [1, 64]");
  if (o.target !== undefined && !isFinite(o.target)) bad("opt-target", "target: a number, or empty for none");
  if (o.mode === "MODE_REFERENCE" && o.optimizer === "OPTIMIZER_LBFGS")
    problems.push("reference mode runs the original app's Adam: pick Adam, or projected mode");
  if (!o.mutable_features.length) problems.push("tick at least one feature the optimizer may change");
  if (o.optimizer === "OPTIMIZER_ADAM" && model.default_options.lr) o.lr = model.default_options.lr;
  return { options: o, problems };
}

function readTrack() {
  const features = {};
  let ok = true;
  for (const f of model.features) {
    ok = checkFeature(f) && ok;
    features[f.name] = Number($(`val-${f.name}`).value);
  }
  return { ok, track: { id: "page", genre: $("genre").value, features } };
}

// ---- one track ------------------------------------------------------------

function drawLine(points) {
  const chart = $("live-chart");
  chart.textContent = "";
  chart.dataset.points = String(points.length);
  if (!points.length) return;
  const W = 600, H = 220, L = 40, R = 10, T = 10, B = 25;
  const ys = points.map((p) => p.prediction);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1) { lo -= 0.5; hi += 0.5; }
  const maxStep = Math.max(...points.map((p) => p.step), 1);
  const x = (s) => L + (W - L - R) * (s / maxStep);
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  chart.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#ccc" }));
  chart.append(svg("text", { x: 2, y: y(hi) + 4 }, fmt(hi, 1)), svg("text", { x: 2, y: y(lo) }, fmt(lo, 1)));
  chart.append(svg("text", { x: W - R - 60, y: H - 6 }, `step ${maxStep}`));
  chart.append(svg("polyline", { fill: "none", stroke: "#1565c0", "stroke-width": 2,
    points: points.map((p) => `${x(p.step).toFixed(1)},${y(p.prediction).toFixed(1)}`).join(" ") }));
  for (const p of points) chart.append(svg("circle", { cx: x(p.step), cy: y(p.prediction), r: 2.5, fill: "#1565c0" }));
}

function drawBars(changes) {
  const chart = $("bar-chart");
  chart.textContent = "";
  const byName = Object.fromEntries(model.features.map((f) => [f.name, f]));
  const rows = changes.filter((c) => c.delta !== 0);
  chart.dataset.bars = String(rows.length);
  const W = 600, rowH = 22, L = 130, mid = L + (W - L) / 2;
  chart.setAttribute("viewBox", `0 0 ${W} ${Math.max(40, rows.length * rowH + 10)}`);
  chart.append(svg("line", { x1: mid, y1: 0, x2: mid, y2: rows.length * rowH + 10, stroke: "#ccc" }));
  rows.forEach((c, i) => {
    const f = byName[c.name];
    const share = c.delta / ((f.range_max - f.range_min) || 1);
    const w = Math.min(1, Math.abs(share)) * (W - L) / 2;
    const yy = 5 + i * rowH;
    chart.append(svg("text", { x: 4, y: yy + 14 }, c.name));
    chart.append(svg("rect", { x: share >= 0 ? mid : mid - w, y: yy + 3, width: Math.max(w, 1), height: rowH - 8,
      fill: share >= 0 ? "#2e7d32" : "#c62828" }));
    chart.append(svg("text", { x: share >= 0 ? mid + w + 4 : mid - w - 60, y: yy + 14 },
      `${c.delta > 0 ? "+" : ""}${fmt(c.delta)}`));
  });
}

// How big a change is: its share of the feature's range, so a tempo in BPM
// and a danceability in 0..1 compare.
function changeShare(c) {
  const f = model.features.find((x) => x.name === c.name);
  return f ? Math.abs(c.delta) / ((f.range_max - f.range_min) || 1) : Math.abs(c.delta);
}

function suggestionText(c) {
  const unit = UNITS[c.name] ? " " + UNITS[c.name] : "";
  const verb = c.delta > 0 ? "Raise" : "Lower";
  return `${verb} ${c.name} from ${fmt(c.original)} to ${fmt(c.optimized)}${unit} (${c.delta > 0 ? "+" : ""}${fmt(c.delta)})`;
}

function showResult(r) {
  $("result").hidden = false;
  $("card-before").textContent = fmt(r.prediction_before);
  $("card-after").textContent = fmt(r.prediction_after);
  $("card-raw").textContent = fmt(r.prediction_raw);
  const d = $("card-delta");
  d.textContent = `${r.delta > 0 ? "+" : ""}${fmt(r.delta)}`;
  d.className = "value " + (r.delta > 0 ? "up" : r.delta < 0 ? "down" : "");
  const list = $("suggestions");
  list.textContent = "";
  const changes = (r.changes || []).slice().sort((a, b) => changeShare(b) - changeShare(a));
  // Changes under 0.2% of a range are noise, not advice.
  const moved = changes.filter((c) => c.delta !== 0 && changeShare(c) >= 0.002);
  if (!moved.length) {
    list.append(Object.assign(document.createElement("li"), {
      textContent: "Keep the track as it is: no change the model rates higher was found." }));
  }
  for (const c of moved) list.append(Object.assign(document.createElement("li"), { textContent: suggestionText(c) }));
  const body = $("changes").querySelector("tbody");
  body.textContent = "";
  for (const c of changes) {
    const tr = document.createElement("tr");
    for (const v of [c.name, fmt(c.original), fmt(c.optimized), (c.delta > 0 ? "+" : "") + fmt(c.delta), fmt(c.unclamped)])
      tr.append(Object.assign(document.createElement("td"), { textContent: v }));
    body.append(tr);
  }
  drawBars(changes);
  const q = r.quality || {};
  $("quality").textContent = `${r.steps_run} steps, ${q.starts || 1} start(s), optimizer ${
    (q.optimizer || "").replace("OPTIMIZER_", "").toLowerCase()}; ${q.features_changed || 0} features changed` +
    (q.improved === false ? "; the track as given was already the best found" : "");
}

async function optimize(event) {
  event.preventDefault();
  showError($("options-error"), "");
  const { ok, track } = readTrack();
  const { options, problems } = readOptions();
  if (!ok) problems.unshift("fix the features marked in red");
  if (problems.length) { showError($("options-error"), problems.join("\n")); return; }
  options.progress_every = 1;
  options.priority = "PRIORITY_INTERACTIVE";
  const button = $("optimize");
  button.disabled = true;
  $("status").textContent = "Optimizing…";
  const points = [];
  drawLine(points);
  try {
    let result = null;
    await stream({ tracks: [track], options }, (e) => {
      if (e.progress) { points.push(e.progress); drawLine(points); }
      if (e.result) result = e.result;
    });
    if (!result) throw new Error("the server ended the stream without a result");
    if (result.status && result.status.code) throw new Error(result.status.message);
    drawLine(points);
    const starts = (result.quality && result.quality.starts) || 1;
    $("live-caption").textContent = starts > 1
      ? `The line follows start 0 (the track as given); the answer, ${fmt(result.prediction_after)}, is the best of ${starts} starts.`
      : `The answer: ${fmt(result.prediction_after)} after ${result.steps_run} steps.`;
    showResult(result);
    $("status").textContent = "Done.";
  } catch (e) {
    $("result").hidden = true;  // no earlier answer beside this error
    showError($("options-error"), e.message);
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

// ---- small catalog --------------------------------------------------------

function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; ++i) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; ++i; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") ++i;
      row.push(field); field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

function csvCell(v) {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function tracksFromCsv(text) {
  const rows = parseCsv(text);
  if (rows.length < 2) throw new Error("the CSV has no data rows");
  const header = rows[0].map((h) => h.trim());
  const idCol = header.indexOf("track_id");
  const genreCol = header.indexOf("track_genre");
  if (genreCol < 0) throw new Error("the CSV has no track_genre column (Spotify tracks layout)");
  const names = new Set(model.features.map((f) => f.name));
  const featureCols = header.map((h, i) => [h, i]).filter(([h]) => names.has(h));
  if (!featureCols.length) throw new Error("the CSV has none of the model's feature columns");
  if (rows.length - 1 > 10000) throw new Error(`${rows.length - 1} rows: the page takes up to 10000; use nio batch for more`);
  const seen = new Map();
  return rows.slice(1).map((r, n) => {
    let id = idCol >= 0 && r[idCol] ? r[idCol] : `row-${n + 1}`;
    const k = seen.get(id) || 0;
    seen.set(id, k + 1);
    if (k) id = `${id}#${k + 1}`;
    const features = {};
    let error = "";
    for (const [h, i] of featureCols) {
      const raw = (r[i] || "").trim();
      if (raw === "") continue;
      const v = raw === "True" || raw === "true" ? 1 : raw === "False" || raw === "false" ? 0 : Number(raw);
      if (!isFinite(v) && !error) error = `line ${n + 2}: ${h}: '${raw}' is not a number`;
      features[h] = v;
    }
    return { id, genre: (r[genreCol] || "").trim(), features, error };
  });
}

function addCatalogRow(r, track) {
  const tr = document.createElement("tr");
  const failed = r.status && r.status.code;
  const top = (r.changes || []).filter((c) => c.delta !== 0).sort((a, b) => changeShare(b) - changeShare(a))[0];
  const cells = [r.id, track ? track.genre : "", failed ? "–" : fmt(r.prediction_before),
    failed ? "–" : fmt(r.prediction_after), failed ? "–" : (r.delta > 0 ? "+" : "") + fmt(r.delta),
    failed ? "" : top ? suggestionText(top) : "keep as is", failed ? r.status.message : "ok"];
  for (const v of cells) tr.append(Object.assign(document.createElement("td"), { textContent: v }));
  if (failed) tr.className = "down";
  $("csv-results").querySelector("tbody").append(tr);
}

async function runCatalog() {
  showError($("csv-error"), "");
  const { options, problems } = readOptions();
  if (problems.length) { showError($("csv-error"), problems.join("\n")); return; }
  options.priority = "PRIORITY_BATCH";
  const byId = new Map(catalogRows.map((t) => [t.id, t]));
  catalogResults = [];
  $("csv-results").querySelector("tbody").textContent = "";
  // Rows the page cannot read fail alone, here; the rest go to the server.
  const send = [];
  for (const t of catalogRows) {
    if (!t.error) { send.push({ id: t.id, genre: t.genre, features: t.features }); continue; }
    const r = { id: t.id, status: { code: 3, message: t.error } };
    catalogResults.push(r);
    addCatalogRow(r, t);
  }
  const progress = $("csv-progress");
  progress.hidden = false;
  progress.max = catalogRows.length;
  progress.value = 0;
  $("csv-run").disabled = true;
  $("csv-download").disabled = true;
  try {
    if (send.length) await stream({ tracks: send, options }, (e) => {
      if (!e.result) return;
      catalogResults.push(e.result);
      addCatalogRow(e.result, byId.get(e.result.id));
      progress.value = catalogResults.length;
      $("csv-status").textContent = `${catalogResults.length} of ${catalogRows.length} tracks answered`;
    });
    $("csv-status").textContent = `Done: ${catalogResults.length} of ${catalogRows.length} tracks answered.`;
  } catch (e) {
    showError($("csv-error"), e.message);
  } finally {
    $("csv-run").disabled = false;
    $("csv-download").disabled = catalogResults.length === 0;
  }
}

function catalogCsv() {
  const names = model.features.map((f) => f.name);
  const lines = [["track_id", "track_genre", "prediction_before", "prediction_after", "delta", "status",
    ...names.map((n) => `suggested_${n}`)].join(",")];
  const byId = new Map(catalogRows.map((t) => [t.id, t]));
  for (const r of catalogResults) {
    const t = byId.get(r.id) || {};
    const failed = r.status && r.status.code;
    const suggested = Object.fromEntries((r.changes || []).map((c) => [c.name, c.optimized]));
    const values = names.map((n) => failed ? "" : suggested[n] !== undefined ? suggested[n]
      : t.features && t.features[n] !== undefined ? t.features[n] : "");
    lines.push([r.id, t.genre || "", failed ? "" : r.prediction_before, failed ? "" : r.prediction_after,
      failed ? "" : r.delta, failed ? r.status.message : "ok", ...values].map(csvCell).join(","));
  }
  return lines.join("\n") + "\n";
}

function download() {
  const blob = new Blob([catalogCsv()], { type: "text/csv" });
  const a = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob), download: "nio-results.csv" });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---- start ----------------------------------------------------------------

function selectTab(which) {
  for (const t of ["track", "catalog"]) {
    $(`tab-${t}`).setAttribute("aria-selected", String(t === which));
    $(`panel-${t}`).hidden = t !== which;
  }
}

async function start() {
  try {
    model = await api("/v1/model");
  } catch (e) {
    showError($("page-error"), `Cannot load the model: ${e.message}`);
    return;
  }
  $("model-line").textContent = `${model.name} ${model.version}: ${model.description}. Backend: ${model.backend}.`;
  const genre = $("genre");
  for (const g of model.genres) genre.append(new Option(g, g));
  const preset = $("preset");
  for (const p of model.presets) preset.append(new Option(p.label || p.name, p.name));
  buildFeatures();
  const d = model.default_options;
  $("opt-optimizer").value = d.optimizer === "OPTIMIZER_ADAM" ? "OPTIMIZER_ADAM" : "OPTIMIZER_LBFGS";
  $("opt-mode").value = d.mode === "MODE_REFERENCE" ? "MODE_REFERENCE" : "MODE_PROJECTED";
  $("opt-steps").value = d.steps || 300;
  $("opt-lambda").value = d.lambda !== undefined ? d.lambda : 0.1;
  $("opt-starts").value = d.starts || 1;
  if (d.target !== undefined) $("opt-target").value = d.target;
  preset.addEventListener("change", applyPreset);
  applyPreset();
  $("track-form").addEventListener("submit", optimize);
  $("tab-track").addEventListener("click", () => selectTab("track"));
  $("tab-catalog").addEventListener("click", () => selectTab("catalog"));
  $("csv-file").addEventListener("change", async () => {
    showError($("csv-error"), "");
    const file = $("csv-file").files[0];
    catalogRows = [];
    $("csv-run").disabled = true;
    if (!file) return;
    try {
      catalogRows = tracksFromCsv(await file.text());
      $("csv-status").textContent = `${catalogRows.length} tracks read from ${file.name}.`;
      $("csv-run").disabled = false;
    } catch (e) {
      showError($("csv-error"), `${file.name}: ${e.message}`);
    }
  });
  $("csv-run").addEventListener("click", runCatalog);
  $("csv-download").addEventListener("click", download);
  document.body.dataset.ready = "true";
}

start();

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  location.reload();
});
