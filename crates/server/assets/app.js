// avx serve: the page. Plain JavaScript, no framework, no build step; talks to the JSON API of the same server.
"use strict";

const $ = (s, el = document) => el.querySelector(s);
const player = $("#player");
const state = { view: "results", rows: [], selected: -1, playingId: null, info: null, peaks: new Map(), map: null };
const TARGET_LUFS = -20;
let audioCtx = null, gainNode = null;

function clock(s) {
  s = Math.max(0, s || 0);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}
// A path from the API: a string, or {bytes: base64} for a name that is not UTF-8 (shown with U+FFFD).
function pathText(p) {
  return typeof p === "string" ? p : new TextDecoder().decode(Uint8Array.from(atob(p.bytes), (c) => c.charCodeAt(0)));
}
function baseName(p) { return p.split(/[\\/]/).pop(); }
function folderOf(p) { const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\")); return i > 0 ? p.slice(0, i) : ""; }
function toast(msg) { const t = $("#toast"); t.textContent = msg; t.classList.add("show"); clearTimeout(t._h); t._h = setTimeout(() => t.classList.remove("show"), 1600); }
function status(msg) { $("#status").textContent = msg; }

async function api(url, opts) {
  const r = await fetch(url, opts);
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// ---- playback, loudness-matched through a Web Audio gain ----
function ensureGraph() {
  if (audioCtx) return;
  try {
    audioCtx = new AudioContext();
    gainNode = audioCtx.createGain();
    audioCtx.createMediaElementSource(player).connect(gainNode).connect(audioCtx.destination);
  } catch (e) { audioCtx = null; }
}
function gainFor(id) {
  if (!$("#match").checked) return 1;
  const p = state.peaks.get(id);
  if (!p || p.lufs == null) return 1;
  return Math.min(4, Math.max(0.05, Math.pow(10, (TARGET_LUFS - p.lufs) / 20)));
}
async function play(id, offset = 0) {
  ensureGraph();
  if (audioCtx && audioCtx.state === "suspended") audioCtx.resume();
  if (state.playingId === id && !player.paused && offset === 0) { player.pause(); return; }
  if (!state.peaks.has(id)) await loadPeaks(id).catch(() => {});
  if (gainNode) gainNode.gain.value = gainFor(id);
  if (state.playingId !== id) { player.src = `/audio/${id}`; }
  state.playingId = id;
  player.currentTime = offset;
  player.play().catch(() => {});
  markPlaying();
}
function markPlaying() {
  document.querySelectorAll(".result").forEach(el => el.classList.toggle("playing", +el.dataset.id === state.playingId && !player.paused));
}
player.addEventListener("pause", markPlaying);
player.addEventListener("play", markPlaying);
player.addEventListener("timeupdate", drawProgress);
$("#match").addEventListener("change", () => { if (gainNode && state.playingId != null) gainNode.gain.value = gainFor(state.playingId); });

// ---- waveforms ----
async function loadPeaks(id) {
  if (state.peaks.has(id)) return state.peaks.get(id);
  const p = await api(`/api/files/${id}/peaks?n=120`);
  state.peaks.set(id, p);
  return p;
}
function drawWave(canvas, peaks, progress = 0) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 230, h = canvas.clientHeight || 40;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d");
  g.scale(dpr, dpr);
  const n = peaks.length || 1, bw = w / n;
  const max = Math.max(0.05, ...peaks);
  peaks.forEach((v, i) => {
    const bh = Math.max(1.5, (v / max) * (h - 4));
    g.fillStyle = i / n < progress ? "#5ee6c5" : "#4a5368";
    g.fillRect(i * bw + 0.5, (h - bh) / 2, Math.max(1, bw - 1), bh);
  });
}
function drawProgress() {
  const id = state.playingId;
  const p = state.peaks.get(id);
  if (!p) return;
  const frac = player.duration ? player.currentTime / player.duration : 0;
  document.querySelectorAll(`.result[data-id="${id}"] canvas.wave`).forEach(c => drawWave(c, p.peaks, frac));
}

// ---- result rows ----
function resultRow(hit, extra = {}) {
  const li = document.createElement("li");
  li.className = "result";
  li.dataset.id = hit.id;
  li.draggable = true;
  const score = hit.score != null ? hit.score : hit.similarity;
  li.innerHTML = `
    <button class="play" title="Play (space)">▶</button>
    <div class="score">${score != null ? score.toFixed(3) : ""}<small>${extra.badge || (hit.start != null ? clock(hit.start) : "score")}</small></div>
    <div class="meta"><div class="name"></div><div class="folder"></div></div>
    <canvas class="wave"></canvas>
    <div class="dur"></div>
    <div class="actions"><button class="btn more">More like this</button><button class="btn copy">Copy path</button></div>`;
  $(".name", li).textContent = baseName(pathText(hit.path));
  $(".folder", li).textContent = folderOf(pathText(hit.path));
  $(".dur", li).textContent = hit.duration != null ? clock(hit.duration) : "";
  // A click anywhere in a row of the result list selects it, so that the keys then act on the row clicked.
  const selectThis = () => { const i = state.rows.indexOf(hit); if (i >= 0) select(i); };
  $(".play", li).onclick = (e) => { e.stopPropagation(); selectThis(); play(hit.id, hit.start || 0); };
  $("canvas", li).onclick = (e) => {
    const p = state.peaks.get(hit.id); const r = e.target.getBoundingClientRect();
    play(hit.id, p ? ((e.clientX - r.left) / r.width) * p.duration : 0);
  };
  $(".more", li).onclick = (e) => { e.stopPropagation(); similarTo(hit.id, baseName(pathText(hit.path))); };
  $(".copy", li).onclick = (e) => { e.stopPropagation(); copyPath(pathText(hit.path)); };
  li.onclick = selectThis;
  // Drag out (Chromium): `DownloadURL` is "type:name:url", the file a drop onto the desktop or a DAW track saves.
  // The type and name are what /audio/ID serves (a WAV named NAME.wav when the original is converted), known
  // from the waveform's answer; until that arrives, the original name and a generic type.
  li.addEventListener("dragstart", (e) => {
    const url = new URL(`/audio/${hit.id}`, location.href).href;
    const audio = (state.peaks.get(hit.id) || {}).audio || { type: "application/octet-stream", name: baseName(pathText(hit.path)) };
    e.dataTransfer.setData("DownloadURL", `${audio.type}:${audio.name}:${url}`);
    e.dataTransfer.setData("text/uri-list", url);
    e.dataTransfer.setData("text/plain", pathText(hit.path));
  });
  loadPeaks(hit.id).then(p => drawWave($("canvas", li), p.peaks)).catch(() => {});
  return li;
}
function copyPath(p) {
  (navigator.clipboard ? navigator.clipboard.writeText(p) : Promise.reject()).then(() => toast("Path copied"), () => toast(p));
}
function showResults(hits, label) {
  state.rows = hits;
  state.selected = -1;
  $("#query-label").innerHTML = label;
  const ol = $("#results");
  ol.replaceChildren(...hits.map(h => resultRow(h)));
  if (!hits.length) ol.innerHTML = `<div class="empty">No results</div>`;
  $("#dropzone").style.display = hits.length ? "none" : "";
  switchView("results");
}
function select(i) {
  if (i < 0 || i >= state.rows.length) return;
  state.selected = i;
  document.querySelectorAll("#results .result").forEach((el, j) => el.classList.toggle("selected", j === i));
  const el = document.querySelectorAll("#results .result")[i];
  if (el) el.scrollIntoView({ block: "nearest" });
}
function esc(s) { return s.replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }

// ---- queries ----
let searchSeq = 0;
async function runSearch(text) {
  const seq = ++searchSeq;
  if (!text.trim()) return;
  const seg = state.view === "timeline" ? "&segments=1&k=50" : "";
  try {
    status("searching…");
    const t0 = performance.now();
    const hits = await api(`/api/search?q=${encodeURIComponent(text)}&k=20${seg}`);
    if (seq !== searchSeq) return;
    status(`${hits.length} results · ${Math.round(performance.now() - t0)} ms`);
    if (seg) showTimeline(hits, `“${esc(text)}”`); else showResults(hits, `Sounds like <b>“${esc(text)}”</b>`);
  } catch (e) { if (seq === searchSeq) { status(""); $("#query-label").innerHTML = `<div class="error">${esc(e.message)}</div>`; } }
}
async function similarTo(id, name) {
  const seg = state.view === "timeline" ? "&segments=1&k=50" : "";
  const hits = await api(`/api/similar?id=${id}&k=20${seg}`).catch(e => { toast(e.message); return null; });
  if (!hits) return;
  if (seg) showTimeline(hits, esc(name)); else showResults(hits, `More like <b>${esc(name)}</b>`);
}
async function uploadReference(file) {
  const seg = state.view === "timeline" ? "&segments=1&k=50" : "";
  status(`analysing ${file.name}…`);
  const t0 = performance.now();
  try {
    const hits = await api(`/api/similar?k=20${seg}&name=${encodeURIComponent(file.name)}`, {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
    status(`${hits.length} results · ${Math.round(performance.now() - t0)} ms`);
    if (seg) showTimeline(hits, esc(file.name)); else showResults(hits, `Similar to <b>${esc(file.name)}</b>`);
  } catch (e) { status(""); $("#query-label").innerHTML = `<div class="error">${esc(e.message)}</div>`; switchView(state.view === "timeline" ? "timeline" : "results"); }
}
let typing = null;
$("#q").addEventListener("input", (e) => { clearTimeout(typing); typing = setTimeout(() => runSearch(e.target.value), 250); });
$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(typing); runSearch($("#q").value); });
$("#file").addEventListener("change", (e) => { if (e.target.files[0]) uploadReference(e.target.files[0]); });
window.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("Files")) { e.preventDefault(); document.body.classList.add("dragging"); } });
window.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dragging"); });
window.addEventListener("drop", (e) => {
  document.body.classList.remove("dragging");
  if (e.dataTransfer.files.length) { e.preventDefault(); uploadReference(e.dataTransfer.files[0]); }
});

