"""The dashboard of ``simserve serve``: a page at ``/`` and the data it polls.

Owns ``PAGE`` (one self-contained HTML file, no external assets: it works offline) and
``dashboard_data`` (workers by state as the platform console's Workers tab, each worker with its
state, phase and jobs; the queue; jobs by status; latency p50/p95 and cost so far; requests served).
The page itself holds no data and is served without the API key; it fetches
``/v2/<endpoint>/dashboard`` every second with ``Authorization: Bearer <key>``, the key taken from
the URL's fragment (``/#key=...``: a fragment never leaves the browser, so it is not sent to the
server or written in any log) or typed in and kept for the tab's session.
"""

from __future__ import annotations

import math
from typing import Any

from simserve.records import PHASES, STATES


def dashboard_data(ex: Any, book: Any, endpoint_id: str, counts: dict[str, int]) -> dict[str, Any]:
    """What the page shows now (O(workers); the job counts are C-speed counts of the status column)."""
    st = ex.status()
    now = st["now_s"]
    workers = []
    for w in ex.core.workers:
        if w.retired:
            continue
        workers.append(
            {
                "id": w.wid,
                "kind": w.kind,
                "state": STATES[w.state],
                "phase": PHASES[w.phase],
                "jobs": len(w.running),
                "for_s": round(max(now - w.since, 0.0), 1),
            }
        )
    p50, p95 = st["latency_p50_s"], st["latency_p95_s"]
    return {
        "endpoint": endpoint_id,
        "now_s": round(now, 2),
        "workers_by_state": st["workers"],
        "workers": workers,
        "health": book.health(),
        "in_queue": st["in_queue"],
        "in_progress": st["in_progress"],
        "arrived": st["arrived"],
        "completed": st["completed"],
        "latency_p50_s": None if math.isnan(p50) else round(p50, 4),
        "latency_p95_s": None if math.isnan(p95) else round(p95, 4),
        "cost_usd": round(st["cost_usd"], 6),
        "faults": st["faults"],
        "http": dict(counts),
    }


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>simserve serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
 header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;gap:16px;align-items:baseline}
 header h1{font-size:18px;margin:0} header span{color:#aab3c5;font-size:13px}
 main{padding:18px 24px;max-width:1100px}
 .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px;margin-bottom:18px}
 .card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
 .card b{display:block;font-size:22px;margin-top:4px} .card small{color:#667}
 h2{font-size:15px;margin:18px 0 8px} table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;
 box-shadow:0 1px 2px #0002} th,td{text-align:left;padding:7px 12px;border-bottom:1px solid #eef0f3;font-size:13px}
 th{color:#667;font-weight:600}
 .badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:12px;color:#fff}
 .running{background:#1f9d55}.idle{background:#8a94a6}.initializing{background:#2f6fdb}.throttled{background:#e08a00}
 .outdated{background:#8e44ad}.unhealthy{background:#d63031} .states{display:flex;gap:8px;flex-wrap:wrap}
 #err{color:#d63031;margin:8px 0} #keybox{display:none;margin:10px 0} input{padding:6px;width:320px}
</style></head><body>
<header><h1>simserve serve</h1><span id="ep">endpoint</span><span id="clock"></span></header>
<main>
<div id="keybox">API key: <input id="key" type="password"> <button id="save">show</button></div>
<div id="err"></div>
<div class="cards">
 <div class="card"><small>in queue</small><b id="q">-</b></div>
 <div class="card"><small>in progress</small><b id="ip">-</b></div>
 <div class="card"><small>completed</small><b id="done">-</b></div>
 <div class="card"><small>failed</small><b id="failed">-</b></div>
 <div class="card"><small>latency p50 / p95</small><b id="lat">-</b></div>
 <div class="card"><small>cost so far</small><b id="cost">-</b></div>
</div>
<h2>Workers</h2>
<div class="states" id="states"></div>
<br>
<table><thead><tr><th>worker</th><th>type</th><th>state</th><th>phase</th><th>jobs</th><th>for</th></tr></thead>
<tbody id="workers"></tbody></table>
</main>
<script>
const STATES = ["running","idle","initializing","throttled","outdated","unhealthy"];
function key(){
  const m = location.hash.match(/key=([^&]+)/);
  if (m) { sessionStorage.setItem("simserve-key", decodeURIComponent(m[1])); }
  return sessionStorage.getItem("simserve-key");
}
function el(t, cls, text){ const e = document.createElement(t); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e; }
function fmt(s){ return s === null ? "-" : (s < 1 ? (s*1000).toFixed(0) + " ms" : s.toFixed(2) + " s"); }
async function tick(){
  const k = key();
  if (!k) { document.getElementById("keybox").style.display = "block"; return; }
  try {
    const r = await fetch("/v2/local/dashboard", {headers: {"Authorization": "Bearer " + k}, cache: "no-store"});
    if (r.status === 401) { document.getElementById("err").textContent = "wrong API key";
      sessionStorage.removeItem("simserve-key"); document.getElementById("keybox").style.display = "block"; return; }
    const d = await r.json();
    document.getElementById("err").textContent = "";
    document.getElementById("ep").textContent = "endpoint " + d.endpoint;
    document.getElementById("clock").textContent = "t = " + d.now_s.toFixed(1) + " s";
    document.getElementById("q").textContent = d.in_queue;
    document.getElementById("ip").textContent = d.in_progress;
    document.getElementById("done").textContent = d.health.jobs.completed;
    document.getElementById("failed").textContent = d.health.jobs.failed;
    document.getElementById("lat").textContent = fmt(d.latency_p50_s) + " / " + fmt(d.latency_p95_s);
    document.getElementById("cost").textContent = "$" + d.cost_usd.toFixed(4);
    const states = document.getElementById("states"); states.replaceChildren();
    for (const s of STATES) { const b = el("span", "badge " + s, s + " " + (d.workers_by_state[s] || 0));
      states.appendChild(b); }
    const body = document.getElementById("workers"); body.replaceChildren();
    for (const w of d.workers) { const tr = el("tr");
      tr.appendChild(el("td", "", "worker " + w.id)); tr.appendChild(el("td", "", w.kind));
      const td = el("td"); td.appendChild(el("span", "badge " + w.state, w.state)); tr.appendChild(td);
      tr.appendChild(el("td", "", w.phase || "-")); tr.appendChild(el("td", "", w.jobs));
      tr.appendChild(el("td", "", w.for_s.toFixed(1) + " s")); body.appendChild(tr); }
  } catch (e) { document.getElementById("err").textContent = "endpoint not reachable (stopped?)"; }
}
document.getElementById("save").onclick = () => {
  sessionStorage.setItem("simserve-key", document.getElementById("key").value);
  document.getElementById("keybox").style.display = "none"; tick(); };
tick(); setInterval(tick, 1000);
</script></body></html>
"""
