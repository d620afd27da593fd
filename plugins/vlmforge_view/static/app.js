// vlmforge view: one page, routed on the URL (server) or the #fragment (exported report).
"use strict";

const DATA = JSON.parse(document.getElementById("vlmforge-data").textContent);
const EXPORT = DATA !== null;

// -- DOM helpers: text is always set as text, never parsed as HTML ---------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "link") { el.setAttribute("href", href(v)); }
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
function href(path) { return EXPORT ? "#" + path : path; }
function fmt(x, digits = 2) {
  if (x === null || x === undefined) return "–";
  if (typeof x === "number") return Number.isInteger(x) ? String(x) : x.toFixed(digits);
  return String(x);
}
function ms(x) { return x === null || x === undefined ? "–" : (1000 * x).toFixed(1) + " ms"; }
function pm(m, digits = 2) { return m ? `${fmt(m.mean, digits)} ± ${fmt(m.sem, digits)}` : "–"; }
function usd(x) { return x === null || x === undefined ? "unknown" : "$" + x.toFixed(6); }
function imageUrl(sha) { return EXPORT ? "data:image/png;base64," + DATA.images[sha] : "/images/" + sha; }
function table(headers, rows, attrs) {
  return h("table", attrs || {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    rows instanceof HTMLTableSectionElement ? rows : h("tbody", {}, rows));
}
function kv(pairs) {
  return h("table", { class: "kv" }, pairs.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))));
}

// -- data: the JSON API, or the data embedded in an exported report ----------------------------
async function get(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || JSON.stringify(body));
  return body;
}
function missing(what) { throw new Error(`${what} is not in this report`); }
function page(items, offset, limit) { return { total: items.length, offset, limit, items: items.slice(offset, offset + limit) }; }
const enc = encodeURIComponent;
const api = {
  runs: () => (EXPORT ? DATA.runs : get("/api/runs")),
  compare: (refs) => {
    if (!EXPORT) return get("/api/compare?runs=" + refs.map(enc).join(","));
    // a report holds one comparison, on the seeds every exported run finished
    const all = DATA.compare || missing("a comparison (export two or more runs)");
    return { ...all, runs: all.runs.filter((r) => refs.includes(r.id) || refs.includes(r.name)) };
  },
  episodes: async (run, offset, limit) => {
    if (!EXPORT) return get(`/api/runs/${enc(run)}/episodes?offset=${offset}&limit=${limit}`);
    const found = DATA.episodes[run] || missing(`run ${run}`);
    const p = page(found.episodes, offset, limit);
    return { run: found.run, total: p.total, offset, limit, episodes: p.items };
  },
  episode: (id) => (EXPORT ? (DATA.episode[id] || missing(`episode ${id}`)) : get(`/api/episodes/${enc(id)}`)),
  timeline: (id, offset, limit) => {
    if (!EXPORT) return get(`/api/episodes/${enc(id)}/timeline?offset=${offset}&limit=${limit}`);
    const rows = DATA.timeline[id] || [];
    return { offset, rows: rows.slice(offset, offset + limit), decoded: rows.length, complete: true, error: null };
  },
  step: (eid, i) => {
    if (!EXPORT) return get(`/api/steps/${enc(eid)}/${i}`);
    const found = DATA.step[`${eid}/${i}`] || missing(`step ${i} of ${eid}`);
    return { ...found, tools: DATA.tools[found.run.id] || [], prompt: found.prompt.map((k) => DATA.messages[k]) };
  },
  filters: () => (EXPORT ? { configs: [] } : get("/api/filters")),
  preview: (n, offset, limit) => get(`/api/filters/${n}/preview?offset=${offset}&limit=${limit}`),
  training: () => (EXPORT ? { runs: DATA.training || [] } : get("/api/training")),
};

