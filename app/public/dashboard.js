// The dashboard: small time-series plots of /api/dashboard, sampled every 2 s for 5 minutes,
// drawn on canvases by hand (a few dozen lines; no chart library to load on a phone).
// A sample the server could not give (Redis down, server unreachable) is null: the plot shows
// a gap and the label says "unavailable", never a zero that did not happen.
const SAMPLE_MS = 2000;
const KEEP = 150;
const $ = (id) => document.getElementById(id);

/** The plotted series: how to read a value from two consecutive samples, and how to print it. */
const SERIES = [
  {
    id: 'plot-hit-rate',
    value: (s) => (s.cache ? rate(s.cache.hits, s.cache.misses) : null),
    max: () => 100,
    text: (v) => `${v.toFixed(0)} %`,
    idle: 'no reads',
  },
  { id: 'plot-refused', value: (s, p) => (p && s.refused >= p.refused ? s.refused - p.refused : undefined), text: (v) => `${v} / 2 s` },
  { id: 'plot-queue', value: (s) => s.queueDepth, text: (v) => `${v} jobs` },
  { id: 'plot-clients', value: (s) => s.clients, text: (v) => `${v}` },
  { id: 'plot-mode', value: (s) => (s.mode === 'degraded' ? 0 : 1), max: () => 1, text: (v, s) => s.mode, step: true },
];

// Hit rate of the whole deployment (every instance, summed in Redis); undefined (not null) before the first read: nothing to plot, nothing missing.
function rate(hits, misses) {
  return hits + misses > 0 ? (100 * hits) / (hits + misses) : undefined;
}

const samples = [];
let modeChanges = 0;

async function tick() {
  let sample = null;
  try {
    const res = await fetch('/api/dashboard', { headers: { accept: 'application/json' } });
    if (res.ok) sample = await res.json();
  } catch {
    /* the server is unreachable: every series is unavailable */
  }
  const previous = samples.at(-1)?.raw ?? null;
  if (sample && previous && sample.mode !== previous.mode) modeChanges++;
  samples.push({ raw: sample, values: SERIES.map((s) => (sample ? s.value(sample, previous) : null)) });
  while (samples.length > KEEP) samples.shift();
  draw();
}

function draw() {
  const last = samples.at(-1);
  SERIES.forEach((series, i) => {
    const canvas = $(series.id);
    if (!canvas) return;
    const label = canvas.parentElement.querySelector('.value');
    const v = last?.values[i];
    const unavailable = v === null;
    label.textContent = unavailable ? 'unavailable' : v === undefined ? (series.idle ?? '…') : series.text(v, last.raw);
    label.classList.toggle('bad', unavailable);
    if (series.id === 'plot-mode') label.textContent += ` · ${modeChanges} change${modeChanges === 1 ? '' : 's'}`;
    plot(
      canvas,
      samples.map((s) => s.values[i]),
      series,
    );
  });
}

/** Draws one series: a line (or steps), gaps where values are null, red ticks where unavailable. */
function plot(canvas, values, series) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const g = canvas.getContext('2d');
  const css = getComputedStyle(canvas);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = css.getPropertyValue('--line') || '#d0d7de';
  g.lineWidth = ratio;
  g.strokeRect(0.5, 0.5, w - 1, h - 1);
  const numbers = values.filter((v) => typeof v === 'number');
  const max = series.max?.() ?? Math.max(1, ...numbers);
  const x = (i) => w - (values.length - 1 - i) * (w / (KEEP - 1));
  const y = (v) => h - 3 * ratio - (v / max) * (h - 6 * ratio);
  g.strokeStyle = css.color;
  g.lineWidth = 2 * ratio;
  g.beginPath();
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== 'number') {
      pen = false;
      return;
    }
    if (!pen) g.moveTo(x(i), y(v));
    else if (series.step) {
      g.lineTo(x(i), y(values[i - 1]));
      g.lineTo(x(i), y(v));
    } else g.lineTo(x(i), y(v));
    // A lone point still shows: a short dash.
    if (!pen && (i === values.length - 1 || typeof values[i + 1] !== 'number')) g.lineTo(x(i) - 2 * ratio, y(v));
    pen = true;
  });
  g.stroke();
  g.fillStyle = css.getPropertyValue('--bad') || '#cf222e';
  values.forEach((v, i) => {
    if (v === null) g.fillRect(x(i) - ratio, h - 4 * ratio, 2 * ratio, 4 * ratio);
  });
}

window.addEventListener('resize', draw);
tick();
setInterval(tick, SAMPLE_MS);
