// polyseek web UI: plain JavaScript, no build step, no external resources.
"use strict";

const $ = (id) => document.getElementById(id);
// image: the query file (a picture, or an audio/video clip when imageKind is "clip");
// terms: the content words of the last query (the server's), what snippets highlight.
const state = { image: null, imageKind: "image", terms: [], hits: [], current: null, polling: null };

// ------------------------------------------------------------------ API key
// The key lives in this origin's localStorage (separate per port) and goes in a header.
// <img> and <video> cannot send headers: POST /api/session makes the server set an
// HttpOnly, SameSite=Strict media cookie that holds a read-only token, never the key.
function apiKey() { return localStorage.getItem("polyseek-key") || ""; }
let sessionReady = null;
function startSession() {
  sessionReady = fetch("/api/session", { method: "POST", headers: apiKey() ? { "X-API-Key": apiKey() } : {} })
    .catch(() => null);
  return sessionReady;
}
function setKey(key) {
  localStorage.setItem("polyseek-key", key);
  return startSession();
}
(function keyFromFragment() {
  const m = location.hash.match(/key=([^&]+)/);
  if (m) { setKey(decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  else { startSession(); }
})();

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    const msg = body && body.error ? body.error.message + (body.error.hint ? " — " + body.error.hint : "")
      : resp.status + " " + resp.statusText;
    const err = new Error(msg);
    // No key or a refused one: the key prompt says so (not the API's own words).
    if (resp.status === 401) { err.keyNeeded = true; showKeyPrompt(); }
    throw err;
  }
  return body;
}

function showKeyPrompt() {
  const refused = Boolean(apiKey());
  $("key-error").textContent = refused ? "That key was not accepted: check it and try again." : "";
  $("key-form").hidden = false;
  $("status-text").textContent = "API key needed";
  if (document.activeElement !== $("key")) $("key").focus();
}

function showMessage(text) { $("message").textContent = text || ""; }

