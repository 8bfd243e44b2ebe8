/* The Explore section of a clearcnn report: every layer's feature maps for one sample, and the arithmetic of any
   cell in the words of `clearcnn explain` (clearcnn/explain/arithmetic.py and cells.py).

   The numbers are the model's own forward pass, embedded by explorer.py; each layer kind has one renderer below
   that redoes explain's arithmetic in the same order, so that its text equals explain's. Maps are canvases; the
   cell under the pointer and the selected cell are elements carrying data-layer, data-row, data-col and
   data-channel (vectors: row 0, column 0, the unit in data-channel), and window.clearcnnExplorer lets tools
   select cells directly. Model-supplied strings only ever go into text nodes. */
"use strict";
(function () {
  const root = document.getElementById("explorer");
  const source = document.getElementById("explorer-data");
  if (!root || !source) return;
  const DATA = JSON.parse(source.textContent);
  const VIEW_SIZE = 224;   // the largest side of a layer's main map, in CSS pixels
  const LARGE_VIEW_SIZE = 320;  // the same for maps over 64 cells on a side
  const MAX_CELL = 20;     // the largest cell, in CSS pixels
  const SHOWN_CELLS = 64;  // a global pool lists an image's cells one by one up to this many (as cells.py)

  // --- arrays: little-endian bytes in base64 -------------------------------------------------------------
  const TYPES = { float32: Float32Array, float64: Float64Array, int32: Int32Array };
  function decode(encoded) {
    if (!encoded) return null;
    const text = atob(encoded.b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new TYPES[encoded.dtype](bytes.buffer);
  }

  // --- numbers, written as explain writes them (Python's f"{value:.4g}") ---------------------------------
  // Four significant digits of a > 0, rounded half to even on the exact binary value, as Python does.
  function fourDigits(a) {
    const [mantissa, exponent] = a.toExponential(40).split("e");
    const digits = mantissa.replace(".", "");
    const head = parseInt(digits.slice(0, 4), 10), tail = digits.slice(4);
    let exp = parseInt(exponent, 10);
    const up = tail[0] > "5" || (tail[0] === "5" && (/[1-9]/.test(tail.slice(1)) || head % 2 === 1));
    let n = head + (up ? 1 : 0);
    if (n === 10000) { n = 1000; exp += 1; }
    return [String(n), exp];
  }
  function general(value) {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    if (value === 0) return Object.is(value, -0) ? "-0" : "0";
    const sign = value < 0 ? "-" : "";
    const [digits, exp] = fourDigits(Math.abs(value));
    const strip = (s) => s.replace(/0+$/, "");
    if (exp < -4 || exp >= 4) {
      const fraction = strip(digits.slice(1)), size = Math.abs(exp);
      return `${sign}${digits[0]}${fraction ? "." + fraction : ""}e${exp < 0 ? "-" : "+"}${size < 10 ? "0" : ""}${size}`;
    }
    if (exp >= 0) {
      const fraction = strip(digits.slice(exp + 1));
      return sign + digits.slice(0, exp + 1) + (fraction ? "." + fraction : "");
    }
    return `${sign}0.${strip("0".repeat(-exp - 1) + digits)}`;
  }
  function number(value) {
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value === 0 ? 0 : value);
    return general(value);
  }
  function factor(value) {
    const text = number(value);
    return text.startsWith("-") ? `(${text})` : text;
  }
  function totalOf(values) {
    const texts = values.map(number);
    let out = texts[0];
    for (const text of texts.slice(1)) out += text.startsWith("-") ? ` - ${text.slice(1)}` : ` + ${text}`;
    return out;
  }
  const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");  // Python's f"{n:,}"
  function sum(values) {  // left to right from 0, as Python's sum()
    let total = 0;
    for (const v of values) total += v;
    return total;
  }

  // --- activations, as ops/reference/activations.py computes them on one value ----------------------------
  const ACTIVATIONS = {
    linear: (x) => x,
    relu: (x) => Math.max(x, 0),
    sigmoid: (x) => 0.5 * (1 + Math.tanh(0.5 * x)),
    tanh: (x) => Math.tanh(x),
    softmax: (x) => Math.exp(x - x) / Math.exp(x - x),  // of one value alone, as explain_conv applies it
    leaky_relu: (x, a) => Math.max(x, 0) + a.negative_slope * Math.min(x, 0),
    elu: (x, a) => Math.max(x, 0) + a.alpha * Math.expm1(Math.min(x, 0)),
  };
  function activationStep(activation, total, lines) {
    const apply = ACTIVATIONS[activation.name];
    if (!apply) throw new Error(`no activation named ${activation.name}`);
    const value = apply(total, activation);
    if (activation.name !== "linear") lines.push(`  ${activation.name}(${number(total)}) = ${number(value)}`);
    return value;
  }
  function softmaxStep(values, index, what, lines) {
    let largest = values[0];
    for (const v of values) if (v > largest) largest = v;
    const total = sum(values.map((v) => Math.exp(v - largest)));
    const value = Math.exp(values[index] - largest) / total;
    lines.push(`  softmax over the ${values.length} ${what}: the largest is ${number(largest)}, ` +
               `the sum of exp(value - largest) over them is ${number(total)}`);
    lines.push(`  exp(${totalOf([values[index], -largest])}) / ${number(total)} = ${number(value)}`);
    return value;
  }

  // --- layers ---------------------------------------------------------------------------------------------
  // Images are (H, W, C); a vector of N units is held as H = W = 1, C = N, so one index rule serves both.
  function prepare(raw, index) {
    const shape = raw.values.shape;
    const layer = Object.assign({}, raw, { index, values: decode(raw.values) });
    layer.vector = shape.length !== 3;
    [layer.H, layer.W, layer.C] = layer.vector ? [1, 1, layer.values.length] : shape;
    for (const key of ["kernel", "bias", "top_index", "top_weight", "rest", "total", "mean", "variance", "gamma", "beta",
                       "sums"]) {
      if (raw[key]) { layer[key] = decode(raw[key]); layer[key + "_shape"] = raw[key].shape; }
    }
    layer.shown = 0;  // the channel in the main view
    layer.cursor = { row: 0, col: 0, channel: 0 };
    if (layer.vector) {
      layer.cols = layer.C <= 16 ? layer.C : Math.ceil(Math.sqrt(layer.C));
      layer.rows = Math.ceil(layer.C / layer.cols);
    } else {
      [layer.rows, layer.cols] = [layer.H, layer.W];
    }
    return layer;
  }
  const layers = DATA.layers.map(prepare);
  const at = (layer, row, col, channel) => layer.values[(row * layer.W + col) * layer.C + channel];
  function heading(layer, cell) {
    if (layer.vector) return `${layer.name} (${layer.kind}), unit ${cell.channel}:`;
    return `${layer.name} (${layer.kind}), output row ${cell.row}, column ${cell.col}, channel ${cell.channel}:`;
  }

  // The input cells of a window layer's output cell: tap (i, j) reads input (y, x), or padding.
  function windowTaps(layer, row, col) {
    const [kh, kw] = layer.kernel_size, [sh, sw] = layer.strides, [dh, dw] = layer.dilation;
    const [top, left] = layer.pads, below = layers[layer.index - 1], taps = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const y = row * sh + i * dh - top, x = col * sw + j * dw - left;
        taps.push({ i, j, y, x, inside: y >= 0 && y < below.H && x >= 0 && x < below.W });
      }
    }
    return taps;
  }
  function windowTable(layer, taps, title, valueOf, winner) {
    const [kh, kw] = layer.kernel_size;
    const rows = [];
    for (let i = 0; i < kh; i++) rows.push(taps.slice(i * kw, (i + 1) * kw).map(valueOf));
    return { title, rows, highlight: winner ? [winner.i, winner.j] : null };
  }
  // The same cell of the layer below (layers that work value by value).
  const sameCell = (below, cell) => (below.vector ? { cells: [[0, cell.channel]] }
                                                  : { channel: cell.channel, cells: [[cell.row, cell.col]] });

  // One renderer per layer kind: explain(layer, below, cell) -> {lines, value, marks (on the layer below),
  // tables(shown channel of the layer below)}. Each follows its explain function in Python line by line.
  const RENDERERS = {
    input(layer, below, cell) {
      const where = layer.vector ? `unit ${cell.channel}` :
        `row ${cell.row}, column ${cell.col}, channel ${cell.channel}`;
      const value = at(layer, cell.row, cell.col, cell.channel);
      return { lines: [`input, ${where}:`, "  the value the model receives", `  result = ${number(value)}`], value };
    },

    conv(layer, below, cell) {  // arithmetic.explain_conv
      const [kh, kw, channels, filters] = layer.kernel_shape, f = cell.channel;
      const taps = windowTaps(layer, cell.row, cell.col);
      const weight = (i, j, c) => layer.kernel[((i * kw + j) * channels + c) * filters + f];
      const lines = [`${layer.name} (${layer.kind}), output row ${cell.row}, column ${cell.col}, filter ${f}:`];
      const channelTotals = [];
      for (let c = 0; c < channels; c++) {
        if (channels > 1) lines.push(`  channel ${c}:`);
        const columnSums = [];
        for (let j = 0; j < kw; j++) {
          const terms = [];
          let total = 0;
          for (let i = 0; i < kh; i++) {
            const tap = taps[i * kw + j];
            const pixel = tap.inside ? at(below, tap.y, tap.x, c) : 0;  // a padded pixel is 0
            terms.push(`${factor(pixel)}x${factor(weight(i, j, c))}`);
            total += pixel * weight(i, j, c);
          }
          columnSums.push(total);
          lines.push(`    kernel column ${j}: ${terms.join(" + ")} = ${number(total)}`);
        }
        channelTotals.push(sum(columnSums));
        lines.push(`    sum: ${totalOf(columnSums)} = ${number(channelTotals[channelTotals.length - 1])}`);
      }
      let total = sum(channelTotals);
      if (channels > 1) lines.push(`  over the ${channels} channels: ${totalOf(channelTotals)} = ${number(total)}`);
      if (layer.bias) {
        const bias = layer.bias[f];
        lines.push(`  plus bias: ${totalOf([total, bias])} = ${number(total + bias)}`);
        total += bias;
      }
      const value = activationStep(layer.activation, total, lines);
      lines.push(`  result = ${number(value)}`);
      const inside = taps.filter((t) => t.inside);
      return {
        lines, value, marks: { cells: inside.map((t) => [t.y, t.x]), outline: true },
        tables: (c) => [
          windowTable(layer, taps, `input window, channel ${c} of ${channels}`,
                      (t) => (t.inside ? number(at(below, t.y, t.x, c)) : "pad")),
          windowTable(layer, taps, `kernel, channel ${c} of filter ${f}`, (t) => number(weight(t.i, t.j, c))),
        ],
      };
    },

    pool(layer, below, cell) {  // arithmetic.explain_pool
      const [kh, kw] = layer.kernel_size, ch = cell.channel;
      const taps = windowTaps(layer, cell.row, cell.col);
      const valueOf = (t) => at(below, t.y, t.x, ch);
      const lines = [`${layer.name} (${layer.kind}), output row ${cell.row}, column ${cell.col}, channel ${ch}:`,
                     "  window:"];
      for (let i = 0; i < kh; i++) {
        lines.push("    " + taps.slice(i * kw, (i + 1) * kw).map((t) => (t.inside ? number(valueOf(t)) : "pad"))
          .join("  "));
      }
      const real = taps.filter((t) => t.inside);
      let value, winner = null;
      if (layer.mode === "max") {
        winner = real[0];
        for (const t of real.slice(1)) if (valueOf(t) > valueOf(winner)) winner = t;  // the first maximum wins
        value = valueOf(winner);
        lines.push(`  max = ${number(value)}, at input row ${winner.y}, column ${winner.x}`);
      } else {
        const values = real.map(valueOf);
        value = sum(values) / values.length;
        lines.push(`  mean = (${totalOf(values)}) / ${values.length} = ${number(value)}`);
      }
      lines.push(`  result = ${number(value)}`);
      return {
        lines, value, marks: { channel: ch, cells: real.map((t) => [t.y, t.x]), outline: true,
                               winner: winner && [winner.y, winner.x] },
        tables: () => [windowTable(layer, taps, `window, channel ${ch}`,
                                   (t) => (t.inside ? number(valueOf(t)) : "pad"), winner)],
      };
    },

    dense(layer, below, cell) {  // cells.explain_dense
      const unit = cell.channel, units = layer.C, inputs = below.values.length;
      const count = layer.top_index.length / units;
      const lines = [heading(layer, cell), `  products input x weight, largest first (${count} of ${inputs}):`];
      const terms = [], picked = [];
      for (let t = 0; t < count; t++) {
        const i = layer.top_index[unit * count + t], weight = layer.top_weight[unit * count + t];
        const x = below.values[i];
        terms.push(x * weight);
        picked.push(i);
        lines.push(`    input ${i}: ${factor(x)}x${factor(weight)} = ${number(x * weight)}`);
      }
      if (inputs > count) {
        terms.push(layer.rest[unit]);
        lines.push(`  the other ${inputs - count} products add up to ${number(layer.rest[unit])}`);
      }
      const total = layer.total[unit], bias = (k) => (layer.bias ? layer.bias[k] : 0);
      lines.push(`  sum: ${totalOf(terms)} = ${number(total)}`);
      if (layer.bias) lines.push(`  plus bias: ${totalOf([total, bias(unit)])} = ${number(total + bias(unit))}`);
      let value;
      if (layer.activation.name === "softmax") {
        value = softmaxStep(Array.from(layer.total, (t, k) => t + bias(k)), unit, "units", lines);
      } else {
        value = activationStep(layer.activation, total + bias(unit), lines);
      }
      lines.push(`  result = ${number(value)}`);
      return { lines, value, marks: { cells: picked.map((i) => [0, i]) } };
    },

    flatten(layer, below, cell) {  // cells.explain_flatten
      const unit = cell.channel, lines = [heading(layer, cell)];
      let marks = { cells: [[0, unit]] };
      if (!below.vector) {
        const r = Math.floor(unit / (below.W * below.C)), c = Math.floor(unit / below.C) % below.W;
        const ch = unit % below.C;
        lines.push(`  input row ${r}, column ${c}, channel ${ch}: (${r} x ${below.W} + ${c}) x ${below.C} + ${ch} = ${unit}`);
        marks = { channel: ch, cells: [[r, c]] };
      }
      const value = below.values[unit];
      lines.push(`  result = ${number(value)}`);
      return { lines, value, marks };
    },

    identity(layer, below, cell) {  // cells.explain_identity
      const value = at(below, cell.row, cell.col, cell.channel);
      return { lines: [heading(layer, cell), `  at inference ${layer.kind} passes its input through`,
                       `  result = ${number(value)}`], value, marks: sameCell(below, cell) };
    },

    rescaling(layer, below, cell) {  // cells.explain_rescaling
      const x = at(below, cell.row, cell.col, cell.channel), value = x * layer.scale + layer.offset;
      return { lines: [heading(layer, cell), `  ${factor(x)}x${factor(layer.scale)} + ${factor(layer.offset)} = ${number(value)}`,
                       `  result = ${number(value)}`], value, marks: sameCell(below, cell) };
    },

    activation(layer, below, cell) {  // cells.explain_activation
      const lines = [heading(layer, cell)];
      let value;
      if (layer.activation.name === "softmax") {
        const values = [];
        for (let c = 0; c < below.C; c++) values.push(at(below, cell.row, cell.col, c));
        value = softmaxStep(values, cell.channel, below.vector ? "units" : "channels", lines);
      } else {
        value = activationStep(layer.activation, at(below, cell.row, cell.col, cell.channel), lines);
      }
      lines.push(`  result = ${number(value)}`);
      return { lines, value, marks: sameCell(below, cell) };
    },

    batch_normalization(layer, below, cell) {  // cells.explain_batch_norm
      const k = cell.channel, x = at(below, cell.row, cell.col, k);
      const mean = layer.mean[k], variance = layer.variance[k], epsilon = layer.epsilon;
      const scale = Boolean(layer.gamma), center = Boolean(layer.beta);
      const lines = [below.vector ? `${layer.name} (${layer.kind}), feature ${k}:` : heading(layer, cell),
        `  at inference, with the moving statistics of ${below.vector ? "feature" : "channel"} ${k}: ` +
        `mean = ${number(mean)}, variance = ${number(variance)}`,
        "  y = (x - mean) / sqrt(variance + epsilon)" + (scale ? " x gamma" : "") + (center ? " + beta" : "")];
      const centred = x - mean, spread = Math.sqrt(variance + epsilon);
      lines.push(`  x - mean = ${totalOf([x, -mean])} = ${number(centred)}`);
      lines.push(`  sqrt(variance + epsilon) = sqrt(${totalOf([variance, epsilon])}) = ${number(spread)}`);
      let value = centred / spread;
      lines.push(`  (x - mean) / sqrt(variance + epsilon) = ${number(centred)} / ${number(spread)} = ${number(value)}`);
      if (scale || center) {
        const gamma = scale ? layer.gamma[k] : 1, beta = center ? layer.beta[k] : 0;
        const text = scale ? `${factor(value)}x${factor(gamma)}` : number(value);
        value = value * gamma + beta;
        lines.push(`  ${scale ? "times gamma" : ""}${scale && center ? ", " : ""}${center ? "plus beta" : ""}: ` +
                   `${text}${center ? " + " + factor(beta) : ""} = ${number(value)}`);
      }
      lines.push(`  result = ${number(value)}`);
      return { lines, value, marks: sameCell(below, cell) };
    },

    global_pool(layer, below, cell) {  // cells.explain_global_pool
      const ch = cell.channel, count = below.H * below.W, cells = [], positions = [];
      for (let r = 0; r < below.H; r++) {
        for (let c = 0; c < below.W; c++) { cells.push(at(below, r, c, ch)); positions.push([r, c]); }
      }
      const lines = [`${layer.name} (${layer.kind}), channel ${ch}: one window over the whole ${below.H}x${below.W} image`];
      let value, winner = null;
      if (layer.mode === "average") {
        const total = layer.sums[ch];  // math.fsum's exact sum, sent by the report
        const shown = count <= SHOWN_CELLS ? totalOf(cells) : `the ${thousands(count)} cells`;
        lines.push(`  sum = ${shown} = ${number(total)}`);
        value = total / count;
        lines.push(`  mean = ${number(total)} / ${thousands(count)} = ${number(value)}`);
      } else {
        if (count <= SHOWN_CELLS) {
          lines.push("  window:");
          for (let r = 0; r < below.H; r++) lines.push("    " + cells.slice(r * below.W, (r + 1) * below.W).map(number).join("  "));
        }
        let best = 0;
        for (let p = 1; p < count; p++) if (cells[p] > cells[best]) best = p;  // the first maximum
        value = cells[best];
        winner = positions[best];
        lines.push(`  max = ${number(value)}, at input row ${winner[0]}, column ${winner[1]}`);
      }
      lines.push(`  result = ${number(value)}`);
      return { lines, value, marks: { channel: ch, cells: positions, winner } };
    },

    none(layer, below, cell) {
      const value = at(layer, cell.row, cell.col, cell.channel);
      return { lines: [heading(layer, cell), `  no step-by-step arithmetic for ${layer.kind} yet; the forward pass gives`,
                       `  result = ${number(value)}`], value };
    },
  };

  // --- drawing --------------------------------------------------------------------------------------------
  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const largestSize = (values) => { let m = 0; for (const v of values) m = Math.max(m, Math.abs(v)); return m || 1; };
  function channelValues(layer, channel) {
    if (layer.vector) return layer.values;
    const out = new Float64Array(layer.H * layer.W);
    for (let p = 0; p < out.length; p++) out[p] = layer.values[p * layer.C + channel];
    return out;
  }
  // Red for positive, blue for negative, white for 0; the input in grey, bright for high values.
  function paint(layer, values, rgba) {
    let low = Infinity, high = -Infinity;
    for (const v of values) { low = Math.min(low, v); high = Math.max(high, v); }
    const size = largestSize(values);
    values.forEach((v, p) => {
      let r, g, b;
      if (layer.index === 0) {
        r = g = b = Math.round(255 * (high > low ? (v - low) / (high - low) : 0.5));
      } else {
        const t = Math.min(1, Math.abs(v) / size);
        [r, g, b] = v >= 0 ? [255 - t * 77, 255 - t * 231, 255 - t * 212] : [255 - t * 222, 255 - t * 153, 255 - t * 83];
      }
      rgba.set([r, g, b, 255], p * 4);
    });
  }
  function drawChannel(canvas, layer, channel) {
    canvas.width = layer.cols;
    canvas.height = layer.rows;
    const context = canvas.getContext("2d");
    const image = context.createImageData(layer.cols, layer.rows);
    image.data.fill(238);
    paint(layer, channelValues(layer, channel), image.data);
    context.putImageData(image, 0, 0);
  }
  function cellSize(layer) {
    const cells = Math.max(layer.rows, layer.cols);
    const size = Math.min(MAX_CELL, (cells > 64 ? LARGE_VIEW_SIZE : VIEW_SIZE) / cells);
    // Whole pixels per cell where there are two or more; below that the browser scales (downsamples) the map,
    // and the pointer still finds the exact cell from its position.
    return size >= 2 ? Math.floor(size) : size;
  }
  // (row, col) in the drawn grid of a cell, and back.
  const gridOf = (layer, cell) => (layer.vector ? [Math.floor(cell.channel / layer.cols), cell.channel % layer.cols]
                                                 : [cell.row, cell.col]);
  function cellAt(layer, gridRow, gridCol) {
    if (!layer.vector) return { row: gridRow, col: gridCol, channel: layer.shown };
    const unit = gridRow * layer.cols + gridCol;
    return unit < layer.C ? { row: 0, col: 0, channel: unit } : null;
  }
  function place(proxy, layer, cell) {
    const size = cellSize(layer), [r, c] = gridOf(layer, cell);
    Object.assign(proxy.style, { left: `${c * size}px`, top: `${r * size}px`, width: `${Math.max(size, 3)}px`,
                                 height: `${Math.max(size, 3)}px` });
    proxy.dataset.layer = layer.index;
    proxy.dataset.row = cell.row;
    proxy.dataset.col = cell.col;
    proxy.dataset.channel = cell.channel;
    proxy.hidden = false;
  }
  function drawMarks(layer) {
    const { overlay } = layer.dom, size = cellSize(layer), scale = window.devicePixelRatio || 1;
    overlay.width = Math.round(layer.cols * size * scale);
    overlay.height = Math.round(layer.rows * size * scale);
    const context = overlay.getContext("2d");
    context.scale(scale, scale);
    const marks = layer.marks;
    if (!marks) return;
    // Marks are (row, col) of an image, (0, unit) of a vector: the unit's place in the wrapped grid drawn.
    const box = ([r, c]) => (layer.vector ? [Math.floor(c / layer.cols), c % layer.cols] : [r, c]);
    context.fillStyle = "rgba(255, 200, 0, 0.35)";
    for (const cell of marks.cells) {
      const [r, c] = box(cell);
      context.fillRect(c * size, r * size, size, size);
    }
    if (marks.outline && marks.cells.length) {  // a window: its outline, padding left out
      const rows = marks.cells.map(box).map(([r]) => r), cols = marks.cells.map(box).map(([, c]) => c);
      const top = Math.min(...rows), left = Math.min(...cols);
      context.strokeStyle = "#1565c0";
      context.lineWidth = 2;
      context.strokeRect(left * size + 1, top * size + 1, (Math.max(...cols) - left + 1) * size - 2,
                         (Math.max(...rows) - top + 1) * size - 2);
    }
    if (marks.winner) {
      const [r, c] = box(marks.winner);
      context.strokeStyle = "#111";
      context.lineWidth = Math.max(1.5, size / 5);
      context.strokeRect(c * size + 1, r * size + 1, size - 2, size - 2);
    }
  }

  // --- the page -------------------------------------------------------------------------------------------
  const panel = element("aside", "panel");
  const title = element("h3", "panel-title", "");
  title.id = "explore-title";
  const tables = element("div", "panel-tables");
  const arithmetic = element("pre", "arithmetic");
  arithmetic.id = "arithmetic";
  arithmetic.setAttribute("aria-live", "polite");
  const check = element("p", "note");
  check.id = "explore-check";
  panel.append(title, tables, arithmetic, check);
  const stack = element("div", "stack");
  root.replaceChildren(stack, panel);
  root.className = "explorer";
  let selection = null;

  const shapeText = (layer) => (layer.vector ? `${layer.C} values` : `${layer.H}×${layer.W}×${layer.C}`);
  function readout(layer, cell) {
    const where = layer.vector ? `unit ${cell.channel}` + className(layer, cell.channel)
                               : `row ${cell.row}, column ${cell.col}, channel ${cell.channel}`;
    layer.dom.readout.textContent = `${where}: ${at(layer, cell.row, cell.col, cell.channel)}`;
  }
  const isOutput = (layer) => layer.index === layers.length - 1 && DATA.class_names;
  const className = (layer, unit) => (isOutput(layer) ? ` (class ${DATA.class_names[unit]})` : "");

  function buildLayer(layer) {
    const box = element("div", "layer");
    box.id = `explore-layer-${layer.index}`;
    const head = element("div", "layer-head");
    head.append(element("span", "layer-name", layer.index === 0 ? "input" : `${layer.index}. ${layer.name}`),
                element("span", "layer-kind", ` ${layer.kind} · ${shapeText(layer)}`));
    if (isOutput(layer)) {
      let best = 0;
      for (let u = 1; u < layer.C; u++) if (layer.values[u] > layer.values[best]) best = u;
      head.append(element("span", "prediction", ` prediction: ${DATA.class_names[best]} (${number(layer.values[best])})`));
    }
    const body = element("div", "layer-body");
    const view = element("div", "view");
    const map = element("canvas", "map");
    const size = cellSize(layer);
    Object.assign(map.style, { width: `${layer.cols * size}px`, height: `${layer.rows * size}px` });
    map.tabIndex = 0;
    map.dataset.layer = layer.index;
    map.dataset.channel = layer.shown;
    map.setAttribute("aria-label", `${layer.name}: a map of cells; arrow keys move, Enter explains the cell`);
    const overlay = element("canvas", "overlay");
    Object.assign(overlay.style, { width: map.style.width, height: map.style.height });
    const hover = element("div", "cell hover");
    const cursor = element("div", "cell cursor");
    hover.hidden = cursor.hidden = true;
    view.append(map, overlay, hover, cursor);
    body.append(view);
    layer.dom = { box, map, overlay, hover, cursor, thumbs: [], readout: element("div", "readout", "") };
    if (!layer.vector && layer.C > 1) {
      const strip = element("div", "thumbs");
      const side = layer.C > 16 ? 36 : 56;
      for (let c = 0; c < layer.C; c++) {
        const thumb = element("canvas", "thumb");
        drawChannel(thumb, layer, c);
        const scale = side / Math.max(layer.H, layer.W);
        Object.assign(thumb.style, { width: `${layer.W * scale}px`, height: `${layer.H * scale}px` });
        thumb.tabIndex = 0;
        thumb.title = `channel ${c}`;
        thumb.dataset.layer = layer.index;
        thumb.dataset.channel = c;
        if (c === layer.shown) thumb.classList.add("shown");
        thumb.setAttribute("role", "button");
        thumb.setAttribute("aria-label", `${layer.name}, channel ${c}`);
        thumb.addEventListener("click", () => showChannel(layer, c));
        thumb.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showChannel(layer, c); } });
        layer.dom.thumbs.push(thumb);
        strip.append(thumb);
      }
      body.append(strip);
    }
    box.append(head, body, layer.dom.readout);
    drawChannel(map, layer, layer.shown);
    drawMarks(layer);

    const pointed = (event) => {
      const rect = map.getBoundingClientRect();
      const gx = Math.floor(((event.clientX - rect.left) / rect.width) * layer.cols);
      const gy = Math.floor(((event.clientY - rect.top) / rect.height) * layer.rows);
      if (gx < 0 || gy < 0 || gx >= layer.cols || gy >= layer.rows) return null;
      return cellAt(layer, gy, gx);
    };
    view.addEventListener("mousemove", (event) => {
      const cell = pointed(event);
      if (cell) { place(hover, layer, cell); readout(layer, cell); } else hover.hidden = true;
    });
    view.addEventListener("mouseleave", () => { hover.hidden = true; });
    view.addEventListener("click", (event) => {
      const cell = pointed(event);
      if (cell) { map.focus({ preventScroll: true }); select(layer.index, cell.row, cell.col, cell.channel); }
    });
    map.addEventListener("keydown", (event) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select(layer.index, layer.cursor.row, layer.cursor.col, layer.cursor.channel);
      } else if (moves[event.key]) {
        event.preventDefault();
        const [r, c] = gridOf(layer, layer.cursor), [dr, dc] = moves[event.key];
        const next = cellAt(layer, Math.min(layer.rows - 1, Math.max(0, r + dr)),
                            Math.min(layer.cols - 1, Math.max(0, c + dc)));
        if (next) { layer.cursor = next; place(hover, layer, next); readout(layer, next); }
      }
    });
    return box;
  }

  function showChannel(layer, channel) {
    if (layer.vector || channel === layer.shown) return;
    layer.shown = channel;
    layer.cursor = { row: layer.cursor.row, col: layer.cursor.col, channel };
    layer.dom.map.dataset.channel = channel;
    drawChannel(layer.dom.map, layer, channel);
    layer.dom.thumbs.forEach((t, c) => t.classList.toggle("shown", c === channel));
    layer.dom.hover.hidden = true;
    const chosen = selection && selection.layer === layer.index && selection.channel === channel;
    layer.dom.cursor.hidden = !chosen;
    if (selection && selection.layer === layer.index + 1) showTables();
  }

  function showTables() {
    const below = layers[selection.layer - 1];
    tables.replaceChildren();
    for (const table of selection.result.tables ? selection.result.tables(below.shown) : []) {
      const figure = element("figure", "numbers");
      figure.append(element("figcaption", "", table.title));
      const grid = element("table");
      table.rows.forEach((row, i) => {
        const tr = element("tr");
        row.forEach((text, j) => {
          const td = element("td", "", text);
          if (table.highlight && table.highlight[0] === i && table.highlight[1] === j) td.className = "winner";
          tr.append(td);
        });
        grid.append(tr);
      });
      figure.append(grid);
      tables.append(figure);
    }
  }

  // Select one cell: explain it in the panel and mark what it reads on the layer below.
  function select(index, row, col, channel) {
    const layer = layers[index];
    const fits = (value, limit) => Number.isInteger(value) && value >= 0 && value < limit;
    if (!layer || !fits(row, layer.H) || !fits(col, layer.W) || !fits(channel, layer.C)) {
      throw new RangeError(`no cell (layer ${index}, row ${row}, column ${col}, channel ${channel}) in this model`);
    }
    const cell = { row, col, channel };
    if (!layer.vector) showChannel(layer, channel);
    layer.cursor = cell;
    const below = layers[index - 1];
    const renderer = RENDERERS[index === 0 ? "input" : layer.renderer] || RENDERERS.none;
    const result = renderer(layer, below, cell);
    for (const other of layers) {
      if (other.marks) { other.marks = null; drawMarks(other); }
      other.dom.cursor.hidden = true;
    }
    if (below && result.marks) {
      if (result.marks.channel !== undefined && !below.vector) showChannel(below, result.marks.channel);
      below.marks = result.marks;
      drawMarks(below);
    }
    place(layer.dom.cursor, layer, cell);
    readout(layer, cell);
    selection = { layer: index, row, col, channel, result };
    title.textContent = result.lines[0].replace(/:$/, "") + className(layer, channel);
    arithmetic.textContent = result.lines.join("\n");
    arithmetic.dataset.value = String(result.value);  // the last line's value at full precision
    const forward = at(layer, row, col, channel);
    check.textContent = `The model's forward pass gives ${forward} here ` +
      `(difference ${Math.abs(forward - result.value).toExponential(1)}).`;
    showTables();
    return arithmetic.textContent;
  }

  layers.forEach((layer) => stack.append(buildLayer(layer)));

  // First, the strongest cell of the first conv layer's first map (or the output's strongest unit).
  const first = layers.find((l) => l.renderer === "conv") || layers[layers.length - 1];
  const values = channelValues(first, 0);
  let best = 0;
  for (let p = 1; p < values.length; p++) if (values[p] > values[best]) best = p;
  if (first.vector) select(first.index, 0, 0, best);
  else select(first.index, Math.floor(best / first.W), best % first.W, 0);

  window.clearcnnExplorer = {
    layers: () => layers.map((l) => ({ name: l.name, kind: l.kind, renderer: l.renderer || "input",
                                       shape: l.vector ? [l.C] : [l.H, l.W, l.C] })),
    select,
    show: (index, channel) => showChannel(layers[index], channel),
    // The centre of a cell in the main view of its layer, in CSS pixels from the map's top left corner.
    cellCenter(index, row, col, channel) {
      const layer = layers[index], size = cellSize(layer);
      const [r, c] = gridOf(layer, { row, col, channel });
      return { x: (c + 0.5) * size, y: (r + 0.5) * size };
    },
    value: (index, row, col, channel) => at(layers[index], row, col, channel),
    number,  // a number as explain writes it
  };
})();