// -- routing ---------------------------------------------------------------------------------
function location_() {
  const raw = EXPORT ? (window.location.hash.slice(1) || "/") : window.location.pathname + window.location.search;
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}
const routes = [
  [/^\/$/, viewRuns],
  [/^\/runs\/([^/]+)$/, viewRun],
  [/^\/compare$/, viewCompare],
  [/^\/episodes\/([^/]+)$/, viewEpisode],
  [/^\/steps\/([^/]+)\/(\d+)$/, viewStep],
  [/^\/filter$/, viewFilter],
  [/^\/training$/, viewTraining],
];
let stopPlayer = () => {};
async function render() {
  stopPlayer();
  stopPlayer = () => {};
  const app = document.getElementById("app");
  const { path, params } = location_();
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (!m) continue;
    try {
      const content = await view(params, ...m.slice(1).map(decodeURIComponent));
      app.replaceChildren(content);
      app.dataset.view = view.name;
    } catch (err) {
      app.replaceChildren(h("p", { class: "error" }, String(err.message || err)));
    }
    return;
  }
  app.replaceChildren(h("p", { class: "error" }, `no page ${path}`));
}
function go(path) {
  if (EXPORT) window.location.hash = path;
  else window.location.assign(path);
}

// -- runs ------------------------------------------------------------------------------------
const RUNS_PAGE = 25;
async function viewRuns(params) {
  const data = await api.runs();
  document.getElementById("store").textContent = data.store;
  const state = { env: params.get("env") || "", policy: params.get("policy") || "",
    model: params.get("model") || "", tag: params.get("tag") || "", offset: 0 };
  const selected = new Set();
  const body = h("tbody");
  const info = h("span", { class: "muted" });
  const compareBtn = h("button", { id: "compare", disabled: true, on: { click: () =>
    go("/compare?runs=" + [...selected].map(enc).join(",")) } }, "compare selected (same seeds)");
  const pager = h("div", { class: "pager" });
  function shown() {
    return data.runs.filter((r) => (!state.env || r.env === state.env) && (!state.policy || r.policy === state.policy)
      && (!state.model || r.model === state.model) && (!state.tag || r.tags.includes(state.tag)));
  }
  function draw() {
    const rows = shown();
    const slice = rows.slice(state.offset, state.offset + RUNS_PAGE);
    body.replaceChildren(...slice.map((r) => {
      const s = r.summary;
      const box = h("input", { type: "checkbox", "data-run": r.id, checked: selected.has(r.id), on: { change: (e) => {
        if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
        compareBtn.disabled = selected.size < 2;
      } } });
      return h("tr", { "data-run": r.name }, h("td", {}, box), h("td", {}, h("a", { link: `/runs/${r.id}` }, r.name)),
        h("td", {}, r.env), h("td", {}, r.policy), h("td", {}, r.model || "–"),
        h("td", {}, r.tags.map((t) => h("span", { class: "tag" }, t))),
        h("td", { class: "num" }, s.episodes), h("td", { class: "num" }, s.decisions),
        h("td", { class: "num" }, `${fmt(s.reward_mean)} ± ${fmt(s.reward_sem)}`),
        h("td", { class: "num" }, fmt(s.unique_achievements_mean)),
        h("td", { class: "num" }, fmt(s.crafter_score_pct) + "%"),
        h("td", { class: "num" }, fmt(100 * s.invalid_decision_rate, 1) + "%"),
        h("td", { class: "num" }, fmt(s.prompt_tokens) + " / " + fmt(s.completion_tokens)),
        h("td", { class: "num" }, usd(s.cost_usd)),
        h("td", { class: "num" }, ms(s.policy_latency_p50_s)));
    }));
    info.textContent = `${rows.length} of ${data.runs.length} runs`;
    pager.replaceChildren(
      h("button", { disabled: state.offset === 0, on: { click: () => { state.offset -= RUNS_PAGE; draw(); } } }, "‹ prev"),
      h("span", {}, `${rows.length ? state.offset + 1 : 0}–${Math.min(rows.length, state.offset + RUNS_PAGE)}`),
      h("button", { disabled: state.offset + RUNS_PAGE >= rows.length, on: { click: () => { state.offset += RUNS_PAGE; draw(); } } }, "next ›"));
  }
  const facet = (key) => h("label", {}, key + " ",
    h("select", { id: "filter-" + key, on: { change: (e) => { state[key] = e.target.value; state.offset = 0; draw(); } } },
      h("option", { value: "" }, "all"), data.facets[key].map((v) => h("option", { value: v, selected: v === state[key] }, v))));
  draw();
  return h("section", {}, h("h1", {}, "Runs"),
    h("div", { class: "filters" }, ["env", "policy", "model", "tag"].map(facet), info, compareBtn),
    table(["", "run", "env", "policy", "model", "tags", "episodes", "decisions", "reward (mean ± s.e.)",
      "unique ach.", "crafter score", "invalid", "tokens in / out", "cost", "policy p50"], body, { id: "runs" }),
    pager);
}

