"use strict";
// The spot page: a video, an overview strip of the whole recording, a zoomable timeline of its scores and intervals,
// and the table of intervals.
(function () {
  const data = reviewData();
  const video = document.querySelector("video");
  const frame = 1 / data.fps;
  const spots = data.spots;
  const duration = Math.max(data.duration, frame);
  // A longer recording opens on its first two minutes (the overview shows the rest): at an hour's scale every
  // interval would be a sliver.
  const WHOLE_UP_TO = 180, FIRST_VIEW = 120, MIN_VIEW = Math.min(duration, Math.max(20 * frame, 0.5));
  let virtualTime = 0;  // the cursor's time when there is no video to play
  let current = -1;     // the interval last gone to

  const lanes = [];
  if (data.truth) {
    lanes.push({label: "truth", cls: "truth-lane", bars: data.truth.map((truth) => ({
      begin: truth.onset_s, end: truth.offset_s + frame, cls: `truth type-${truth.type} ${truth.matched ? "matched" : "unmatched"}`,
      label: `${truth.type}${truth.matched ? " \u2713" : " \u2717"}`,
      title: `ground truth ${truth.type}: frames ${truth.onset_frame}-${truth.offset_frame}, ${truth.matched ? "matched" : "missed"}`,
      attrs: {"data-truth": truth.row}}))});
  }
  for (const type of ["macro", "micro"]) {
    lanes.push({label: `spotted ${type}`, cls: `spot-lane lane-${type}`, bars: spots.filter((s) => s.type === type).map((spot) => ({
      begin: spot.onset_s, end: spot.offset_s + frame,
      cls: `type-${type} ${spot.matched === false ? "unmatched" : "matched"}`,
      label: `${type} ${spot.score.toFixed(2)}${spot.matched === null ? "" : spot.matched ? " \u2713" : " \u2717"}`,
      title: `${type} ${spot.score.toFixed(3)}: frames ${spot.onset_frame}-${spot.offset_frame} (${spot.onset_s.toFixed(2)} s)`,
      attrs: {"data-spot": spot.row}}))});
  }
  const tracks = [];
  for (const type of ["macro", "micro"]) {
    tracks.push({xs: data.times, ys: data.tracks[type].apex, cls: `type-${type}`});
    for (const kind of ["start", "end"]) {
      tracks.push({xs: data.times, ys: data.tracks[type][kind], cls: `type-${type} start-end ${kind}`});
    }
  }
  const shaded = data.lost.map(([begin, end]) => ({begin, end, cls: "lost", title: "face lost"}))
    .concat(data.unreadable.map(([begin, end]) => ({begin, end, cls: "unreadable", title: "frame unreadable"})));
  const holder = document.getElementById("timeline");
  const timeline = drawTimeline(holder, {
    xMin: 0, xMax: duration, clock: true, xLabel: duration < 60 ? "time (s)" : "time (m:ss)", yLabel: "p", tracks,
    shaded, lanes, levels: ["macro", "micro"].map((type) => ({y: data.thresholds[type], cls: `type-${type}`}))});
  for (const line of timeline.svg.querySelectorAll(".start-end")) line.setAttribute("stroke-dasharray", "2 2");

  // The overview: apex scores and interval marks over the whole recording, the part in view boxed.
  const overview = drawTimeline(document.getElementById("overview"), {
    xMin: 0, xMax: duration, clock: true, yLabel: "whole", plotHeight: 28, laneHeight: 5, shaded,
    tracks: ["macro", "micro"].map((type) => ({xs: data.times, ys: data.tracks[type].apex, cls: `type-${type}`})),
    lanes: ["macro", "micro"].map((type) => ({label: "", cls: `spot-lane lane-${type}`,
      bars: spots.filter((s) => s.type === type).map((spot) => ({begin: spot.onset_s, end: spot.offset_s + frame,
        cls: `type-${type}`, title: `${type} ${spot.score.toFixed(3)} at ${spot.onset_s.toFixed(2)} s`}))}))});
  const box = svgElement("rect", {class: "viewport", y: overview.plot.top - 3,
    height: overview.plot.bottom - overview.plot.top + 6}, overview.svg);

  const body = document.querySelector("#spots-table tbody");
  for (const spot of spots) {
    const row = body.insertRow();
    row.dataset.spot = spot.row;
    fillCells(row, [spot.type, spot.onset_frame, spot.apex_frame, spot.offset_frame, spot.onset_s.toFixed(3),
      spot.apex_s.toFixed(3), spot.offset_s.toFixed(3), spot.score.toFixed(4),
      spot.matched === null ? "" : spot.matched ? "yes" : "no"]);
  }
  const elements = Array.from(document.querySelectorAll("[data-spot]"));

  // ---- the view: which seconds the timeline shows
  const clamp = (v, low, high) => Math.min(Math.max(v, low), high);
  function setView(begin, end) {
    const span = clamp(end - begin, MIN_VIEW, duration);
    begin = clamp(begin, 0, duration - span);
    timeline.setView(begin, begin + span);
    holder.dataset.view = `${begin.toFixed(3)} ${(begin + span).toFixed(3)}`;
    box.setAttribute("x", overview.xOf(begin));
    box.setAttribute("width", Math.max(overview.xOf(begin + span) - overview.xOf(begin), 3));
    document.getElementById("view-range").textContent =
      `showing ${clockLabel(begin, span < 10 ? 0.1 : 1)}\u2013${clockLabel(begin + span, span < 10 ? 0.1 : 1)} of ${clockLabel(duration, 1)}`;
  }
  const view = () => timeline.view();
  function zoom(factor, around) {
    const [begin, end] = view();
    const at = around === undefined ? (begin + end) / 2 : around;
    const span = clamp((end - begin) * factor, MIN_VIEW, duration);
    setView(at - (at - begin) * span / (end - begin), at - (at - begin) * span / (end - begin) + span);
  }
  function pan(seconds) {
    const [begin, end] = view();
    setView(begin + seconds, end + seconds);
  }
  function centre(t) {
    const [begin, end] = view();
    setView(t - (end - begin) / 2, t + (end - begin) / 2);
  }
  // Bring an interval into view: zoomed in when it would be too thin to see, centred when it is outside.
  function reveal(spot) {
    const [begin, end] = view(), length = spot.offset_s + frame - spot.onset_s;
    if (timeline.xOf(spot.offset_s + frame) - timeline.xOf(spot.onset_s) < 6) {
      const span = Math.max(length * 20, 10);
      setView(spot.onset_s - span / 2, spot.onset_s + span / 2);
    } else if (spot.onset_s < begin || spot.offset_s + frame > end) {
      centre((spot.onset_s + spot.offset_s + frame) / 2);
    }
  }
  setView(0, duration <= WHOLE_UP_TO ? duration : FIRST_VIEW);

  // ---- the cursor: the video's time (or the page's own without a video)
  const now = () => (video ? video.currentTime : virtualTime);
  function show() {
    const t = now();
    timeline.setCursor(t);
    overview.setCursor(t);
    const [begin, end] = view();
    if (video && !video.paused && (t < begin || t > end)) setView(t - (end - begin) * 0.1, t + (end - begin) * 0.9);
    for (const element of elements) {
      const spot = spots[Number(element.dataset.spot)];
      element.classList.toggle("active", spot.onset_s <= t && t < spot.offset_s + frame);
    }
  }
  function seek(t) {
    t = clamp(t, 0, duration);
    if (video) video.currentTime = t;
    else virtualTime = t;
    show();
  }
  function go(index) {
    if (index < 0 || index >= spots.length) return;
    current = index;
    reveal(spots[index]);
    document.getElementById("spot-position").textContent = `interval ${index + 1} of ${spots.length}`;
    seek(spots[index].onset_s);
  }
  // Where the cursor is: the interval last gone to while the cursor is still at its onset, else the last one begun.
  function step(forward) {
    if (!spots.length) return;
    const t = now();
    let index = current >= 0 && Math.abs(spots[current].onset_s - t) < frame / 2 ? current : -1;
    if (index < 0) for (let i = 0; i < spots.length; i++) if (spots[i].onset_s <= t + frame / 2) index = i;
    go(forward ? index + 1 : Math.max(index - 1, 0));
  }
  document.getElementById("spot-position").textContent = `${spots.length} interval(s)`;

  // ---- pointer and keys. A drag pans; a click without one goes to an interval's onset, or to the time clicked.
  let dragged = false;  // the click that ends a drag is no click
  function dragging(svg, onMove) {
    svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      let lastX = event.clientX, moved = false;
      const startX = lastX;
      const move = (e) => {
        moved = moved || Math.abs(e.clientX - startX) > 3;
        if (moved) onMove(lastX, e.clientX);
        lastX = e.clientX;
      };
      const up = () => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
        if (moved) { dragged = true; setTimeout(() => { dragged = false; }, 0); }
      };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });
  }
  dragging(timeline.svg, (from, to) => pan(timeline.valueAt(from) - timeline.valueAt(to)));
  timeline.svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    if (event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
      const [begin, end] = view();
      pan((event.deltaX || event.deltaY) * (end - begin) / 1000);
    } else {
      zoom(Math.exp(event.deltaY * 0.002), timeline.valueAt(event.clientX));
    }
  }, {passive: false});
  timeline.svg.addEventListener("click", (event) => {
    if (dragged) return;
    const bar = event.target.closest("[data-spot]");
    if (bar) go(Number(bar.dataset.spot));
    else seek(timeline.valueAt(event.clientX));
  });
  dragging(overview.svg, (from, to) => pan(overview.valueAt(to) - overview.valueAt(from)));
  overview.svg.addEventListener("click", (event) => {
    if (dragged) return;
    const t = overview.valueAt(event.clientX);
    centre(t);
    seek(t);
  });
  for (const row of body.rows) row.addEventListener("click", () => go(Number(row.dataset.spot)));
  const buttons = {"prev-spot": () => step(false), "next-spot": () => step(true), "zoom-in": () => zoom(0.5),
    "zoom-out": () => zoom(2), "zoom-all": () => setView(0, duration)};
  for (const [id, action] of Object.entries(buttons)) document.getElementById(id).addEventListener("click", action);
  const keys = {"n": () => step(true), "p": () => step(false), "+": () => zoom(0.5), "=": () => zoom(0.5),
    "-": () => zoom(2), "0": () => setView(0, duration)};
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey || !keys[event.key]) return;
    event.preventDefault();
    keys[event.key]();
  });
  document.getElementById("show-start-end").addEventListener("change", (event) => {
    document.body.classList.toggle("show-start-end", event.target.checked);
  });
  if (video) {
    for (const name of ["timeupdate", "seeked", "loadeddata"]) video.addEventListener(name, show);
    const follow = () => { show(); if (!video.paused) requestAnimationFrame(follow); };
    video.addEventListener("play", () => requestAnimationFrame(follow));
  }
  show();
})();
