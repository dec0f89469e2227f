// Markdown tables and a hand-written SVG grouped bar chart (log scale) — no dependencies.
const f = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? "–" : x.toFixed(d));

export function table(headers, rows) {
  return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * groups: [{label, values: [number…]}], series: [{name, color}] — one bar per series per group.
 * Log-scale y axis (µs). Returns SVG text.
 */
export function barChartSvg({ title, unit, groups, series, x = 0, y = 0, width = 900, height = 360 }) {
  const left = 70, right = 20, top = 40, bottom = 70;
  const w = width - left - right, h = height - top - bottom;
  const all = groups.flatMap((g) => g.values).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const yOf = (v) => top + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  const out = [`<g transform="translate(${x},${y})">`, `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`];
  for (let p = lo; p <= hi * 1.0001; p *= 10) {
    const yy = yOf(p);
    out.push(`<line x1="${left}" x2="${left + w}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${yy + 4}" text-anchor="end" font-size="11">${p >= 1 ? p : p.toPrecision(1)} ${unit}</text>`);
  }
  const gw = w / groups.length;
  const bw = Math.min(40, (gw * 0.8) / series.length);
  groups.forEach((g, gi) => {
    const x0 = left + gi * gw + (gw - bw * series.length) / 2;
    g.values.forEach((v, si) => {
      if (!(v > 0)) return;
      const yy = yOf(v);
      out.push(`<rect x="${x0 + si * bw}" y="${yy}" width="${bw - 2}" height="${top + h - yy}" fill="${series[si].color}"><title>${esc(series[si].name)}: ${f(v, 2)} ${unit}</title></rect>`);
      out.push(`<text x="${x0 + si * bw + bw / 2 - 1}" y="${yy - 3}" text-anchor="middle" font-size="9">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`);
    });
    out.push(`<text x="${left + gi * gw + gw / 2}" y="${top + h + 18}" text-anchor="middle" font-size="12">${esc(g.label)}</text>`);
  });
  series.forEach((s, si) => {
    const lx = left + si * 190;
    out.push(`<rect x="${lx}" y="${height - 28}" width="12" height="12" fill="${s.color}"/>`, `<text x="${lx + 16}" y="${height - 18}" font-size="12">${esc(s.name)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + h}" stroke="#333"/>`, `<line x1="${left}" x2="${left + w}" y1="${top + h}" y2="${top + h}" stroke="#333"/>`, "</g>");
  return out.join("\n");
}

export function svgDocument(parts, width, height) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

export { f as num };