// -- one run: its episodes, paginated --------------------------------------------------------
const EPISODES_PAGE = 50;
async function viewRun(params, runId) {
  const offset = Number(params.get("offset") || 0);
  const data = await api.episodes(runId, offset, EPISODES_PAGE);
  const runs = await api.runs();
  const row = runs.runs.find((r) => r.id === data.run.id);
  const s = row ? row.summary : null;
  const rows = data.episodes.map((e) => h("tr", {},
    h("td", {}, h("a", { link: `/episodes/${e.id}` }, `seed ${e.seed}`)), h("td", {}, e.status),
    h("td", { class: "num" }, e.steps), h("td", { class: "num" }, fmt(e.total_reward)),
    h("td", {}, e.achievements.join(", ") || "–"), h("td", { class: "num" }, e.invalid_decisions),
    h("td", {}, e.termination || "–"), h("td", { class: "bad" }, e.error || "")));
  const nav = (o, label) => h("a", { link: `/runs/${runId}?offset=${o}` }, label);
  return h("section", {}, h("h1", {}, `Run ${data.run.name}`),
    kv([["policy", data.run.policy], ["model", data.run.model || "–"], ["env", data.run.env],
      ["episodes", data.total], ...(s ? [["reward", `${fmt(s.reward_mean)} ± ${fmt(s.reward_sem)}`],
        ["cost", usd(s.cost_usd)]] : [])]),
    h("h2", {}, "Episodes"),
    table(["episode", "status", "steps", "reward", "achievements", "invalid", "termination", "error"], rows, { id: "episodes" }),
    h("div", { class: "pager" }, offset > 0 ? nav(Math.max(0, offset - EPISODES_PAGE), "‹ prev") : null,
      h("span", {}, `${data.total ? offset + 1 : 0}–${Math.min(data.total, offset + EPISODES_PAGE)} of ${data.total}`),
      offset + EPISODES_PAGE < data.total ? nav(offset + EPISODES_PAGE, "next ›") : null),
    s ? h("div", {}, h("h2", {}, "Success rates"), table(["achievement", "success"],
      Object.entries(s.success_rates_pct).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, fmt(v, 1) + "%"))))) : null);
}

// -- same-seed comparison --------------------------------------------------------------------
async function viewCompare(params) {
  const refs = (params.get("runs") || "").split(",").filter(Boolean);
  const data = await api.compare(refs);
  const head = ["", ...data.runs.map((r) => r.name)];
  const metric = (label, key, digits) => h("tr", {}, h("th", {}, label), data.runs.map((r) => h("td", { class: "num" }, pm(r[key], digits))));
  const rows = [metric("reward", "reward"), metric("unique achievements", "unique_achievements"),
    metric("decisions", "steps", 1), metric("invalid decisions", "invalid_decisions", 1),
    ...data.achievements.map((a) => h("tr", {}, h("th", {}, a), data.runs.map((r) => h("td", { class: "num" }, pm(r.success_pct[a], 1) + "%"))))];
  return h("section", {}, h("h1", {}, "Same-seed comparison"),
    h("p", {}, `${data.seeds.length} seeds finished by every run: ${data.seeds.join(", ") || "none"}. Mean ± s.e. over those seeds.`),
    table(head, rows, { id: "comparison" }));
}

