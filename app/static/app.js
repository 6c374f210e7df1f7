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
    region: null,        // {time_s: [a, b], freq_hz: [lo, hi]} sent to the server
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
    $("btn-pack").disabled = !idle || !app.codes;
    $("btn-undo").disabled = !idle || app.history.length === 0;
  }

  async function task(label, fn) {
    app.busy += 1;
    refreshButtons();
    setStatus(`${label}…`);
    try {
      await fn();
      setStatus("ready");
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
    const seed = parseInt($("seed").value, 10);
    if (Number.isFinite(seed)) out.seed = seed;
    return out;
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

  // -- drawing -------------------------------------------------------------------------------
  function drawSpectrogram() {
    const canvas = $("spectrogram");
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (app.specImage) ctx.drawImage(app.specImage, 0, 0, canvas.width, canvas.height);
    const sel = app.selection;
    if (sel) {
      const x = sel.x0 * canvas.width, y = sel.y0 * canvas.height;
      const w = (sel.x1 - sel.x0) * canvas.width, h = (sel.y1 - sel.y0) * canvas.height;
      ctx.fillStyle = "rgba(76, 194, 255, 0.18)";
      ctx.fillRect(x, y, w, h);
      ctx.strokeStyle = "#4cc2ff";
      ctx.lineWidth = 2;
      ctx.strokeRect(x, y, w, h);
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
    const mask = app.lastMasks ? app.lastMasks[level] : null;
    for (let r = 0; r < nRows; r++) {
      const y = (nRows - 1 - r) * ch;   // low frequencies at the bottom
      for (let c = 0; c < nCols; c++) {
        ctx.fillStyle = codeColour(rows[r][c], numCodes);
        ctx.fillRect(Math.floor(c * cw), Math.floor(y), Math.ceil(cw), Math.ceil(ch));
      }
    }
    if (!mask) return;
    ctx.strokeStyle = "rgba(255,255,255,0.95)";
    ctx.lineWidth = Math.max(1, Math.min(2, Math.min(cw, ch) / 4));
    for (let r = 0; r < nRows; r++) {
      for (let c = 0; c < nCols; c++) {
        if (mask[r][c]) ctx.strokeRect(c * cw + 1, (nRows - 1 - r) * ch + 1, cw - 2, ch - 2);
      }
    }
  }

  // -- state changes -------------------------------------------------------------------------
  async function refreshMedia() {
    const [png, wav] = await Promise.all([
      postJson("/api/spectrogram", { codes: app.codes }, "blob"),
      postJson("/api/audio", { codes: app.codes }, "blob"),
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
    app.codes = codes;
    app.lastMasks = masks || null;
    drawCodemap("top");
    drawCodemap("bottom");
    await refreshMedia();
    app.edits += 1;
  }

  // -- actions -------------------------------------------------------------------------------
  const actions = {
    generate: () => task("generating", async () => {
      const res = await postJson("/api/generate", { ...labels(), ...sampling() });
      app.lastSeed = res.seed;
      app.selection = null; app.region = null; updateRegionText();
      await setCodes(res.codes, null);
    }),
    dataset: () => task("picking a dataset note", async () => {
      const { pitch, family } = labels();
      const seed = sampling().seed;
      const res = await postJson("/api/sample-from-dataset", { pitch, family, ...(seed !== undefined ? { seed } : {}) });
      app.lastSeed = res.seed;
      await setCodes(res.codes, null);
      setStatus(`dataset note #${res.labels.index} (${res.labels.family}, pitch ${res.labels.pitch})`);
    }),
    upload: (file) => task("analysing upload", async () => {
      const form = new FormData();
      form.append("audio", file, file.name);
      const res = await request("/api/analyze", { method: "POST", body: form }, "json");
      app.selection = null; app.region = null; updateRegionText();
      await setCodes(res.codes, null);
    }),
    resample: () => task("resampling region", async () => {
      const res = await postJson("/api/inpaint", {
        codes: app.codes, region: app.region, layer: $("layer").value, ...labels(), ...sampling(),
      });
      app.lastSeed = res.seed;
      await setCodes(res.codes, res.masks);
    }),
    attenuate: () => task("attenuating region", async () => {
      const res = await postJson("/api/attenuate", {
        codes: app.codes, region: app.region, amount_db: parseFloat($("amount-db").value) || 0,
      });
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
    $("region-text").textContent = r
      ? `region ${r.time_s[0].toFixed(3)}–${r.time_s[1].toFixed(3)} s × ${Math.round(r.freq_hz[0])}–${Math.round(r.freq_hz[1])} Hz`
      : "no region selected";
    drawSpectrogram();
    refreshButtons();
  }

  // -- box selection on the spectrogram ----------------------------------------------------------
  function installSelection() {
    const canvas = $("spectrogram");
    let start = null;
    const frac = (ev) => {
      const rect = canvas.getBoundingClientRect();
      return [Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width)),
              Math.min(1, Math.max(0, (ev.clientY - rect.top) / rect.height))];
    };
    const boxOf = (a, b) => ({ x0: Math.min(a[0], b[0]), x1: Math.max(a[0], b[0]),
                               y0: Math.min(a[1], b[1]), y1: Math.max(a[1], b[1]) });
    canvas.addEventListener("pointerdown", (ev) => {
      if (!app.info) return;
      start = frac(ev);
      canvas.setPointerCapture?.(ev.pointerId);
      app.selection = boxOf(start, start);
      drawSpectrogram();
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!start) return;
      app.selection = boxOf(start, frac(ev));
      drawSpectrogram();
    });
    const finish = (ev) => {
      if (!start) return;
      const sel = boxOf(start, frac(ev));
      start = null;
      const minW = 3 / canvas.getBoundingClientRect().width, minH = 3 / canvas.getBoundingClientRect().height;
      if (sel.x1 - sel.x0 < minW || sel.y1 - sel.y0 < minH) {
        app.selection = null; app.region = null;
      } else {
        app.selection = sel; app.region = regionOf(sel);
      }
      updateRegionText();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", () => { start = null; });
  }

  // -- start-up -----------------------------------------------------------------------------------
  async function init() {
    installSelection();
    $("btn-generate").addEventListener("click", actions.generate);
    $("btn-dataset").addEventListener("click", actions.dataset);
    $("btn-resample").addEventListener("click", actions.resample);
    $("btn-attenuate").addEventListener("click", actions.attenuate);
    $("btn-undo").addEventListener("click", actions.undo);
    $("btn-pack").addEventListener("click", actions.pack);
    $("file-upload").addEventListener("change", (ev) => {
      const file = ev.target.files[0];
      if (file) actions.upload(file);
      ev.target.value = "";
    });
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
    const family = $("family");
    family.append(new Option("(any)", ""));
    for (const name of app.info.families) family.append(new Option(name, name));
    family.value = app.info.families.includes("brass") ? "brass" : "";
    $("pitch").min = app.info.pitch_range[0];
    $("pitch").max = app.info.pitch_range[1];
    drawSpectrogram();
    await actions.generate();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
