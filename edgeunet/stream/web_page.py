"""The live page of web:// as one self-contained HTML string: no CDN, no external file, so it works offline.

The numbers arrive by server-sent events once a second (EventSource reconnects by itself); the token
the page was opened with (?token=...) is passed on to the stream, the events and the snapshot call,
and never written into the page.
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeunet stream</title>
<style>
 body{margin:0;background:#111;color:#ddd;font:14px/1.4 system-ui,sans-serif;display:flex;flex-wrap:wrap}
 #view{flex:1 1 640px;padding:8px} #view img{max-width:100%;display:block;background:#000}
 #side{flex:0 0 330px;padding:8px} h1{font-size:16px;margin:4px 0 8px} .muted{color:#888}
 table{border-collapse:collapse;width:100%} td,th{padding:2px 6px;text-align:right} td:first-child,th:first-child{text-align:left}
 tr:nth-child(even){background:#1b1b1b} .sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
 .big{font-size:22px;font-weight:600;color:#fff} button{background:#2a6;color:#fff;border:0;padding:6px 12px;cursor:pointer}
 svg{background:#181818;width:100%;height:60px}
</style></head>
<body>
<div id="view"><img id="live" alt="live overlay"></div>
<div id="side">
 <h1>edgeunet stream</h1>
 <div class="muted"><span id="model"></span> on <span id="source"></span></div>
 <p><span class="big" id="fps">-</span> FPS &nbsp; drops <span id="drops">-</span> &nbsp; frames <span id="frames">-</span>
  &nbsp; viewers <span id="viewers">-</span></p>
 <p>flicker <span id="flicker">-</span> % of pixels/frame (last second)</p>
 <p id="c2d"></p>
 <table id="stages"><thead><tr><th>stage (ms)</th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody></tbody></table>
 <p class="muted" id="sparktitle">latency, last minute (p50 per second)</p>
 <svg id="spark" viewBox="0 0 60 40" preserveAspectRatio="none"><polyline id="sparkline" fill="none" stroke="#4c8" stroke-width="0.8"
  points=""/></svg>
 <p class="muted" id="sparkrange"></p>
 <h1>classes</h1><div id="legend"></div>
 <p><button id="snap">snapshot</button> <span id="saved" class="muted"></span></p>
</div>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const q = token ? "?token=" + encodeURIComponent(token) : "";
const $ = (id) => document.getElementById(id);
$("live").src = "/stream.mjpg" + q;
const fmt = (v) => (v === null || v === undefined) ? "-" : Number(v).toFixed(1);
function text(id, value) { $(id).textContent = value; }
function show(s) {
  text("model", s.model || ""); text("source", s.source || "");
  text("fps", fmt(s.rolling_fps)); text("drops", s.dropped ?? "-"); text("frames", s.frames ?? "-");
  text("viewers", (s.viewers ?? "-") + "/" + (s.max_clients ?? "-"));
  text("flicker", s.flicker_last_second === null || s.flicker_last_second === undefined ? "-" : Number(s.flicker_last_second).toFixed(2));
  const c = s.capture_to_display;
  text("c2d", c && c.p50 !== undefined ? "capture-to-display p50 " + fmt(c.p50) + " ms, p99 " + fmt(c.p99) + " ms, p99/p50 " +
       Number(c.p99_over_p50).toFixed(2) : "");
  const body = $("stages").tBodies[0]; body.textContent = "";
  for (const [name, st] of Object.entries(s.stages || {})) {
    if (!st.count) continue;
    const row = body.insertRow(); row.insertCell().textContent = name;
    for (const k of ["p50", "p95", "p99"]) row.insertCell().textContent = fmt(st[k]);
  }
  const legend = $("legend"); legend.textContent = "";
  for (const cls of s.classes || []) {
    const item = document.createElement("div"); const sw = document.createElement("span");
    sw.className = "sw"; sw.style.background = cls.color; item.appendChild(sw);
    item.appendChild(document.createTextNode(cls.id + " " + cls.name)); legend.appendChild(item);
  }
  const sp = s.sparkline || {values: []}; const vals = sp.values.filter((v) => v !== null);
  const hi = Math.max(1, ...vals); const lo = Math.min(hi, ...vals);
  const pts = []; sp.values.forEach((v, i) => { if (v !== null) pts.push(i + "," + (38 - 36 * (v - lo) / Math.max(1e-6, hi - lo)).toFixed(2)); });
  $("sparkline").setAttribute("points", pts.join(" "));
  text("sparktitle", (sp.stage || "latency").replace(/_/g, "-") + ", last minute (p50 per second)");
  text("sparkrange", vals.length ? "min " + fmt(lo) + " ms, max " + fmt(hi) + " ms" : "");
}
const events = new EventSource("/events" + q);
events.onmessage = (e) => show(JSON.parse(e.data));
$("snap").onclick = async () => {
  const r = await fetch("/snapshot" + q, {method: "POST", headers: {"X-Edgeunet-Request": "1"}}); const body = await r.json();
  text("saved", r.ok ? "saved " + body.saved.join(", ") : "failed: " + body.error);
};
</script>
</body></html>
"""