// -- episode: frame player + timeline --------------------------------------------------------
async function viewEpisode(params, episodeId) {
  const meta = await api.episode(episodeId);
  const n = meta.metrics.index.length;
  const chunk = meta.chunk;
  const rows = new Array(n);
  const pending = new Map();
  let current = Math.min(Number(params.get("step") || 0), Math.max(0, n - 1));
  let playing = null;
  async function load(offset) {
    const start = offset - (offset % chunk);
    if (!pending.has(start)) {
      pending.set(start, Promise.resolve(api.timeline(episodeId, start, chunk)).then((t) => {
        t.rows.forEach((r) => { rows[r.i] = r; });
        if (t.error) status.textContent = "timeline: " + t.error;
        drawTimeline();
      }));
    }
    return pending.get(start);
  }
  const img = h("img", { class: "frame", id: "frame", width: 320, height: 320, alt: "frame" });
  const slider = h("input", { type: "range", id: "seek", min: 0, max: Math.max(0, n - 1), value: current, style: "width: 320px",
    on: { input: (e) => show(Number(e.target.value)) } });
  const label = h("span", { id: "step-label" });
  const status = h("div", { class: "muted", id: "timeline-status" });
  const detail = h("div", { id: "step-detail" });
  const speed = h("select", { id: "speed" }, [1, 2, 5, 10, 20, 50].map((v) => h("option", { value: v, selected: v === 5 }, `${v} steps/s`)));
  const playBtn = h("button", { id: "play", on: { click: () => toggle() } }, "▶ play");
  const canvas = h("canvas", { id: "timeline", height: 150, on: { click: (e) => {
    const rect = canvas.getBoundingClientRect();
    show(Math.floor(((e.clientX - rect.left) / rect.width) * n));
  } } });
  async function show(i) {
    if (!n) return;
    current = Math.max(0, Math.min(n - 1, i));
    slider.value = current;
    label.textContent = `step ${current} / ${n - 1}`;
    if (!rows[current]) await load(current);
    const r = rows[current];
    if (!r) return;
    if (r.frame) { img.src = imageUrl(r.frame); img.dataset.sha = r.frame; }
    img.dataset.step = String(current);
    for (let k = 1; k <= 5 && current + k < n; k++) {  // prefetch the next frames
      const next = rows[current + k];
      if (next && next.frame && !EXPORT) new Image().src = imageUrl(next.frame);
    }
    if (current + chunk / 2 < n && !rows[current + chunk / 2]) load(current + chunk / 2);
    detail.replaceChildren(kv([
      ["actions", r.actions.join(", ") || "–"], ["reward", fmt(r.reward)],
      ["achievements", r.achievements.join(", ") || "–"],
      ["invalid", r.invalid ? h("span", { class: "bad" }, r.invalid_kinds.join(", ") || "no tool call") : "no"],
      ["vitals", Object.entries(r.vitals).map(([k, v]) => `${k} ${v}`).join(", ") || "not reported"],
      ["", h("a", { link: `/steps/${episodeId}/${current}`, id: "step-link" }, "step details: prompt, reply, tokens →")],
    ]));
    drawTimeline();
  }
  function toggle() {
    if (playing) { clearInterval(playing); playing = null; playBtn.textContent = "▶ play"; return; }
    playBtn.textContent = "❚❚ pause";
    playing = setInterval(() => {
      if (current >= n - 1) { toggle(); return; }
      show(current + 1);
    }, 1000 / Number(speed.value));
  }
  speed.addEventListener("change", () => { if (playing) { toggle(); toggle(); } });
  function onKey(e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowRight") { show(current + 1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { show(current - 1); e.preventDefault(); }
    else if (e.key === " ") { toggle(); e.preventDefault(); }
  }
  document.addEventListener("keydown", onKey);
  stopPlayer = () => { if (playing) clearInterval(playing); document.removeEventListener("keydown", onKey); };
  function drawTimeline() {
    const width = canvas.clientWidth || 1000;
    canvas.width = width;
    const ctx = canvas.getContext("2d");
    const x = (i) => (n ? (i / n) * width : 0);
    const w = Math.max(1, width / Math.max(1, n));
    ctx.clearRect(0, 0, width, canvas.height);
    const maxR = Math.max(1e-9, ...meta.metrics.reward.map(Math.abs));
    for (let i = 0; i < n; i++) {  // rewards (top band), invalid decisions (red ticks)
      const r = meta.metrics.reward[i];
      if (r) { ctx.fillStyle = r > 0 ? "#1a7f37" : "#c0362c"; const hgt = 30 * Math.abs(r) / maxR; ctx.fillRect(x(i), 34 - hgt, w, hgt); }
      if (meta.metrics.invalid[i]) { ctx.fillStyle = "#c0362c"; ctx.fillRect(x(i), 40, w, 10); }
    }
    const colors = { health: "#c0362c", food: "#b26b00", drink: "#2357c6", energy: "#8a63d2" };
    for (const [name, color] of Object.entries(colors)) {  // vitals (0-9) in the lower band
      ctx.strokeStyle = color; ctx.beginPath();
      let open = false;
      for (let i = 0; i < n; i++) {
        const v = rows[i] && rows[i].vitals[name];
        if (v === undefined) { open = false; continue; }
        const y = 145 - (v / 9) * 85;
        if (open) ctx.lineTo(x(i) + w / 2, y); else { ctx.moveTo(x(i) + w / 2, y); open = true; }
      }
      ctx.stroke();
    }
    ctx.fillStyle = "#8a63d2";
    for (let i = 0; i < n; i++) if (rows[i] && rows[i].achievements.length) {  // unlocks: diamonds
      ctx.beginPath(); const cx = x(i) + w / 2; ctx.moveTo(cx, 0); ctx.lineTo(cx + 4, 5); ctx.lineTo(cx, 10); ctx.lineTo(cx - 4, 5); ctx.fill();
    }
    ctx.fillStyle = "rgba(35,87,198,0.15)"; ctx.fillRect(x(current), 0, w, canvas.height);  // cursor
    ctx.fillStyle = "#1d2330"; ctx.fillRect(x(current) + w / 2 - 1, 0, 2, canvas.height);
    const loaded = rows.filter(Boolean).length;
    if (!status.textContent.startsWith("timeline:")) status.textContent = loaded < n ? `decoded ${loaded} of ${n} steps…` : `${n} steps`;
  }
  const e = meta.episode;
  const section = h("section", {}, h("h1", {}, `Episode: run ${meta.run.name}, seed ${e.seed}`),
    kv([["status", e.status], ["decisions", e.steps], ["env steps", e.env_steps], ["reward", fmt(e.total_reward)],
      ["achievements", e.achievements.join(", ") || "–"], ["termination", e.termination || "–"],
      ["run", h("a", { link: `/runs/${meta.run.id}` }, meta.run.name)]]),
    h("div", { class: "player" },
      h("div", {}, img, h("div", { class: "controls" },
        h("button", { id: "prev", on: { click: () => show(current - 1) } }, "◀"), playBtn,
        h("button", { id: "next", on: { click: () => show(current + 1) } }, "▶|"), speed, label), slider,
        h("div", { class: "muted" }, "keys: ← → step, space play/pause")),
      detail),
    h("h2", {}, "Timeline"),
    h("div", { class: "legend muted" },
      h("span", {}, h("i", { class: "swatch", style: "background:#1a7f37" }), "reward"),
      h("span", {}, h("i", { class: "swatch", style: "background:#c0362c" }), "invalid decision / health"),
      h("span", {}, h("i", { class: "swatch", style: "background:#8a63d2" }), "achievement / energy"),
      h("span", {}, h("i", { class: "swatch", style: "background:#b26b00" }), "food"),
      h("span", {}, h("i", { class: "swatch", style: "background:#2357c6" }), "drink")),
    canvas, status);
  setTimeout(async () => {
    await show(current);
    for (let o = 0; o < n; o += chunk) await load(o);  // the rest of the timeline, page by page
  }, 0);
  return section;
}

