// stoker dashboard: polls /api/jobs once a second and draws uPlot charts of every job.
"use strict";

const POLL_MS = 1000;
const KEEP = 300; // points kept per series (5 minutes at one a second)
const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a"];
const history = { t: [], series: {} }; // series name -> array aligned with t
const previous = {}; // job id -> last stats, for rates between polls
const charts = {};

function jobId(s) { return `${s.job}[${s.rank}]`; }

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function push(name, t, value) {
  if (!(name in history.series)) history.series[name] = history.t.map(() => null);
  history.series[name].push(value);
}

function record(payload) {
  const t = payload.time;
  history.t.push(t);
  const seen = new Set();
  for (const target of payload.targets) {
    for (const job of target.jobs) {
      const s = job.stats, id = jobId(s), prev = previous[id];
      let sps = null, wait = null;
      if (prev && s.wall_s > prev.wall_s) {
        sps = (s.samples - prev.samples) / (s.wall_s - prev.wall_s);
        const busy = (s.wait_s - prev.wait_s) + (s.step_s - prev.step_s);
        wait = busy > 0 ? 100 * (s.wait_s - prev.wait_s) / busy : 0;
      }
      previous[id] = s;
      const values = {
        [`throughput|${id}`]: sps,
        [`wait|${id}`]: wait,
        [`workers|${id} workers`]: s.workers,
        [`workers|${id} budget`]: s.max_workers,
      };
      for (const [stage, v] of Object.entries(s.stage_s_per_sample || {})) values[`stages|${id} ${stage}`] = 1000 * v;
      for (const [name, v] of Object.entries(values)) { push(name, t, v); seen.add(name); }
    }
    for (const job of (target.cluster ? target.cluster.jobs : [])) {
      // A cluster controller reports each job's last round: rates as they are, budgets per job.
      const values = {
        [`throughput|${job.name}`]: job.throughput,
        [`wait|${job.name}`]: 100 * job.data_wait,
        [`workers|${job.name} workers`]: job.workers,
        [`workers|${job.name} budget`]: job.budget,
      };
      for (const [name, v] of Object.entries(values)) { push(name, t, v); seen.add(name); }
    }
  }
  for (const name of Object.keys(history.series)) if (!seen.has(name)) history.series[name].push(null);
  if (history.t.length > KEEP) {
    history.t.shift();
    for (const arr of Object.values(history.series)) arr.shift();
  }
}

const CHARTS = {
  throughput: { title: "samples/s delivered", unit: "samples/s" },
  wait: { title: "trainer waiting on data (%)", unit: "%" },
  workers: { title: "workers and budget", unit: "workers" },
  stages: { title: "worker ms per sample, by stage", unit: "ms" },
};

function draw() {
  for (const [kind, spec] of Object.entries(CHARTS)) {
    const names = Object.keys(history.series).filter((n) => n.startsWith(kind + "|")).sort();
    const el = document.getElementById(`chart-${kind}`);
    const key = names.join(",");
    const data = [history.t.slice(), ...names.map((n) => history.series[n].slice())];
    const existing = charts[kind];
    if (!existing || existing.key !== key) {
      if (existing) existing.plot.destroy();
      const opts = {
        title: spec.title,
        width: Math.max(480, el.clientWidth - 10),
        height: 220,
        series: [{}, ...names.map((n, i) => ({
          label: n.split("|")[1],
          stroke: COLORS[i % COLORS.length],
          width: 2,
          dash: n.endsWith(" budget") ? [6, 4] : undefined,
          spanGaps: false,
        }))],
        axes: [{}, { label: spec.unit }],
      };
      charts[kind] = { key, plot: new uPlot(opts, data, el) };
    } else {
      existing.plot.setData(data);
    }
  }
}

const FIELDS = [
  ["samples", "samples delivered", 0],
  ["items", "batches delivered", 0],
  ["samples_per_s", "samples/s (trainer time)", 1],
  ["wait_fraction", "data-wait", 3],
  ["workers", "workers", 0],
  ["max_workers", "budget", 0],
  ["queue_depth", "queue depth", 0],
  ["errors", "errors", 0],
  ["skipped", "samples skipped", 0],
  ["workers_lost", "worker restarts", 0],
];

function cards(payload) {
  const root = document.getElementById("jobs");
  root.replaceChildren();
  for (const target of payload.targets) {
    if (target.gone !== null) {
      const div = document.createElement("div");
      div.className = "job gone";
      div.dataset.url = target.url;
      div.innerHTML = `<h2>${target.url}</h2><div class="gone-note"></div>`;
      div.querySelector(".gone-note").textContent = `job is gone: ${target.gone}`;
      root.appendChild(div);
      continue;
    }
    if (target.cluster) root.appendChild(clusterCard(target));
    for (const job of target.jobs) {
      const s = job.stats, div = document.createElement("div");
      div.className = "job";
      div.dataset.job = jobId(s);
      const title = document.createElement("h2");
      title.textContent = `${jobId(s)} · ${s.backend} · ${target.url}`;
      div.appendChild(title);
      const table = document.createElement("table");
      for (const [key, label, digits] of FIELDS) {
        const row = table.insertRow(), a = row.insertCell(), b = row.insertCell();
        a.textContent = label;
        b.className = "num";
        b.dataset.key = key;
        b.dataset.value = s[key] === null || s[key] === undefined ? "" : String(s[key]);
        b.textContent = fmt(s[key], digits);
      }
      div.appendChild(table);
      const d = job.diagnosis, diag = document.createElement("div");
      diag.className = "diagnosis";
      diag.textContent = [d.summary, ...d.advice.map((a) => `• ${a.text} (×${a.predicted_speedup.toFixed(2)})`)].join("\n");
      div.appendChild(diag);
      root.appendChild(div);
    }
  }
}

const CLUSTER_FIELDS = [["budget", 0], ["workers", 1], ["throughput", 1], ["data_wait", 3], ["gpus", 0]];

function clusterCard(target) {
  const div = document.createElement("div");
  div.className = "job cluster";
  const title = document.createElement("h2");
  title.textContent = `cluster · round ${target.cluster.rounds} · ${target.url}`;
  div.appendChild(title);
  const table = document.createElement("table");
  const head = table.insertRow();
  for (const label of ["job", "budget", "workers", "samples/s", "data-wait", "GPUs"]) {
    const th = document.createElement("th");
    th.textContent = label;
    head.appendChild(th);
  }
  for (const job of target.cluster.jobs) {
    const row = table.insertRow();
    row.insertCell().textContent = job.name;
    for (const [key, digits] of CLUSTER_FIELDS) {
      const cell = row.insertCell();
      cell.className = "num";
      cell.dataset.clusterJob = job.name;
      cell.dataset.key = key;
      cell.dataset.value = String(job[key]);
      cell.textContent = fmt(job[key], digits);
    }
  }
  div.appendChild(table);
  return div;
}

async function tick() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("/api/jobs", { cache: "no-store" });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const payload = await resp.json();
    record(payload);
    cards(payload);
    draw();
    status.textContent = `updated ${new Date(payload.time * 1000).toLocaleTimeString()}`;
  } catch (err) {
    status.textContent = `dashboard server unreachable (${err.message})`;
  }
  setTimeout(tick, POLL_MS);
}

tick();