// ---- keyboard ----
// In the result list: up/down move the selection, space plays or pauses the selected row, enter asks for more like
// it. The keys belong to the list also when one of its rows' buttons has the focus (after a click on ▶), so that
// space or enter does not also press that button; a text field, or a button outside the list, keeps its own keys.
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) && !(t.id === "q" && e.key === "ArrowDown")) return;
  if (t.tagName === "BUTTON" && !t.closest("#results")) return;
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  if (state.view !== "results" || !state.rows.length) return;
  if (e.key === "ArrowDown") { e.preventDefault(); if (t.blur) t.blur(); select(Math.min(state.rows.length - 1, state.selected + 1)); }
  else if (e.key === "ArrowUp") { e.preventDefault(); select(Math.max(0, state.selected - 1)); }
  else if (e.key === " ") {
    e.preventDefault();
    const r = state.rows[Math.max(0, state.selected)];
    if (!r) return;
    select(state.rows.indexOf(r));
    if (state.playingId === r.id && !player.paused) player.pause(); else play(r.id, r.start || 0);
  }
  else if (e.key === "Enter") { const r = state.rows[state.selected]; if (r) { e.preventDefault(); similarTo(r.id, baseName(pathText(r.path))); } }
});

// ---- views ----
function switchView(v) {
  state.view = v;
  document.querySelectorAll(".tab").forEach(t => t.classList.toggle("active", t.dataset.view === v));
  document.querySelectorAll(".view").forEach(s => s.classList.toggle("active", s.id === `view-${v}`));
  if (v === "dupes" && !$("#dupes").dataset.loaded) loadDupes();
  if (v === "clusters" && !$("#clusters").dataset.loaded) loadClusters();
  if (v === "map") loadMap();
}
document.querySelectorAll(".tab").forEach(t => t.onclick = () => switchView(t.dataset.view));

