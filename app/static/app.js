// specinpaint web app: one page, no dependencies. State lives in `window.specinpaint` (handy for
// debugging and for the browser test). Every edit goes through the JSON API of the same server.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const app = {
    info: null,          // /api/info
    codes: null,         // {top: [[...]], bottom: [[...]]}
    history: [],         // previous codes (undo stack)
    selection: null,     // box in canvas fractions {x0, x1, y0, y1} (y from the top)
    paint: null,         // cells painted on a codemap: {level, mask: rows (low → high) × columns of 0/1}
    region: null,        // sent to the server: {time_s: [a, b], freq_hz: [lo, hi]} or {masks: {level: mask}}
    preview: null,       // cells the region selects on every level (from /api/region-masks)
    previewToken: 0,
    grid: null,          // the codemap grid drawn on the spectrogram: {level, rows, cols, xs, ys} (fractions)
    axes: null,          // tick labels drawn beside the spectrogram: {x: [[label, fraction]], y: [...]}
    lastMasks: null,     // cells the last edit could change (per level)
    lastSeed: null,
    busy: 0,
    edits: 0,            // completed code changes (spectrogram and audio refreshed)
    specImage: null,
    audioUrl: null,
    packUrl: null,
  };
  window.specinpaint = app;
  const MAX_HISTORY = 50;
  // "push the family": guidance against the same pitch without the family (docs/results/quality-cpu.md,
  // sections 8 and 21: scale 4 lifts the family most; some notes then miss the pitch; tiny.yaml's own).
  // "classic": guidance against no labels at scale 2 (tiny.yaml's before section 21: more notes at
  // the asked pitch, fewer in the asked family; the long budget's own). The "strength" field
  // replaces a choice's scale; "pitch strength" gives the pitch its own (section 22.4).
  const GUIDANCE = {
    family: { guidance_drop: "family", guidance_scale: 4 },
    classic: { guidance_drop: "both", guidance_scale: 2 },
  };

  // -- helpers ------------------------------------------------------------------------------
  function setStatus(text, isError = false) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  async function request(path, options, kind) {
    const res = await fetch(path, options);
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = await res.json();
        message = typeof body.detail === "string" ? body.detail
          : (body.detail || []).map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
      } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    return kind === "blob" ? res.blob() : res.json();
  }

  const postJson = (path, body, kind = "json") => request(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }, kind);


  function refreshButtons() {
    const idle = app.busy === 0;
    $("btn-generate").disabled = !idle;
    $("btn-dataset").disabled = !idle || !(app.info && app.info.dataset_notes > 0);
    $("btn-resample").disabled = !idle || !app.codes || !app.region;
    $("btn-attenuate").disabled = !idle || !app.codes || !app.region;
    $("btn-noise").disabled = !idle || !app.codes || !app.region;
    $("btn-clear").disabled = !app.region;
    $("btn-pack").disabled = !idle || !app.codes;
    $("btn-undo").disabled = !idle || app.history.length === 0;
  }

  async function task(label, fn) {
    app.busy += 1;
    refreshButtons();
    setStatus(`${label}…`);
    try {
      setStatus((await fn()) || "ready");  // a task may return what to say when it is done
    } catch (err) {
      setStatus(`${label} failed: ${err.message}`, true);
    } finally {
      app.busy -= 1;
      refreshButtons();
    }
  }

  function labels() {
    const pitch = parseInt($("pitch").value, 10);
    const family = $("family").value;
    return { pitch: Number.isFinite(pitch) ? pitch : null, family: family || null };
  }

  function sampling() {
    const out = { temperature: parseFloat($("temperature").value) };
    const sampler = $("sampler").value;
    if (sampler) out.sampler = sampler;
    const guidance = GUIDANCE[$("guidance").value];
    if (guidance) Object.assign(out, guidance);
    const strength = parseFloat($("guidance-scale").value);
    if (Number.isFinite(strength)) out.guidance_scale = strength;
    const pitchStrength = parseFloat($("pitch-guidance").value);
    if (Number.isFinite(pitchStrength)) out.pitch_guidance_scale = pitchStrength;
    const seed = parseInt($("seed").value, 10);
    if (Number.isFinite(seed)) out.seed = seed;
    return out;
  }
  app.sampling = sampling;  // what the next request sends (the browser test reads it)

  function describeGuidance(s) {   // the bundle's own guidance, in the words of the choices
    const scale = Number(s.guidance_scale);
    if (s.pitch_guidance_scale != null) return `family ${scale}, pitch ${Number(s.pitch_guidance_scale)}`;
    if (scale === 1) return "none";
    return s.guidance_drop === "family" ? `push the family ${scale}` : `classic ${scale}`;
  }

  function showGuidanceDefaults() {   // the strength fields show what a blank one sends
    const own = app.info && app.info.sampling;
    const preset = GUIDANCE[$("guidance").value];
    const scale = preset ? preset.guidance_scale : own && own.guidance_scale;
    $("guidance-scale").placeholder = scale != null ? String(scale) : "";
    const pitch = own && own.pitch_guidance_scale;
    $("pitch-guidance").placeholder = pitch != null ? String(pitch) : "off";
  }

  // -- geometry: canvas fractions <-> seconds × Hz -------------------------------------------
  function columns() { return app.codes ? app.codes.top[0].length : app.info.window_columns; }

  function frameTimes() {
    const info = app.info;
    const perWindow = info.frame_times_s.length;
    if (columns() === info.window_columns) return info.frame_times_s;
    const total = Math.round(perWindow * columns() / info.window_columns);
    const step = info.column_seconds * info.window_columns / perWindow;
    return Array.from({ length: total }, (_, i) => info.frame_times_s[0] + i * step);
  }

  function edges(centres) {   // cell edges half-way between centres (outer edges mirrored)
    const n = centres.length;
    if (n === 1) return [centres[0] - 0.5, centres[0] + 0.5];
    const out = [centres[0] - (centres[1] - centres[0]) / 2];
    for (let i = 1; i < n; i++) out.push((centres[i - 1] + centres[i]) / 2);
    out.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2);
    return out;
  }

  function at(edgeList, fraction) {   // position along the axis, fraction in [0, 1]
    const x = Math.min(1, Math.max(0, fraction)) * (edgeList.length - 1);
    const i = Math.min(edgeList.length - 2, Math.floor(x));
    return edgeList[i] + (x - i) * (edgeList[i + 1] - edgeList[i]);
  }

  function regionOf(sel) {
    const t = edges(frameTimes());
    const f = edges(app.info.bin_frequencies_hz);
    const time = [Math.max(0, at(t, sel.x0)), at(t, sel.x1)];
    const freq = [Math.max(0, at(f, 1 - sel.y1)), at(f, 1 - sel.y0)];   // y grows downwards
    return { time_s: time, freq_hz: freq };
  }

  // -- the codemap grid on the spectrogram ---------------------------------------------------
  function levelSize(level) {
    const rows = app.codes ? app.codes[level] : null;
    return rows ? [rows.length, rows[0].length] : [app.info.levels[level].rows, app.info.levels[level].columns];
  }

  // Cell c of n covers rows/frames ⌊c·N/n⌋ … ⌊(c+1)·N/n⌋ − 1 of the N the image shows (as the server
  // maps regions), so lines sit at ⌊c·N/n⌋ / N.
  function gridOf(level) {
    const [rows, cols] = levelSize(level);
    const F = app.info.bin_frequencies_hz.length, T = frameTimes().length;
    const x = (c) => Math.floor(c * T / cols) / T;
    const y = (r) => 1 - Math.floor(r * F / rows) / F;   // fraction from the top; row 0 = lowest
    const xs = [], ys = [];
    for (let c = 1; c < cols; c++) xs.push(x(c));
    for (let r = 1; r < rows; r++) ys.push(y(r));
    return { level, rows, cols, xs, ys, cell: (r, c) => ({ x0: x(c), x1: x(c + 1), y0: y(r + 1), y1: y(r) }) };
  }

  function drawSpectrogram() {
    const canvas = $("spectrogram");
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height;
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, W, H);
    if (app.specImage) ctx.drawImage(app.specImage, 0, 0, W, H);
    if (!app.info) return;
    const grid = app.grid = gridOf($("level").value);
    const covered = app.preview ? app.preview[grid.level] : null;
    if (covered) {   // the cells an edit of this level may change
      ctx.fillStyle = "rgba(76, 194, 255, 0.28)";
      for (let r = 0; r < grid.rows; r++) {
        for (let c = 0; c < grid.cols; c++) {
          if (!covered[r][c]) continue;
          const b = grid.cell(r, c);
          ctx.fillRect(b.x0 * W, b.y0 * H, (b.x1 - b.x0) * W, (b.y1 - b.y0) * H);
        }
      }
    }
    ctx.lineWidth = 1;
    for (const [colour, shift] of [["rgba(0, 0, 0, 0.45)", -0.5], ["rgba(255, 255, 255, 0.5)", 0.5]]) {
      ctx.strokeStyle = colour;   // a dark and a light line side by side: visible on dark and light images
      ctx.beginPath();
      for (const x of grid.xs) { ctx.moveTo(Math.round(x * W) + shift, 0); ctx.lineTo(Math.round(x * W) + shift, H); }
      for (const y of grid.ys) { ctx.moveTo(0, Math.round(y * H) + shift); ctx.lineTo(W, Math.round(y * H) + shift); }
      ctx.stroke();
    }
    const sel = app.selection;
    if (sel) {
      const x = sel.x0 * W, y = sel.y0 * H;
      const w = (sel.x1 - sel.x0) * W, h = (sel.y1 - sel.y0) * H;
      ctx.strokeStyle = "#4cc2ff";
      ctx.lineWidth = 2;
      ctx.strokeRect(x, y, w, h);
    }
  }

  // -- axes in seconds and Hz ---------------------------------------------------------------------
  function fractionOf(edgeList, value) {   // inverse of at(): where a value lies along the axis
    const n = edgeList.length - 1;
    if (value <= edgeList[0]) return 0;
    if (value >= edgeList[n]) return 1;
    let i = 0;
    while (edgeList[i + 1] < value) i++;
    return (i + (value - edgeList[i]) / (edgeList[i + 1] - edgeList[i])) / n;
  }

  function niceStep(span, most) {
    const raw = span / most, power = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((m) => m * power).find((step) => span / step <= most);
  }

  const decimals = (step) => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));

  function axisTicks() {
    const t = edges(frameTimes());
    const duration = columns() * app.info.column_seconds;
    const step = niceStep(duration, 6);
    const x = [];
    for (let k = 0; k * step < duration - step / 2; k++) x.push([(k * step).toFixed(decimals(step)), fractionOf(t, k * step)]);
    x.push([`${+duration.toFixed(3)} s`, fractionOf(t, duration)]);
    const bins = app.info.bin_frequencies_hz, f = edges(bins);
    const top = bins[bins.length - 1];
    const y = [];
    for (let k = 0; k < 5; k++) {   // evenly spaced rows (mel rows are not evenly spaced in Hz), rounded
      const hz = bins[Math.round(k * (bins.length - 1) / 5)];
      const round = hz < 100 ? Math.round(hz) : +hz.toPrecision(2);
      if (!y.some(([label]) => +label === round)) y.push([String(round), 1 - fractionOf(f, round)]);
    }
    y.push([`${Math.round(top)} Hz`, 1 - fractionOf(f, top)]);
    return { x, y };
  }

  function drawAxes() {
    if (!app.info) return;
    const axes = app.axes = axisTicks();
    for (const [id, ticks, side] of [["axis-x", axes.x, "left"], ["axis-y", axes.y, "top"]]) {
      const axis = $(id);
      axis.replaceChildren();
      ticks.forEach(([label, fraction], i) => {
        const tick = document.createElement("span");
        tick.className = "tick" + (i === ticks.length - 1 ? " end" : i === 0 ? " start" : "");
        tick.style[side] = `${(100 * fraction).toFixed(3)}%`;
        tick.textContent = label;
        axis.append(tick);
      });
    }
  }

  function codeColour(code, numCodes) {
    const hue = (code * 137.508) % 360;
    const light = 35 + 30 * (code / Math.max(1, numCodes - 1));
    return `hsl(${hue.toFixed(1)}, 70%, ${light.toFixed(1)}%)`;
  }

  function drawCodemap(level) {
    // Cells stretch to the canvas (rows low→high from the bottom, columns = time), so the maps
    // line up with the spectrogram's axes whatever their shape.
    const canvas = $(`codemap-${level}`);
    const rows = app.codes ? app.codes[level] : null;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!rows) return;
    const nRows = rows.length, nCols = rows[0].length;
    const cw = canvas.width / nCols, ch = canvas.height / nRows;
    const numCodes = app.info.levels[level].num_codes;
    for (let r = 0; r < nRows; r++) {
      const y = (nRows - 1 - r) * ch;   // low frequencies at the bottom
      for (let c = 0; c < nCols; c++) {
        ctx.fillStyle = codeColour(rows[r][c], numCodes);
        ctx.fillRect(Math.floor(c * cw), Math.floor(y), Math.ceil(cw), Math.ceil(ch));
      }
    }
    const each = (mask, fn) => {
      for (let r = 0; r < nRows; r++) for (let c = 0; c < nCols; c++) if (mask[r][c]) fn((nRows - 1 - r) * ch, c * cw);
    };
    const selected = app.paint && app.paint.level === level ? app.paint.mask : app.preview ? app.preview[level] : null;
    if (selected) {   // the selection (painted cells, or the cells the region covers)
      ctx.fillStyle = "rgba(76, 194, 255, 0.45)";
      ctx.strokeStyle = "#4cc2ff";
      ctx.lineWidth = 2;
      each(selected, (y, x) => { ctx.fillRect(x, y, cw, ch); ctx.strokeRect(x + 2, y + 2, cw - 4, ch - 4); });
    }
    const mask = app.lastMasks ? app.lastMasks[level] : null;
    if (!mask) return;
    ctx.strokeStyle = "rgba(255,255,255,0.95)";
    ctx.lineWidth = Math.max(1, Math.min(2, Math.min(cw, ch) / 4));
    each(mask, (y, x) => ctx.strokeRect(x + 1, y + 1, cw - 2, ch - 2));
  }

  function drawAll() {
    drawSpectrogram();
    drawCodemap("top");
    drawCodemap("bottom");
  }

  // -- state changes -------------------------------------------------------------------------
  async function refreshMedia() {
    const [png, wav] = await Promise.all([
      postJson("/api/spectrogram", { codes: app.codes, ...labels() }, "blob"),
      postJson("/api/audio", { codes: app.codes, ...labels() }, "blob"),
    ]);
    app.specImage = await createImageBitmap(png);
    if (app.audioUrl) URL.revokeObjectURL(app.audioUrl);
    app.audioUrl = URL.createObjectURL(wav);
    const player = $("player");
    player.src = app.audioUrl;
    player.load();
    const link = $("download");
    link.href = app.audioUrl;
    link.classList.remove("disabled");
    drawSpectrogram();
  }

  async function setCodes(codes, masks, { remember = true } = {}) {
    if (remember && app.codes) {
      app.history.push(app.codes);
      if (app.history.length > MAX_HISTORY) app.history.shift();
    }
    const resized = !app.codes || app.codes.top[0].length !== codes.top[0].length;
    app.codes = codes;
    app.lastMasks = masks || null;
    if (resized) { clearSelection(); drawAxes(); }
    drawAll();
    await refreshMedia();
    app.edits += 1;
  }

  // -- actions -------------------------------------------------------------------------------
  const actions = {
    generate: () => task("generating", async () => {
      const res = await postJson("/api/generate", { ...labels(), ...sampling() });
      app.lastSeed = res.seed;
      clearSelection();
      if (Number.isInteger(res.labels.pitch)) $("pitch").value = res.labels.pitch;
      await setCodes(res.codes, null);
      return `generated (seed ${res.seed})`;
    }),
    dataset: () => task("picking a dataset note", async () => {
      const { pitch, family } = labels();
      const seed = sampling().seed;
      const res = await postJson("/api/sample-from-dataset", { pitch, family, ...(seed !== undefined ? { seed } : {}) });
      app.lastSeed = res.seed;
      await setCodes(res.codes, null);
      return `dataset note #${res.labels.index} (${res.labels.family}, pitch ${res.labels.pitch})`;
    }),
    upload: (file) => task("analysing upload", async () => {
      const form = new FormData();
      form.append("audio", file, file.name);
      const res = await request("/api/analyze", { method: "POST", body: form }, "json");
      clearSelection();
      if (Number.isInteger(res.labels.pitch)) $("pitch").value = res.labels.pitch;
      await setCodes(res.codes, null);
      return (Number.isInteger(res.labels.pitch)
        ? `${file.name}: estimated pitch ${res.labels.pitch} (set in the pitch box; change it to decode the codes as another pitch)`
        : `${file.name}: no pitch could be estimated; set the pitch box to the note's pitch`);
    }),
    resample: () => task("resampling region", async () => {
      const res = await postJson("/api/inpaint", {
        codes: app.codes, region: app.region, level: $("level").value, ...labels(), ...sampling(),
      });
      app.lastSeed = res.seed;
      await setCodes(res.codes, res.masks);
    }),
    attenuate: () => task("attenuating region", async () => {
      const res = await postJson("/api/attenuate", {
        codes: app.codes, region: app.region, amount_db: parseFloat($("amount-db").value) || 0, ...labels(),
      });
      await setCodes(res.codes, res.masks);
    }),
    noise: () => task("filling region with noise", async () => {
      const seed = sampling().seed;
      const res = await postJson("/api/noise", {
        codes: app.codes, region: app.region, level: $("level").value, ...(seed !== undefined ? { seed } : {}),
      });
      app.lastSeed = res.seed;
      await setCodes(res.codes, res.masks);
    }),
    undo: () => task("undo", async () => {
      if (!app.history.length) return;
      await setCodes(app.history.pop(), null, { remember: false });
    }),
    pack: () => task("building sample pack", async () => {
      const body = {
        codes: app.codes, family: labels().family,
        min_pitch: parseInt($("pack-min").value, 10), max_pitch: parseInt($("pack-max").value, 10), ...sampling(),
      };
      const zip = await postJson("/api/sample-pack", body, "blob");
      if (app.packUrl) URL.revokeObjectURL(app.packUrl);
      app.packUrl = URL.createObjectURL(zip);
      const link = $("pack-download");
      link.href = app.packUrl;
      link.download = `sample-pack-${body.family || "any"}-${body.min_pitch}-${body.max_pitch}.zip`;
      link.classList.remove("hidden");
    }),
  };
  app.actions = actions;

  function updateRegionText() {
    const r = app.region;
    let text = "no region selected";
    if (r && r.masks) {
      const count = app.paint.mask.flat().filter(Boolean).length;
      text = `${count} ${app.paint.level} cell${count === 1 ? "" : "s"} painted`;
    } else if (r) {
      text = `region ${r.time_s[0].toFixed(3)}–${r.time_s[1].toFixed(3)} s × ${Math.round(r.freq_hz[0])}–${Math.round(r.freq_hz[1])} Hz`;
    }
    $("region-text").textContent = text;
    drawAll();
    refreshButtons();
  }

  function clearSelection() {
    app.selection = null; app.paint = null; app.region = null; app.preview = null;
    updateRegionText();
  }

  // The cells the current region selects at the chosen level, from the server (one rule for boxes,
  // painted cells and the edits themselves).
  async function refreshPreview() {
    const token = ++app.previewToken;
    if (!app.region || !app.info) { app.preview = null; drawAll(); return; }
    try {
      const res = await postJson("/api/region-masks", { region: app.region, level: $("level").value, columns: columns() });
      if (token === app.previewToken) app.preview = res.masks;
    } catch (err) {
      if (token === app.previewToken) { app.preview = null; setStatus(`selection: ${err.message}`, true); }
    }
    if (token === app.previewToken) drawAll();
  }

  function setRegion(region) {
    app.region = region;
    app.preview = null;
    updateRegionText();
    refreshPreview();
  }

  const fractionsOf = (canvas, ev) => {
    const rect = canvas.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width)),
            Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height))];
  };

  // -- box selection on the spectrogram ----------------------------------------------------------
  function installSelection() {
    const canvas = $("spectrogram");
    let start = null;
    const boxOf = (a, b) => ({ x0: Math.min(a[0], b[0]), x1: Math.max(a[0], b[0]),
                               y0: Math.min(a[1], b[1]), y1: Math.max(a[1], b[1]) });
    canvas.addEventListener("pointerdown", (ev) => {
      if (!app.info) return;
      start = fractionsOf(canvas, ev);
      canvas.setPointerCapture?.(ev.pointerId);
      app.paint = null;
      app.selection = boxOf(start, start);
      drawAll();
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!start) return;
      app.selection = boxOf(start, fractionsOf(canvas, ev));
      drawSpectrogram();
    });
    const finish = (ev) => {
      if (!start) return;
      const sel = boxOf(start, fractionsOf(canvas, ev));
      start = null;
      const minW = 3 / canvas.getBoundingClientRect().width, minH = 3 / canvas.getBoundingClientRect().height;
      if (sel.x1 - sel.x0 < minW || sel.y1 - sel.y0 < minH) {
        clearSelection();
      } else {
        app.selection = sel;
        setRegion(regionOf(sel));
      }
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", () => { start = null; });
  }

  // -- cell painting on the codemaps ---------------------------------------------------------------
  // Press on a cell to paint (or, on a painted cell, to erase) and drag over others; the painted
  // cells are sent as explicit masks of that level, and the level follows the painted level.
  function installPainting(level) {
    const canvas = $(`codemap-${level}`);
    let erase = null, last = null;
    const cellAt = (ev) => {
      const [fx, fy] = fractionsOf(canvas, ev);
      const [rows, cols] = levelSize(level);
      return [rows - 1 - Math.min(rows - 1, Math.floor(fy * rows)), Math.min(cols - 1, Math.floor(fx * cols))];
    };
    const apply = (ev) => {   // every cell on the way from the last one (a fast drag skips cells)
      const [r, c] = cellAt(ev);
      const [r0, c0] = last || [r, c];
      const steps = Math.max(Math.abs(r - r0), Math.abs(c - c0), 1);
      for (let i = 1; i <= steps; i++) {
        app.paint.mask[Math.round(r0 + (r - r0) * i / steps)][Math.round(c0 + (c - c0) * i / steps)] = erase ? 0 : 1;
      }
      last = [r, c];
      drawCodemap(level);
    };
    canvas.addEventListener("pointerdown", (ev) => {
      if (!app.codes) return;
      if (!app.paint || app.paint.level !== level) {
        const [rows, cols] = levelSize(level);
        app.paint = { level, mask: Array.from({ length: rows }, () => new Array(cols).fill(0)) };
        app.selection = null;
        app.preview = null;
      }
      $("level").value = level;
      const [r, c] = cellAt(ev);
      erase = app.paint.mask[r][c] === 1;
      last = null;
      canvas.setPointerCapture?.(ev.pointerId);
      apply(ev);
    });
    canvas.addEventListener("pointermove", (ev) => { if (erase !== null) apply(ev); });
    const finish = () => {
      if (erase === null) return;
      erase = null;
      const any = app.paint.mask.some((row) => row.some(Boolean));
      if (!any) { clearSelection(); return; }
      setRegion({ masks: { [level]: app.paint.mask.map((row) => row.slice()) } });
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
  }

  // -- start-up -----------------------------------------------------------------------------------
  async function init() {
    installSelection();
    installPainting("top");
    installPainting("bottom");
    $("btn-generate").addEventListener("click", actions.generate);
    $("btn-dataset").addEventListener("click", actions.dataset);
    $("btn-resample").addEventListener("click", actions.resample);
    $("btn-attenuate").addEventListener("click", actions.attenuate);
    $("btn-noise").addEventListener("click", actions.noise);
    $("btn-clear").addEventListener("click", clearSelection);
    $("level").addEventListener("change", () => { drawAll(); refreshPreview(); });
    $("btn-undo").addEventListener("click", actions.undo);
    $("btn-pack").addEventListener("click", actions.pack);
    $("file-upload").addEventListener("change", (ev) => {
      const file = ev.target.files[0];
      if (file) actions.upload(file);
      ev.target.value = "";
    });
    $("guidance").addEventListener("change", showGuidanceDefaults);
    $("temperature").addEventListener("input", () => {
      $("temperature-value").textContent = parseFloat($("temperature").value).toFixed(2);
    });
    document.addEventListener("keydown", (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && !$("btn-undo").disabled) { ev.preventDefault(); actions.undo(); }
    });
    try {
      app.info = await request("/api/info", {}, "json");
    } catch (err) {
      setStatus(`cannot reach the server: ${err.message}`, true);
      return;
    }
    $("model-name").textContent = `${app.info.name} · ${app.info.sample_rate} Hz · ${app.info.window_seconds.toFixed(2)} s`;
    if (app.info.sampling) {
      $("guidance").options[0].textContent = `bundle default (${describeGuidance(app.info.sampling)})`;
      showGuidanceDefaults();
    }
    const family = $("family");
    family.append(new Option("(any)", ""));
    for (const name of app.info.families) family.append(new Option(name, name));
    family.value = app.info.families.includes("brass") ? "brass" : "";
    const [low, high] = app.info.pitch_range;
    const clamp = (v) => Math.min(high, Math.max(low, v));
    for (const id of ["pitch", "pack-min", "pack-max"]) {
      const input = $(id);
      input.min = low; input.max = high;
      input.value = clamp(parseInt(input.value, 10));
    }
    drawAxes();
    drawSpectrogram();
    await actions.generate();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