// -- step: exact messages, verbatim reply, parsed calls, LM call -----------------------------
function messageBlock(m) {
  const parts = m.parts.map((p) => (p.type === "image"
    ? h("img", { class: "frame", src: imageUrl(p.sha256), width: 192, height: 192, alt: p.sha256, title: p.sha256 })
    : h("pre", { class: "text" }, p.text)));
  const calls = m.tool_calls.map((c) => h("pre", { class: "toolcall" }, `${c.function.name}(${c.function.arguments})  [id ${c.id}]`));
  return h("div", { class: "msg " + m.role }, h("div", { class: "role" }, m.role, m.name ? ` (${m.name})` : "",
    m.tool_call_id ? ` → ${m.tool_call_id}` : ""), parts, calls);
}
async function viewStep(params, episodeId, index) {
  const s = await api.step(episodeId, Number(index));
  const i = s.index;
  const call = s.lm_call;
  const u = call ? call.usage : {};
  const attempts = call && call.attempts.length ? table(["attempt", "status", "latency", "error", "retry after"],
    call.attempts.map((a) => h("tr", {}, h("td", {}, a.attempt), h("td", {}, fmt(a.status)), h("td", {}, ms(a.latency_s)),
      h("td", { class: "bad" }, a.error || ""), h("td", {}, fmt(a.retry_after_s))))) : null;
  return h("section", {}, h("h1", {}, `Step ${i} of episode (run ${s.run.name})`),
    h("div", { class: "pager" }, i > 0 ? h("a", { link: `/steps/${episodeId}/${i - 1}`, id: "prev-step" }, "‹ prev step") : null,
      h("a", { link: `/episodes/${episodeId}?step=${i}` }, "episode"),
      i + 1 < s.steps_in_episode ? h("a", { link: `/steps/${episodeId}/${i + 1}`, id: "next-step" }, "next step ›") : null),
    h("h2", {}, "Decision"),
    kv([["actions executed", s.actions.join(", ") || "–"],
      ["tool calls", s.tool_calls.length ? s.tool_calls.map((c) => `${c.function.name}(${c.function.arguments})`).join("; ") : "none"],
      ["parsed from text", s.parsed_from_text ? "yes" : "no"],
      ["invalid", s.invalid.length ? h("span", { class: "bad", id: "invalid" }, s.invalid.map((x) => `${x.kind}: ${x.detail}`).join("; "))
        : s.invalid_decision ? h("span", { class: "bad", id: "invalid" }, "no tool call") : "no"],
      ["reward", fmt(s.reward)], ["achievements", s.achievements.join(", ") || "–"],
      ["vitals", Object.entries(s.vitals).map(([k, v]) => `${k} ${v}`).join(", ") || "not reported"],
      ["done", s.done ? `yes (${s.termination || ""})` : "no"],
      ["error", s.error ? h("span", { class: "bad" }, s.error) : "–"],
      ["feedback to the model", s.feedback || "–"]]),
    h("h2", {}, "LM call"),
    kv([["provider / model", call ? `${call.provider} / ${call.model}` : "–"],
      ["tokens (prompt / completion / total)", `${fmt(u.prompt_tokens)} / ${fmt(u.completion_tokens)} / ${fmt(u.total_tokens)}`],
      ["latency (call)", call ? ms(call.latency_s) : "–"], ["policy latency", ms(s.policy_latency_s)],
      ["env latency", ms(s.env_latency_s)], ["retries", call ? call.retries : "–"],
      ["finish reason", call ? fmt(call.finish_reason) : "–"], ["cost", usd(s.cost_usd)],
      ["params", call ? JSON.stringify(call.params) : "–"],
      ["error", call && call.error ? h("span", { class: "bad" }, call.error) : "–"]]),
    attempts,
    h("h2", {}, "Reply (verbatim)"), h("div", { id: "reply" }, s.reply ? messageBlock(s.reply) : h("p", { class: "muted" }, "no reply")),
    h("h2", {}, `Prompt (${s.prompt.length} messages, exactly as sent)`), h("div", { id: "prompt" }, s.prompt.map(messageBlock)),
    h("h2", {}, `Tools sent with it (${s.tools.length})`),
    h("details", { id: "tools" }, h("summary", {}, s.tools.map((t) => (t.function ? t.function.name : t.name || "tool")).join(", ") || "none"),
      h("pre", {}, JSON.stringify(s.tools, null, 2))),
    h("h2", {}, "Info"), h("pre", {}, JSON.stringify(s.info, null, 2)));
}