async function loadDupes() {
  const box = $("#dupes");
  box.dataset.loaded = "1";
  box.innerHTML = `<div class="empty">Looking for near-duplicates…</div>`;
  const t = $("#threshold").value;
  try {
    const groups = await api(`/api/dupes${t ? `?threshold=${t}` : ""}`);
    box.replaceChildren(...groups.map(g => {
      const div = document.createElement("div"); div.className = "group";
      div.innerHTML = `<h3>Group ${g.group} <span class="pill">${g.members.length} files</span></h3><ol class="members"></ol>`;
      $("ol", div).replaceChildren(...g.members.map((m, i) => resultRow(m, { badge: i ? "vs first" : "first" })));
      return div;
    }));
    if (!groups.length) box.innerHTML = `<div class="empty">No near-duplicates at this threshold</div>`;
  } catch (e) { box.innerHTML = `<div class="error">${esc(e.message)}</div>`; }
}
$("#threshold").addEventListener("change", loadDupes);

async function loadClusters() {
  const box = $("#clusters");
  box.dataset.loaded = "1";
  box.innerHTML = `<div class="empty">Clustering…</div>`;
  try {
    const n = state.info ? state.info.files : 8;
    const k = Math.max(1, Math.min(+$("#k").value || 8, n));
    const cs = await api(`/api/clusters?k=${k}`);
    box.replaceChildren(...cs.map(c => {
      const div = document.createElement("div"); div.className = "cluster";
      const labels = c.labels.map(l => `<span class="pill">${esc(l.label)}</span>`).join("");
      div.innerHTML = `<h3>Cluster ${c.cluster} <span class="pill ex">${c.size} ${c.size === 1 ? "file" : "files"}</span>${labels}</h3><ol class="members"></ol>`;
      const members = [...c.members].sort((a, b) => b.similarity - a.similarity);
      $("ol", div).replaceChildren(...members.slice(0, 6).map(m => resultRow(m, { badge: m.id === c.exemplar_id ? "exemplar" : "to centre" })));
      return div;
    }));
  } catch (e) { box.innerHTML = `<div class="error">${esc(e.message)}</div>`; }
}
$("#k").addEventListener("change", loadClusters);

