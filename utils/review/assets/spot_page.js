"use strict";
// The spot page: a video, a timeline of the recording's scores and intervals under it, and the table of intervals.
(function () {
  const data = reviewData();
  const video = document.querySelector("video");
  const frame = 1 / data.fps;
  const spots = data.spots;
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
  const timeline = drawTimeline(document.getElementById("timeline"), {
    xMin: 0, xMax: data.duration, xLabel: "time (s)", yLabel: "p", tracks, shaded, lanes,
    levels: ["macro", "micro"].map((type) => ({y: data.thresholds[type], cls: `type-${type}`}))});
  for (const line of timeline.svg.querySelectorAll(".start-end")) line.setAttribute("stroke-dasharray", "2 2");

  const body = document.querySelector("#spots-table tbody");
  for (const spot of spots) {
    const row = body.insertRow();
    row.dataset.spot = spot.row;
    fillCells(row, [spot.type, spot.onset_frame, spot.apex_frame, spot.offset_frame, spot.onset_s.toFixed(3),
      spot.apex_s.toFixed(3), spot.offset_s.toFixed(3), spot.score.toFixed(4),
      spot.matched === null ? "" : spot.matched ? "yes" : "no"]);
  }
  const elements = Array.from(document.querySelectorAll("[data-spot]"));

  const now = () => (video ? video.currentTime : virtualTime);
  function show() {
    const t = now();
    timeline.setCursor(t);
    for (const element of elements) {
      const spot = spots[Number(element.dataset.spot)];
      element.classList.toggle("active", spot.onset_s <= t && t < spot.offset_s + frame);
    }
  }
  function go(index) {
    if (index < 0 || index >= spots.length) return;
    current = index;
    if (video) video.currentTime = spots[index].onset_s;
    else virtualTime = spots[index].onset_s;
    show();
  }
  for (const element of elements) element.addEventListener("click", () => go(Number(element.dataset.spot)));
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || !spots.length || !["n", "p"].includes(event.key)) return;
    const t = now();
    // Where the cursor is: the interval last gone to while the cursor is still at its onset, else the last one begun.
    let index = current >= 0 && Math.abs(spots[current].onset_s - t) < frame / 2 ? current : -1;
    if (index < 0) for (let i = 0; i < spots.length; i++) if (spots[i].onset_s <= t + frame / 2) index = i;
    go(event.key === "n" ? index + 1 : Math.max(index - 1, 0));
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
