"use strict";
// A timeline drawn as SVG from plain data: score tracks, horizontal threshold lines, shaded stretches and lanes of
// interval bars. Shared by the spot page (x in seconds) and the run report (x in frames, or epochs).
const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, parent) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

// spec: {xMin, xMax, integerTicks, xLabel, yLabel, plotHeight, tracks: [{xs, ys, cls}], levels: [{y, cls}],
//        shaded: [{begin, end, cls, title}], lanes: [{label, cls, bars: [{begin, end, cls, label, title, attrs}]}]}
// Returns {svg, bars: [[element, bar], ...], setCursor(x)}.
function drawTimeline(container, spec) {
  const width = Math.max(container.clientWidth || 0, 480), left = 96, right = 10, laneHeight = 18;
  const plotHeight = spec.plotHeight || 120, top = 6, lanesTop = top + plotHeight + 6;
  const height = lanesTop + spec.lanes.length * (laneHeight + 4) + 26;
  const span = Math.max(spec.xMax - spec.xMin, 1e-9);
  const x = (v) => left + (width - left - right) * (v - spec.xMin) / span;
  const y = (v) => top + plotHeight * (1 - v);
  const svg = svgElement("svg", {viewBox: `0 0 ${width} ${height}`, width: width, height: height});
  container.replaceChildren(svg);
  for (const stretch of spec.shaded || []) {
    const shade = svgElement("rect", {x: x(stretch.begin), y: top, height: lanesTop - top + spec.lanes.length * (laneHeight + 4),
      width: Math.max(x(stretch.end) - x(stretch.begin), 1), class: stretch.cls}, svg);
    svgElement("title", {}, shade).textContent = stretch.title;
  }
  const axis = svgElement("g", {class: "axis"}, svg);
  for (const v of [0, 0.5, 1]) {
    svgElement("line", {x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#ddd"}, axis);
    svgElement("text", {x: left - 4, y: y(v) + 3, "text-anchor": "end"}, axis).textContent = String(v);
  }
  svgElement("text", {x: 4, y: top + 10}, axis).textContent = spec.yLabel || "";
  const ticks = spec.integerTicks ? Math.min(8, Math.max(1, Math.round(span))) : 8, baseline = height - 14;
  for (let i = 0; i <= ticks; i++) {
    const v = spec.xMin + span * i / ticks;
    svgElement("text", {x: x(v), y: baseline + 10, "text-anchor": "middle"}, axis).textContent =
      span >= 20 || spec.integerTicks ? String(Math.round(v)) : v.toFixed(1);
  }
  svgElement("text", {x: width - right, y: baseline - 2, "text-anchor": "end"}, axis).textContent = spec.xLabel || "";
  for (const level of spec.levels || []) {
    svgElement("line", {x1: left, x2: width - right, y1: y(level.y), y2: y(level.y), class: level.cls,
      "stroke-dasharray": "5 3", "stroke-width": 1}, svg);
  }
  for (const track of spec.tracks) {
    const points = [];
    for (let i = 0; i < track.xs.length; i++) points.push(`${x(track.xs[i]).toFixed(1)},${y(track.ys[i] || 0).toFixed(1)}`);
    if (points.length) svgElement("path", {d: "M" + points.join("L"), class: track.cls, "stroke-width": 1.2}, svg);
  }
  const bars = [];
  spec.lanes.forEach((lane, index) => {
    const laneTop = lanesTop + index * (laneHeight + 4);
    const group = svgElement("g", {class: lane.cls || ""}, svg);
    svgElement("text", {x: left - 4, y: laneTop + 12, "text-anchor": "end", class: "lane-label"}, group).textContent = lane.label;
    for (const bar of lane.bars) {
      const element = svgElement("rect", {x: x(bar.begin), y: laneTop, height: laneHeight, rx: 2,
        width: Math.max(x(bar.end) - x(bar.begin), 2), class: "bar " + bar.cls}, group);
      for (const [key, value] of Object.entries(bar.attrs || {})) element.setAttribute(key, value);
      svgElement("title", {}, element).textContent = bar.title || bar.label || "";
      if (bar.label) svgElement("text", {x: x(bar.begin) + 2, y: laneTop + 12, class: "bar-label"}, group).textContent = bar.label;
      bars.push([element, bar]);
    }
  });
  const cursor = svgElement("line", {x1: left, x2: left, y1: top, y2: baseline - 12, class: "cursor"}, svg);
  cursor.style.display = "none";
  return {svg, bars, setCursor(v) {
    cursor.style.display = "";
    cursor.setAttribute("x1", x(v));
    cursor.setAttribute("x2", x(v));
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