// ---- map ----
const PALETTE = ["#7c9cff", "#5ee6c5", "#ffb86b", "#ff7eb6", "#c3a6ff", "#8bd450", "#ffd866", "#4cc9f0", "#f7768e", "#9ece6a", "#e0af68", "#bb9af7"];
async function loadMap() {
  const canvas = $("#map");
  if (!state.map) {
    try { state.map = await api("/api/map"); } catch (e) { toast(e.message); return; }
    state.mapFiles = new Map();
  }
  drawMap();
}
function mapXY(p, w, h) { const pad = 30, s = Math.min(w, h) / 2 - pad; return [w / 2 + p[1] * s * (w / h), h / 2 - p[2] * s]; }
function drawMap(hover) {
  const canvas = $("#map"); const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const g = canvas.getContext("2d"); g.scale(dpr, dpr);
  const pts = state.map.points; const r = pts.length > 5000 ? 1.6 : 5;
  g.globalAlpha = 0.85;
  for (const p of pts) {
    const [x, y] = mapXY(p, w, h);
    g.fillStyle = PALETTE[p[3] % PALETTE.length];
    g.beginPath(); g.arc(x, y, p === hover ? r * 2 : r, 0, 7); g.fill();
  }
}
function nearestPoint(e) {
  const canvas = $("#map"); const rect = canvas.getBoundingClientRect();
  const mx = e.clientX - rect.left, my = e.clientY - rect.top; let best = null, bd = 144;
  for (const p of state.map.points) {
    const [x, y] = mapXY(p, rect.width, rect.height); const d = (x - mx) ** 2 + (y - my) ** 2;
    if (d < bd) { bd = d; best = p; }
  }
  return best;
}
let hoverTimer = null, hovered = null;
$("#map").addEventListener("mousemove", (e) => {
  if (!state.map) return;
  const p = nearestPoint(e); const tip = $("#map-tip");
  if (p === hovered) return;
  hovered = p; drawMap(p); clearTimeout(hoverTimer);
  if (!p) { tip.style.display = "none"; return; }
  tip.style.display = "block"; tip.style.left = `${e.offsetX + 14}px`; tip.style.top = `${e.offsetY + 10}px`;
  tip.textContent = `file ${p[0]}`;
  api(`/api/files/${p[0]}`).then(f => { if (hovered === p) tip.textContent = f.name; }).catch(() => {});
  hoverTimer = setTimeout(() => play(p[0]), 180);
});
$("#map").addEventListener("click", (e) => { const p = state.map && nearestPoint(e); if (p) api(`/api/files/${p[0]}`).then(f => similarTo(p[0], f.name)); });