// ------------------------------------------------------------------ text helpers
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// ``terms``: the query's content words as the server gives them (``terms`` of a search
// or an answer: stopwords dropped), each marked where a word starts with it ("bolt" in
// "bolts", not "the" in "there").
function highlight(text, terms) {
  // Match the raw text, then escape each piece: matching the escaped HTML would mark the
  // "amp" of "&amp;" and show entities literally.
  const ts = (terms || []).filter((t) => t);
  if (!ts.length) return escapeHtml(text);
  const words = ts.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  const re = new RegExp("(?<![\\p{L}\\p{N}])(" + words + ")", "giu");
  return String(text).split(re).map((part, i) => (i % 2 ? "<mark>" + escapeHtml(part) + "</mark>" : escapeHtml(part))).join("");
}
function fmtTime(s) {
  s = Math.floor(s || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" : "") + String(m).padStart(h ? 2 : 1, "0") + ":" + String(sec).padStart(2, "0");
}
function isTimed(hit) { return hit.locator && hit.locator.start_s !== undefined && hit.locator.start_s !== null; }

// ------------------------------------------------------------------ query image or clip
// A picture is sent as ``image``; an audio or video clip as ``clip`` (matched by its
// sound or keyframes, as `polyseek search --video`). Anything else is refused, saying why.
const CLIP_EXTENSIONS = /\.(mp4|mkv|webm|mov|avi|m4v|wav|mp3|flac|ogg|oga|opus|m4a)$/i;
function queryFileKind(file) {
  if (file.type.startsWith("image/")) return "image";
  if (file.type.startsWith("video/") || file.type.startsWith("audio/") || CLIP_EXTENSIONS.test(file.name || "")) return "clip";
  return null;
}
function setImage(file) {
  if (!file) return false;
  const kind = queryFileKind(file);
  if (!kind) {
    showMessage(`“${file.name || "that file"}” was not added: a search takes an image (PNG, JPEG, …) `
      + `or an audio or video clip, and this is ${file.type ? "a " + file.type + " file" : "a file of an unknown type"}.`);
    return false;
  }
  state.image = file;
  state.imageKind = kind;
  $("image-thumb").hidden = kind !== "image";
  if (kind === "image") $("image-thumb").src = URL.createObjectURL(file);
  $("image-name").textContent = (kind === "clip" ? "clip: " : "") + (file.name || "pasted image");
  $("image-chip").hidden = false;
  $("weight-label").hidden = false;
  $("modifier-hint").hidden = false;
  $("q").placeholder = "Optional text modifier, e.g. “in blue”";
  return true;
}
function clearImage() {
  state.image = null;
  state.imageKind = "image";
  $("image-chip").hidden = true;
  $("weight-label").hidden = true;
  $("modifier-hint").hidden = true;
  $("image-file").value = "";
  $("q").placeholder = "Search text, or drop / paste an image or clip  ( / )";
}
$("image-file").addEventListener("change", (e) => { if (setImage(e.target.files[0])) search(); });
$("image-clear").addEventListener("click", clearImage);
$("image-button").addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("image-file").click(); }
});
const drop = $("drop");
["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("dragging"); }));
["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("dragging"); }));
drop.addEventListener("drop", (e) => {
  const file = e.dataTransfer && e.dataTransfer.files[0];
  if (setImage(file)) search();
});
document.addEventListener("paste", (e) => {
  const item = Array.from((e.clipboardData || {}).items || []).find((i) => i.type.startsWith("image/"));
  if (item) { e.preventDefault(); if (setImage(item.getAsFile())) search(); }
});

// ------------------------------------------------------------------ ranking options
// Built from GET /api/ranking, the server's one declaration of every option: the panel
// always offers exactly what the API accepts. Only options changed from their default
// are sent.
state.ranking = [];
async function loadRankingOptions() {
  try { state.ranking = await api("/api/ranking"); } catch (e) { return; }
  const box = $("ranking-options");
  box.textContent = "";
  for (const opt of state.ranking) {
    if (opt.type.startsWith("tuple")) continue;  // encoder restriction: API only
    if (opt.name === "where") { $("where").title = opt.help; continue; }  // its own field
    const label = document.createElement("label");
    label.title = opt.help;
    let input;
    if (opt.type === "bool" || opt.type === "bool | None") {
      input = document.createElement("select");
      const choices = opt.type === "bool" ? ["true", "false"] : ["", "true", "false"];
      for (const c of choices) {
        const o = document.createElement("option");
        o.value = c; o.textContent = c === "" ? "auto" : (c === "true" ? "on" : "off");
        input.appendChild(o);
      }
      input.value = opt.default === null ? "" : String(opt.default);
    } else if (opt.choices.length) {
      input = document.createElement("select");
      for (const c of opt.choices) {
        const o = document.createElement("option"); o.value = c; o.textContent = c; input.appendChild(o);
      }
      input.value = opt.default;
    } else {
      input = document.createElement("input");
      input.type = (opt.type === "int" || opt.type === "float") ? "number" : "text";
      if (opt.type === "float") input.step = "0.05";
      if (opt.min !== null) input.min = opt.min;
      if (opt.max !== null) input.max = opt.max;
      input.value = opt.default === null ? "" : opt.default;
      input.placeholder = opt.default === null ? "off" : "";
      input.size = 10;
    }
    input.id = "rank-" + opt.name;
    input.dataset.option = opt.name;
    input.dataset.default = opt.default === null ? "" : String(opt.default);
    label.append(opt.name.replaceAll("_", " ") + " ", input);
    box.appendChild(label);
  }
}
function rankingValues() {
  const out = [];
  for (const input of document.querySelectorAll("#ranking-options [data-option]")) {
    const value = input.value.trim();
    if (value !== input.dataset.default && value !== "") out.push([input.dataset.option, value]);
  }
  return out;
}
loadRankingOptions();

// ------------------------------------------------------------------ search
async function search(event) {
  if (event) event.preventDefault();
  if (sessionReady) await sessionReady;  // the media cookie, before thumbnails load
  const text = $("q").value.trim();
  if (!text && !state.image) { showMessage("Type a query or add an image or clip."); return; }
  const form = new FormData();
  if (text) form.append("text", text);
  if (state.image) {
    const field = state.imageKind === "clip" ? "clip" : "image";
    form.append(field, state.image, state.image.name || (field === "clip" ? "query-clip" : "query.png"));
    form.append("image_weight", $("image-weight").value);
  }
  form.append("top", $("top").value || "12");
  if ($("modality").value) form.append("modality", $("modality").value);
  if ($("source").value.trim()) form.append("source", $("source").value.trim());
  if ($("where").value.trim()) form.append("where", $("where").value.trim());
  for (const [name, value] of rankingValues()) form.append(name, value);
  showMessage("");
  clearAnswer();  // the answer to an earlier question is not about these results
  $("results").setAttribute("aria-busy", "true");
  try {
    const res = await api("/api/search", { method: "POST", body: form });
    state.terms = res.terms || [];
    renderResults(res.hits);
  } catch (err) { if (!err.keyNeeded) showMessage(err.message); renderResults([]); }
  $("results").removeAttribute("aria-busy");
}
$("search-form").addEventListener("submit", search);

function renderResults(hits) {
  state.hits = hits;
  const grid = $("results");
  grid.textContent = "";
  if (!hits.length) { if (!$("message").textContent) showMessage("No results."); return; }
  hits.forEach((hit, i) => {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card";
    card.dataset.itemId = hit.item_id;
    card.dataset.modality = hit.modality;
    card.dataset.index = i;
    // Every card shows the passage that matched, under its thumbnail when it has one.
    const thumb = hit.preview_url
      ? `<img class="thumb" loading="lazy" alt="${escapeHtml(hit.source)}" src="${hit.preview_url}">` : "";
    const snip = hit.snippet ? `<div class="snip">${highlight(hit.snippet, state.terms)}</div>` : "";
    const where = isTimed(hit) ? `${fmtTime(hit.locator.start_s)}–${fmtTime(hit.locator.end_s)}` : hit.locator_text;
    // The rank, not the raw fusion score (0.016-0.032 says nothing to a person): the
    // score is in the tooltip and the details.
    card.title = `rank ${hit.rank} · score ${hit.score.toFixed(4)}`;
    card.classList.toggle("has-thumb", Boolean(thumb));
    card.innerHTML = `${thumb}${snip}<div class="meta"><span class="badge">${escapeHtml(hit.modality)}</span>`
      + `<span class="rank">#${hit.rank}</span><br>${escapeHtml(hit.source)}<br>${escapeHtml(where)}</div>`
      + explainBar(hit);
    card.addEventListener("click", () => openItem(hit.item_id, hit));
    card.addEventListener("keydown", gridKeys);
    grid.appendChild(card);
  });
}

// Each signal's part of the score (they sum to it) as one small stacked bar; the
// tooltip and the screen-reader label list the numbers. Negative parts are hatched.
// One colour per signal on every card: lexical and calibration fixed, the others (each
// encoder, a reranker) in the order they first appear.
const signalColours = { lexical: 0, calibration: 5 };
function signalColour(name) {
  if (!(name in signalColours)) signalColours[name] = 1 + (Object.keys(signalColours).length - 2) % 4;
  return signalColours[name];
}
function explainBar(hit) {
  const parts = Object.entries(hit.contributions || {});
  if (!parts.length) return "";
  const size = parts.reduce((a, [, v]) => a + Math.abs(v), 0) || 1;
  const text = parts.map(([k, v]) => `${k} ${v >= 0 ? "+" : ""}${v.toFixed(3)}`).join(", ");
  const segs = parts.map(([k, v]) =>
    `<span class="seg s${signalColour(k)}${v < 0 ? " neg" : ""}" data-signal="${escapeHtml(k)}" `
    + `style="width:${(100 * Math.abs(v) / size).toFixed(1)}%"></span>`).join("");
  return `<div class="explain" role="img" aria-label="score parts: ${escapeHtml(text)}" `
    + `title="${escapeHtml(text)}">${segs}</div>`;
}

function gridKeys(e) {
  const cards = Array.from(document.querySelectorAll("#results .card"));
  const i = cards.indexOf(e.currentTarget);
  const perRow = Math.max(1, Math.round($("results").clientWidth / (cards[0].offsetWidth + 12)));
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow };
  if (moves[e.key] !== undefined) {
    e.preventDefault();
    const next = cards[Math.min(cards.length - 1, Math.max(0, i + moves[e.key]))];
    next.focus();
  }
}

// ------------------------------------------------------------------ details
// A box on a page render: PDF points (item.metadata width/height) scaled to the image.
function drawBox(frame, bbox, page) {
  if (!bbox || !page || !page.width || !page.height) return;
  const box = document.createElement("div");
  box.className = "bbox";
  box.style.left = (100 * bbox[0] / page.width) + "%";
  box.style.top = (100 * bbox[1] / page.height) + "%";
  box.style.width = (100 * (bbox[2] - bbox[0]) / page.width) + "%";
  box.style.height = (100 * (bbox[3] - bbox[1]) / page.height) + "%";
  frame.appendChild(box);
}

// ``hit``: the search result opened (its locator may be a passage's); ``cited``: the
// sentence of an answer that cites this item.
async function openItem(itemId, hit, cited) {
  let item;
  try { item = await api("/api/items/" + encodeURIComponent(itemId)); }
  catch (err) { showMessage(err.message); return; }
  state.current = item;
  $("detail").hidden = false;
  $("detail-title").textContent = item.source;
  $("detail-locator").textContent = item.modality + " · " + item.locator_text;
  $("detail-score").hidden = !hit;
  if (hit) $("detail-score").textContent = `rank ${hit.rank} of ${state.hits.length} · raw score ${hit.score.toFixed(4)}`;
  const media = $("detail-media");
  media.textContent = "";
  let openHref = item.file_url;
  if ((item.modality === "video" || item.modality === "audio") || isTimed(item)) {
    const isVideo = item.modality === "video";
    const player = document.createElement(isVideo ? "video" : "audio");
    player.id = "player";
    player.controls = true;
    player.preload = "metadata";
    if (item.preview_url && isVideo) player.poster = item.preview_url;
    // The span the card showed: a hit of merged neighbouring moments ends at the last one.
    const loc = hit && isTimed(hit) ? hit.locator : item.locator;
    const start = loc.start_s || 0;
    player.dataset.start = start;
    player.addEventListener("loadedmetadata", () => {
      player.currentTime = start;
      const p = player.play();
      if (p && p.catch) p.catch(() => {});
    }, { once: true });
    if (loc.end_s) stopAtEnd(player, start, loc.end_s);
    player.src = item.file_url + "#t=" + start + (loc.end_s ? "," + loc.end_s : "");
    media.appendChild(player);
    openHref = player.src;
  } else if (item.preview_url || item.page_preview_url) {
    // A region or passage of a page is shown on the page's render, its box drawn over it.
    const frame = document.createElement("div");
    frame.className = "page-frame";
    const img = document.createElement("img");
    img.id = "detail-image";
    img.alt = item.modality + " preview of " + item.source;
    img.src = item.page_preview_url || item.preview_url;
    frame.appendChild(img);
    const bbox = (hit && hit.locator && hit.locator.bbox) || item.locator.bbox;
    if (item.modality === "page") drawBox(frame, bbox, item.metadata);
    media.appendChild(frame);
    if (item.locator.page) openHref = item.file_url + "#page=" + item.locator.page;
  }
  $("detail-open").href = openHref;
  if (cited && item.text && cited.end > cited.start) {
    // A citation: the cited sentence itself, highlighted in the item's text.
    $("detail-text").innerHTML = escapeHtml(item.text.slice(0, cited.start))
      + '<mark class="cited">' + escapeHtml(item.text.slice(cited.start, cited.end)) + "</mark>"
      + escapeHtml(item.text.slice(cited.end));
    $("detail-locator").textContent = item.modality + " · " + cited.locatorText;
  } else {
    $("detail-text").innerHTML = item.text ? highlight(item.text, state.terms) : "<em>no text</em>";
  }
  const firstMark = $("detail-text").querySelector("mark");
  if (firstMark) firstMark.scrollIntoView({ block: "nearest" });
  $("detail").focus();
}
// A moment ends where the next shot starts (its end is the cut's time): the frame at
// ``end`` is the next shot's. Pause just before it, checked every frame (timeupdate comes
// only every ~250 ms), and step back to it if the pause came late. Stop once; a seek
// outside the moment lets the file play on.
const END_EPSILON_S = 0.02;
function stopAtEnd(player, start, end) {
  const at = Math.max(start, end - END_EPSILON_S);
  let armed = true;
  player.addEventListener("seeking", () => {
    if (armed && (player.currentTime < start - 0.25 || player.currentTime > end + 0.25)) armed = false;
  });
  const check = (mediaTime) => {
    if (!armed) return;
    if (Math.max(player.currentTime, mediaTime || 0) >= at) {
      armed = false;
      player.pause();
      player.currentTime = at;  // the moment's last frame, whichever frame was showing
    }
  };
  player.addEventListener("timeupdate", () => check());
  if (player.requestVideoFrameCallback) {
    const onFrame = (now, meta) => { check(meta.mediaTime); if (armed) player.requestVideoFrameCallback(onFrame); };
    player.requestVideoFrameCallback(onFrame);
  } else {
    const tick = () => { check(); if (armed && !player.paused) requestAnimationFrame(tick); };
    player.addEventListener("play", () => requestAnimationFrame(tick));
  }
}
function closeDetail() {
  const player = $("player");
  if (player) player.pause();
  $("detail").hidden = true;
  const card = state.current && document.querySelector(`.card[data-item-id="${state.current.item_id}"]`);
  if (card) card.focus();
}
$("detail-close").addEventListener("click", closeDetail);
$("more-like-this").addEventListener("click", async () => {
  if (!state.current) return;
  showMessage("");
  try {
    const res = await api(`/api/items/${encodeURIComponent(state.current.item_id)}/similar?top=${$("top").value || 12}`);
    state.terms = [];
    clearAnswer();
    renderResults(res.hits);
    const first = document.querySelector("#results .card");
    if (first) first.focus();
  } catch (err) { if (!err.keyNeeded) showMessage(err.message); }
});

// ------------------------------------------------------------------ ask
function clearAnswer() {
  $("answer").hidden = true;
  $("answer").textContent = "";
}
$("ask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const box = $("answer");
  box.hidden = false;
  box.textContent = "Thinking…";
  try {
    const ans = await api("/api/ask", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, top: 8 }),
    });
    renderAnswer(ans);
  } catch (err) { if (err.keyNeeded) clearAnswer(); else box.textContent = err.message; }
});