// -- filter preview --------------------------------------------------------------------------
const PREVIEW_PAGE = 25;
async function viewFilter(params) {
  const { configs } = await api.filters();
  if (!configs.length) return h("section", {}, h("h1", {}, "Filter preview"),
    h("p", {}, EXPORT ? "Not part of an exported report." : "No filter config: start the viewer with --filter-config FILE.toml."));
  const n = Number(params.get("config") || 0);
  const offset = Number(params.get("offset") || 0);
  const data = await api.preview(n, offset, PREVIEW_PAGE);
  const rng = (rs) => rs.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(", ") || "–";
  const rows = data.episodes.map((e) => h("tr", { class: e.kept ? "kept" : "dropped", "data-episode": e.episode_id },
    h("td", {}, h("a", { link: `/episodes/${e.episode_id}` }, `${e.run} seed ${e.seed}`)), h("td", {}, e.status),
    h("td", { class: e.kept ? "good" : "bad" }, e.kept ? "kept" : `dropped by ${e.dropped_by}`),
    h("td", { class: "num" }, `${e.kept_steps} / ${e.steps}`), h("td", {}, rng(e.kept_ranges)),
    h("td", {}, e.removed.map((r) => h("div", {}, `${r.filter}: ${r.dropped_episode ? "dropped the episode" : `removed ${r.steps} steps (${rng(r.ranges)})`}`)))));
  const nav = (o, label) => h("a", { link: `/filter?config=${n}&offset=${o}` }, label);
  return h("section", {}, h("h1", {}, "Filter preview"),
    h("div", { class: "filters" }, configs.map((c, k) => (k === n ? h("strong", {}, c.path) : h("a", { link: `/filter?config=${k}` }, c.path)))),
    data.not_used.length ? h("p", { class: "muted", id: "not-used" }, `Not used by the preview (it reads this viewer's store and exports nothing): ${data.not_used.join(", ")}.`) : null,
    h("h2", {}, "Filters, in order"),
    table(["filter", "settings"], data.filters.map((f) => h("tr", {}, h("td", {}, f.name), h("td", {}, JSON.stringify(f.settings))))),
    h("h2", {}, "Episodes"),
    table(["episode", "status", "verdict", "steps kept", "kept steps", "why"], rows, { id: "preview" }),
    h("div", { class: "pager" }, offset > 0 ? nav(Math.max(0, offset - PREVIEW_PAGE), "‹ prev") : null,
      h("span", {}, `${data.total ? offset + 1 : 0}–${Math.min(data.total, offset + PREVIEW_PAGE)} of ${data.total} episodes`),
      offset + PREVIEW_PAGE < data.total ? nav(offset + PREVIEW_PAGE, "next ›") : null),
    h("h2", {}, "Counts on this page"),
    table(["filter", "episodes in", "dropped", "steps in", "steps removed"], data.counts.map((c) => h("tr", {},
      h("td", {}, c.name), h("td", { class: "num" }, c.episodes_in), h("td", { class: "num" }, c.episodes_dropped),
      h("td", { class: "num" }, c.steps_in), h("td", { class: "num" }, c.steps_removed)))));
}

