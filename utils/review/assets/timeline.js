"use strict";
// A timeline drawn as SVG from plain data: score tracks, horizontal threshold lines, shaded stretches and lanes of
// interval bars. Shared by the spot page (x in seconds, zoomable) and the run report (x in frames, or epochs).
const SVG_NS = "http://www.w3.org/2000/svg";
let timelineCount = 0;  // for unique clip-path ids when a page holds several timelines

function svgElement(name, attributes, parent) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

// "m:ss" (or "h:mm:ss"), with tenths when the tick step is below a second.
function clockLabel(seconds, step) {
  const tenths = step < 1;
  const total = tenths ? Math.round(seconds * 10) / 10 : Math.round(seconds);
  const whole = Math.floor(total), hours = Math.floor(whole / 3600), minutes = Math.floor(whole / 60) % 60;
  let rest = String(whole % 60).padStart(2, "0");
  if (tenths) rest += "." + Math.round((total - whole) * 10);
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

// Tick values and labels for [begin, end]: at most about 8, on round steps (clock steps for seconds).
function axisTicks(begin, end, spec) {
  const span = Math.max(end - begin, 1e-9);
  if (!spec.clock) {
    const count = spec.integerTicks ? Math.min(8, Math.max(1, Math.round(span))) : 8;
    return Array.from({length: count + 1}, (_, i) => {
      const v = begin + span * i / count;
      return [v, span >= 20 || spec.integerTicks ? String(Math.round(v)) : v.toFixed(1)];
    });
  }
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  const step = steps.find((s) => span / s <= 8) || steps[steps.length - 1];
  const ticks = [];
  for (let v = Math.ceil(begin / step - 1e-9) * step; v <= end + 1e-9; v += step) {
    ticks.push([v, spec.xMax < 60 ? (step < 1 ? v.toFixed(1) : String(Math.round(v))) : clockLabel(v, step)]);
  }
  return ticks;
}

// The index of the first of the sorted values that is at least v (values.length when none is).
function firstAtLeast(values, v) {
  let low = 0, high = values.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (values[middle] < v) low = middle + 1; else high = middle;
  }
  return low;
}

// The points of a track within [begin, end] as an SVG path; more samples than two per pixel are reduced to each
// pixel column's lowest and highest value, so an hour of samples draws as fast as a minute and looks the same.
function trackPath(track, begin, end, x, y, pixels) {
  const xs = track.xs, ys = track.ys;
  const first = Math.max(firstAtLeast(xs, begin) - 1, 0), last = Math.min(firstAtLeast(xs, end), xs.length - 1);
  const points = [];
  if (last - first + 1 <= 2 * pixels) {
    for (let i = first; i <= last; i++) points.push(`${x(xs[i]).toFixed(1)},${y(ys[i] || 0).toFixed(1)}`);
  } else {
    let column = null, low = 0, high = 0;
    const flush = () => { if (column !== null) points.push(`${column},${y(low).toFixed(1)}`, `${column},${y(high).toFixed(1)}`); };
    for (let i = first; i <= last; i++) {
      const px = Math.round(x(xs[i])), v = ys[i] || 0;
      if (px !== column) { flush(); column = px; low = high = v; }
      else { low = Math.min(low, v); high = Math.max(high, v); }
    }
    flush();
  }
  return points.length ? "M" + points.join("L") : "";
}