// ---- timeline: window hits of long files at their offsets ----
function showTimeline(hits, label) {
  switchView("timeline");
  const byFile = new Map();
  for (const h of hits) { if (!byFile.has(h.id)) byFile.set(h.id, []); byFile.get(h.id).push(h); }
  const box = $("#timeline");
  const head = document.createElement("div"); head.className = "query-label"; head.innerHTML = `Moments matching <b>${label}</b>`;
  // Files longer than one window first: there a hit's offset says where the sound is.
  let lists = [...byFile.values()];
  const long = lists.filter(l => l[0].duration > 1.05 * (l[0].end - l[0].start));
  if (long.length) lists = long;
  box.replaceChildren(head, ...lists.map(list => {
    const f = list[0]; const div = document.createElement("div"); div.className = "tl-file"; div.dataset.id = f.id;
    div.innerHTML = `<div class="tl-head"><div><div class="name"></div><div class="folder"></div></div><div><button class="tl-program" title="Cut this recording into segments: motifs, silence, and what each part sounds like">Segments</button> <span class="dur"></span></div></div><div class="tl-track"><canvas class="wave"></canvas></div><div class="tl-segs"></div>`;
    $(".tl-program", div).onclick = () => showProgramme(f.id, $(".tl-segs", div), f.duration);
    $(".name", div).textContent = baseName(pathText(f.path)); $(".folder", div).textContent = folderOf(pathText(f.path)); $(".dur", div).textContent = clock(f.duration);
    const track = $(".tl-track", div);
    for (const h of list) {
      const m = document.createElement("div"); m.className = "tl-hit";
      m.style.left = `${(h.start / f.duration) * 100}%`; m.style.width = `${Math.max(0.6, ((h.end - h.start) / f.duration) * 100)}%`;
      m.innerHTML = `<span>${h.score.toFixed(2)}</span>`; m.title = `${clock(h.start)}–${clock(h.end)} · ${h.score.toFixed(3)}`;
      m.onclick = () => play(f.id, h.start);
      track.appendChild(m);
    }
    loadPeaks(f.id).then(p => drawWave($("canvas", div), p.peaks)).catch(() => {});
    return div;
  }));
  if (!hits.length) box.innerHTML = `<div class="empty">No matching moments</div>`;
}

// The recording as a programme (the segments `avx timeline` prints): motif, silence, or named by the nearest
// label (text models) or example; a click plays from the segment's start.
const PROGRAMME_LABELS = "speech,music,jingle,silence,applause";
async function showProgramme(id, box, duration) {
  box.innerHTML = `<div class="empty">Cutting…</div>`;
  const labels = state.info && state.info.text ? `?labels=${encodeURIComponent(PROGRAMME_LABELS)}` : "";
  try {
    const t = await api(`/api/files/${id}/timeline${labels}`);
    box.replaceChildren(...t.segments.map(sg => {
      const el = document.createElement("div"); el.className = `tl-seg tl-${sg.kind}`;
      const name = sg.kind === "motif" ? `motif ${sg.motif}` : sg.kind === "silence" ? "silence" : sg.label ? sg.label.label : sg.like ? sg.like.name : "other";
      el.style.left = `${(sg.start / duration) * 100}%`; el.style.width = `${((sg.end - sg.start) / duration) * 100}%`;
      el.textContent = name; el.title = `${clock(sg.start)}–${clock(sg.end)} · ${name}`;
      el.dataset.start = sg.start; el.onclick = () => play(id, sg.start);
      return el;
    }));
  } catch (e) { box.innerHTML = `<div class="error">${esc(e.message)}</div>`; }
}

// ---- start ----
api("/api/info").then(info => {
  state.info = info;
  status(`${info.files.toLocaleString()} files · ${info.model}`);
  if (!info.text) { $("#q").placeholder = "This model is audio-only: drop a reference sound to search"; $("#q").disabled = true; }
}).catch(e => status(e.message));
window.avx = state;
