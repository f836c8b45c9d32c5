"use strict";
// The run report: F1-by-epoch charts, and per test video a timeline at the selected epoch, sortable and filterable.
(function () {
  const data = reviewData();
  const charts = document.getElementById("f1-charts");
  const f1 = data.f1_by_epoch;
  for (const group of ["micro", "macro", "all"]) {
    const holder = document.createElement("div");
    holder.className = "timeline";
    charts.appendChild(holder);
    const tracks = Object.values(f1.folds).map((fold) => ({xs: fold.epochs, ys: fold[group], cls: "fold-line"}));
    tracks.push({xs: f1.pooled.epochs, ys: f1.pooled[group], cls: "pooled-line"});
    const epochs = f1.pooled.epochs.length ? f1.pooled.epochs : [0, 1];
    const chart = drawTimeline(holder, {xMin: Math.min(...epochs), xMax: Math.max(...epochs), xLabel: "epoch", integerTicks: true,
      yLabel: group === "all" ? "overall F1" : `${group} F1`, plotHeight: 90, tracks, lanes: []});
    for (const path of chart.svg.querySelectorAll(".fold-line")) { path.setAttribute("stroke", "#bbb"); path.setAttribute("fill", "none"); }
    for (const path of chart.svg.querySelectorAll(".pooled-line")) {
      path.setAttribute("stroke", "#000"); path.setAttribute("stroke-width", 2); path.setAttribute("fill", "none");
    }
  }

  const body = document.querySelector("#videos tbody");
  const rows = Array.from(body.querySelectorAll("tr[data-video]"));
  const typeFilter = document.getElementById("type-filter"), subjectFilter = document.getElementById("subject-filter");
  const sort = document.getElementById("sort");
  const errors = (video, types) => types.reduce((sum, t) => sum + video.counts[t].fp + video.counts[t].fn, 0);
  const has = (video, type) => video.truth.some((t) => t.type === type) || video.spots.some((s) => s.type === type);

  for (const row of rows) {
    const video = data.videos[Number(row.dataset.index)];
    const length = Math.max(1, ...Object.values(video.tracks).map((track) => track.length));
    const shift = video.frame_shift;
    const tracks = ["macro", "micro"].filter((t) => video.tracks[t]).map((type) => ({
      xs: video.tracks[type].map((_, i) => i + shift), ys: video.tracks[type], cls: `type-${type} lane-${type}`}));
    const lanes = [];
    for (const type of ["macro", "micro"]) {
      lanes.push({label: `truth ${type}`, cls: `truth-lane lane-${type}`, bars: video.truth.filter((t) => t.type === type).map((t) => ({
        begin: t.start, end: t.end + 1, cls: `truth ${t.matched ? "hit" : "miss"}`,
        title: `ground truth ${type} ${t.start}-${t.end}: ${t.matched ? "matched" : "missed"}`, attrs: {"data-truth": t.row}}))});
      lanes.push({label: `kept ${type}`, cls: `spot-lane lane-${type}`, bars: video.spots.filter((s) => s.type === type).map((s) => ({
        begin: s.start, end: s.end + 1, cls: s.matched ? "hit" : "miss",
        title: `${type} ${s.start}-${s.end}, score ${s.score.toFixed(3)}: ${s.matched ? "true positive" : "false positive"}`,
        attrs: {"data-proposal": s.row}}))});
    }
    const ends = video.truth.concat(video.spots).map((item) => item.end + 1);
    drawTimeline(row.querySelector(".timeline"), {xMin: 0, xMax: Math.max(length + shift, ...ends), xLabel: "frame",
      yLabel: "apex", plotHeight: 50, tracks, lanes});
  }

  function update() {
    const type = typeFilter.value, subject = subjectFilter.value;
    const types = type ? [type] : ["micro", "macro"];
    document.getElementById("videos").className = type ? `only-${type}` : "";
    for (const row of rows) {
      const video = data.videos[Number(row.dataset.index)];
      row.querySelector(".errors").textContent = errors(video, types);
      row.hidden = (subject && video.subject !== subject) || (type && !has(video, type));
    }
    const ordered = rows.slice().sort((a, b) => {
      const va = data.videos[Number(a.dataset.index)], vb = data.videos[Number(b.dataset.index)];
      return sort.value === "errors" ? errors(vb, types) - errors(va, types) || va.video.localeCompare(vb.video)
        : va.video.localeCompare(vb.video);
    });
    for (const row of ordered) body.appendChild(row);
  }
  for (const control of [typeFilter, subjectFilter, sort]) control.addEventListener("change", update);
  update();
})();