function renderAnswer(ans) {
  const box = $("answer");
  box.textContent = "";
  const byId = Object.fromEntries(ans.evidence.map((e) => [e.id, e]));
  if (!ans.answered) {
    const p = document.createElement("p");
    p.className = "no-answer";
    p.textContent = "No answer in the collection.";
    box.appendChild(p);
  }
  const para = document.createElement("p");
  para.className = "answer-text";
  ans.sentences.forEach((s) => {
    const span = document.createElement("span");
    span.className = "sentence";
    span.textContent = s.text + " ";
    para.appendChild(span);
    s.citations.forEach((c) => {
      const ev = byId[c];
      const span = (s.spans || []).find((x) => x.evidence_id === c);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cite";
      b.textContent = "[" + c + "]";
      if (ev) {
        b.title = ev.source + " (" + (span ? span.locator_text : ev.locator_text) + ")";
        b.dataset.itemId = ev.item_id;
        const cited = span ? { start: span.item_start, end: span.item_end, locatorText: span.locator_text } : null;
        b.addEventListener("click", () => { state.terms = ans.terms || []; openItem(ev.item_id, null, cited); });
      }
      para.appendChild(b);
      para.appendChild(document.createTextNode(" "));
    });
  });
  box.appendChild(para);
  // One line per cited sentence: its file and its own span (chars, page).
  const seen = new Set();
  const refs = [];
  ans.sentences.forEach((s) => (s.spans || []).forEach((sp) => {
    const key = sp.evidence_id + " " + sp.locator_text;
    if (!seen.has(key) && byId[sp.evidence_id]) { seen.add(key); refs.push(sp); }
  }));
  if (refs.length) {
    const list = document.createElement("ol");
    list.className = "sources";
    refs.forEach((sp) => {
      const li = document.createElement("li");
      li.value = sp.evidence_id;
      li.textContent = sp.source + " — " + sp.locator_text;
      li.title = sp.text;
      list.appendChild(li);
    });
    box.appendChild(list);
  }
  if (ans.dropped.length || ans.flagged.length) {
    const w = document.createElement("p");
    w.className = "warn";
    w.textContent = ans.dropped.length
      ? `${ans.dropped_count ?? ans.dropped.length} generated sentence(s) dropped: their citations did not support them.`
      : `${ans.flagged.length} sentence(s) are not supported by their citations.`;
    box.appendChild(w);
  }
}