// -- training curves -------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function chart(title, xLabel, series) {
  const W = 560, H = 260, L = 50, R = 10, T = 24, B = 34;
  const pts = series.flatMap((x) => x.points);
  if (!pts.length) return h("p", { class: "muted" }, `${title}: no points`);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]).concat(series.flatMap((x) => (x.band || []).flatMap((b) => [b[1], b[2]])));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const X = (v) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R), Y = (v) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - T - B);
  const svg = s("svg", { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "data-title": title });
  svg.append(s("text", { x: L, y: 16, "font-weight": 600 }, title),
    s("text", { x: W / 2, y: H - 6, "text-anchor": "middle", fill: "#667085" }, xLabel),
    s("text", { x: 4, y: T + 8, fill: "#667085" }, fmt(y1, 3)), s("text", { x: 4, y: H - B, fill: "#667085" }, fmt(y0, 3)),
    s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#d9dde5" }), s("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#d9dde5" }));
  series.forEach((ser, k) => {
    if (ser.band && ser.band.length) svg.append(s("polygon", { fill: ser.color, "fill-opacity": 0.15,
      points: ser.band.map((b) => `${X(b[0])},${Y(b[2])}`).concat([...ser.band].reverse().map((b) => `${X(b[0])},${Y(b[1])}`)).join(" ") }));
    svg.append(s("polyline", { fill: "none", stroke: ser.color, "stroke-width": 2, points: ser.points.map((p) => `${X(p[0])},${Y(p[1])}`).join(" ") }));
    for (const p of ser.points) svg.append(s("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: ser.color, class: "point", "data-series": ser.name },
      s("title", {}, `${ser.name} @ ${p[0]}: ${fmt(p[1], 4)}`)));
    svg.append(s("text", { x: W - R, y: 16 + 14 * k, fill: ser.color, "text-anchor": "end" }, ser.name));
  });
  return svg;
}
async function viewTraining() {
  const { runs } = await api.training();
  if (!runs.length) return h("section", {}, h("h1", {}, "Training runs"), h("p", {}, "No training run: start the viewer with --train-dir DIR (a `vlmforge train` output_dir)."));
  return h("section", {}, h("h1", {}, "Training runs"), runs.map((r) => h("div", { class: "training", "data-name": r.name },
    h("h2", {}, `${r.name}${r.trainer ? ` (${r.trainer})` : ""}`), h("p", { class: "muted" }, r.path),
    r.loss ? chart("loss", "optimizer step", [
      { name: "train loss", color: "#2357c6", points: r.loss.train.filter((p) => "loss" in p).map((p) => [p.step, p.loss]) },
      { name: "eval loss", color: "#b26b00", points: r.loss.eval.filter((p) => "eval_loss" in p).map((p) => [p.step, p.eval_loss]) }]) : null,
    r.reward ? chart("episode reward", "iteration", [
      { name: "reward (mean, min–max)", color: "#1a7f37", points: r.reward.filter((p) => "reward_mean" in p).map((p) => [p.iteration, p.reward_mean]),
        band: r.reward.filter((p) => "reward_min" in p && "reward_max" in p).map((p) => [p.iteration, p.reward_min, p.reward_max]) }]) : null)));
}

// -- start -----------------------------------------------------------------------------------
for (const a of document.querySelectorAll("header a[data-link]")) a.setAttribute("href", href(a.dataset.link));
if (EXPORT) {
  document.getElementById("nav-filter").remove();
  document.getElementById("store").textContent = DATA.title || "";
  window.addEventListener("hashchange", render);
}
render();