// spec: {xMin, xMax, integerTicks, clock, xLabel, yLabel, plotHeight, laneHeight, tracks: [{xs, ys, cls}],
//        levels: [{y, cls}], shaded: [{begin, end, cls, title}],
//        lanes: [{label, cls, bars: [{begin, end, cls, label, title, attrs}]}]}
// clock: x is seconds, labelled m:ss from a minute on. Returns {svg, bars: [[element, bar], ...], plot: {left, right,
// top, bottom}, setCursor(x), setView(begin, end): show [begin, end] of x, view(): [begin, end], xOf(v): the
// drawing's x of v, valueAt(clientX): v under a pointer}.
function drawTimeline(container, spec) {
  const width = Math.max(container.clientWidth || 0, 480), left = 96, right = 10;
  const laneHeight = spec.laneHeight || 18, laneGap = spec.laneHeight ? 2 : 4;
  const plotHeight = spec.plotHeight || 120, top = 6, lanesTop = top + plotHeight + 6;
  const lanesBottom = lanesTop + spec.lanes.length * (laneHeight + laneGap);
  const height = lanesBottom + 26, baseline = height - 14, pixels = width - left - right;
  let begin = spec.xMin, end = spec.xMax;
  const x = (v) => left + pixels * (v - begin) / Math.max(end - begin, 1e-9);
  const y = (v) => top + plotHeight * (1 - v);
  const svg = svgElement("svg", {viewBox: `0 0 ${width} ${height}`, width: width, height: height});
  container.replaceChildren(svg);
  const clip = `timeline-clip-${++timelineCount}`;
  svgElement("rect", {x: left, y: 0, width: pixels, height: baseline}, svgElement("clipPath", {id: clip}, svg));
  svgElement("rect", {x: left, y: top, width: pixels, height: lanesBottom - top, fill: "none", class: "plot-area"}, svg);
  const shades = (spec.shaded || []).map((stretch) => {
    const shade = svgElement("rect", {y: top, height: lanesBottom - top, class: stretch.cls, "clip-path": `url(#${clip})`}, svg);
    svgElement("title", {}, shade).textContent = stretch.title;
    return [shade, stretch];
  });
  const axis = svgElement("g", {class: "axis"}, svg);
  for (const v of [0, 0.5, 1]) {
    svgElement("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#ddd"}, axis);
    svgElement("text", {x: left - 4, y: y(v) + 3, "text-anchor": "end"}, axis).textContent = String(v);
  }
  svgElement("text", {x: 4, y: top + 10}, axis).textContent = spec.yLabel || "";
  svgElement("text", {x: width - right, y: baseline - 2, "text-anchor": "end"}, axis).textContent = spec.xLabel || "";
  const tickGroup = svgElement("g", {class: "axis"}, svg);
  for (const level of spec.levels || []) {
    svgElement("line", {x1: left, x2: width - right, y1: y(level.y), y2: y(level.y), class: level.cls,
      "stroke-dasharray": "5 3", "stroke-width": 1}, svg);
  }
  const plotted = svgElement("g", {"clip-path": `url(#${clip})`}, svg);
  const paths = spec.tracks.map((track) => [svgElement("path", {class: track.cls, "stroke-width": 1.2}, plotted), track]);
  const bars = [], labels = [];
  spec.lanes.forEach((lane, index) => {
    const laneTop = lanesTop + index * (laneHeight + laneGap);
    const group = svgElement("g", {class: lane.cls || ""}, svg);
    svgElement("text", {x: left - 4, y: laneTop + Math.min(12, laneHeight), "text-anchor": "end", class: "lane-label"}, group)
      .textContent = lane.label;
    const inside = svgElement("g", {"clip-path": `url(#${clip})`}, group);
    for (const bar of lane.bars) {
      const element = svgElement("rect", {y: laneTop, height: laneHeight, rx: 2, class: "bar " + bar.cls}, inside);
      for (const [key, value] of Object.entries(bar.attrs || {})) element.setAttribute(key, value);
      svgElement("title", {}, element).textContent = bar.title || bar.label || "";
      if (bar.label) {
        const text = svgElement("text", {y: laneTop + 12, class: "bar-label"}, inside);
        text.textContent = bar.label;
        labels.push([text, bar]);
      }
      bars.push([element, bar]);
    }
  });
  const cursor = svgElement("line", {y1: top, y2: baseline - 12, class: "cursor"}, svg);
  cursor.style.display = "none";
  let cursorAt = null;

  function layout() {
    for (const [shade, stretch] of shades) {
      shade.setAttribute("x", x(stretch.begin));
      shade.setAttribute("width", Math.max(x(stretch.end) - x(stretch.begin), 1));
    }
    tickGroup.replaceChildren();
    for (const [v, label] of axisTicks(begin, end, spec)) {
      const anchor = x(v) > width - right - 20 ? "end" : "middle";  // the last label stays inside the drawing
      svgElement("text", {x: x(v), y: baseline + 10, "text-anchor": anchor}, tickGroup).textContent = label;
    }
    for (const [path, track] of paths) path.setAttribute("d", trackPath(track, begin, end, x, y, pixels));
    for (const [element, bar] of bars) {
      element.setAttribute("x", x(bar.begin));
      element.setAttribute("width", Math.max(x(bar.end) - x(bar.begin), 2));
    }
    for (const [text, bar] of labels) {  // a label wider than its bar would cover its neighbours
      text.setAttribute("x", x(bar.begin) + 2);
      text.style.display = x(bar.end) - x(bar.begin) >= 5.5 * bar.label.length ? "" : "none";
    }
    placeCursor();
  }
  function placeCursor() {
    if (cursorAt === null) return;
    cursor.setAttribute("x1", x(cursorAt));
    cursor.setAttribute("x2", x(cursorAt));
    cursor.style.display = cursorAt >= begin && cursorAt <= end ? "" : "none";
  }
  layout();
  return {svg, bars, plot: {left, right: width - right, top, bottom: lanesBottom},
    setCursor(v) { cursorAt = v; placeCursor(); },
    setView(from, to) { begin = from; end = to; layout(); },
    view() { return [begin, end]; },
    xOf: x,
    valueAt(clientX) {
      const box = svg.getBoundingClientRect();
      return begin + (end - begin) * ((clientX - box.left) * width / box.width - left) / pixels;
    }};
}

function reviewData() {
  return JSON.parse(document.getElementById("review-data").textContent);
}

function fillCells(row, values) {
  for (const value of values) {
    const cell = row.insertCell();
    cell.textContent = value;
    if (typeof value === "string" && !/^[-0-9.]+$/.test(value)) cell.className = "text";
  }
}