// ------------------------------------------------------------------ index status
async function refreshStatus() {
  try {
    const st = await api("/api/status");
    const items = Object.entries(st.items).map(([m, n]) => `${n} ${m}`).join(", ") || "no items";
    const job = st.index;
    let text = `${st.sources} files · ${items}`;
    const bar = $("index-progress");
    if (job.state === "running") {
      bar.hidden = false;
      bar.max = Math.max(1, job.total_files);
      bar.value = job.files_done;
      text += ` · indexing ${job.files_done}/${job.total_files || "?"}`;
    } else {
      bar.hidden = true;
      if (job.state === "failed") text += " · last index run failed: " + job.error;
      if (job.state === "done" && job.report) text += ` · indexed (+${job.report.added}, ~${job.report.updated}, −${job.report.removed})`;
    }
    if (st.failed.length) text += ` · ${st.failed.length} failed`;
    // An encoder added to the live index: how far its backfill is (search uses it meanwhile).
    const pending = (st.encoders || []).filter(e => e.state === "backfilling" || e.state === "upgrading");
    for (const e of pending) {
      const b = e.backfill;
      text += b ? ` · ${e.spec} backfilling ${b.done}/${b.total}` : ` · ${e.spec} ${e.state}`;
    }
    $("status-text").textContent = text;
    schedule(job.state === "running" ? 1000 : pending.length ? 3000 : 0);
  } catch (err) { if (!err.keyNeeded) $("status-text").textContent = err.message; }
}
function schedule(ms) {
  clearTimeout(state.polling);
  if (ms) state.polling = setTimeout(refreshStatus, ms);
}
$("reindex").addEventListener("click", async () => {
  try {
    await api("/api/index", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ all: true }) });
    refreshStatus();
  } catch (err) { showMessage(err.message); }
});
$("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("key").value.trim();
  if (!key) { $("key-error").textContent = "Paste the key first."; return; }
  await setKey(key);
  $("key").value = "";
  $("key-form").hidden = true;
  refreshStatus();  // a refused key shows the prompt again, saying so
  loadRankingOptions();
});

// ------------------------------------------------------------------ keyboard
document.addEventListener("keydown", (e) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (e.key === "/" && !typing) { e.preventDefault(); $("q").focus(); }
  else if (e.key === "Escape" && !$("detail").hidden) { e.preventDefault(); closeDetail(); }
});

refreshStatus();
$("q").focus();
