/* gridgis planners' workbench: the plan on a map, county-wide balance, edits checked by the server.
   The page keeps the edit list; every change sends the whole list to POST /v1/plans/{name}/edits, so
   undo is the list without its last operation and the server's answer is always the truth shown. */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("gridgis-boot").textContent);
  var wb = JSON.parse(document.getElementById("wb-boot").textContent);
  var W = wb.words, NAME = wb.plan.name;
  var BANDS = [[0.8, "#2166ac"], [0.9, "#92c5de"], [1.1, "#f7f7f7"], [1.2, "#f4a582"], [Infinity, "#b2182b"]];
  var base = null, grids = {}, owner = {}, baseOwner = {}, dist = null, published = null;
  var edits = [], redo = [], selected = {}, current = null, busy = false;
  var mode = "click", block = null, blocks = {}, lasso = null;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") n.textContent = attrs[k]; else if (k === "class") n.className = attrs[k]; else n.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { n.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return n;
  }
  function call(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": boot.csrf } };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { window.location = "/console?lang=" + boot.lang; throw new Error("signed out"); }
      return r.json().then(function (data) {
        if (!r.ok) { var e = new Error((data.error && data.error.message) || r.statusText); e.status = r.status; throw e; }
        return data;
      });
    });
  }
  function num(v) { return v === null || v === undefined ? "—" : String(Math.round(v * 10) / 10); }
  function say(text, bad) { var m = $("wb-msg"); m.textContent = text; m.className = "wb-msg" + (bad ? " wb-bad" : ""); }
  function colour(p) {
    var ratio = dist && dist.mean ? p.households / dist.mean : 1;
    for (var i = 0; i < BANDS.length; i++) if (ratio < BANDS[i][0]) return BANDS[i][1];
    return BANDS[BANDS.length - 1][1];
  }

  var map = L.map("wb-map", { preferCanvas: false });
  // street blocks above the grids, buildings above both; blocks are on the map only while blocks are picked
  map.createPane("wb-blocks").style.zIndex = 405;
  map.createPane("wb-buildings").style.zIndex = 410;
  var gridLayer = L.geoJSON(null, {
    style: function (f) {
      var p = f.properties;
      return { color: p.locked ? "#111" : "#555", weight: f.id === current ? 3 : (p.locked ? 2.5 : 1), dashArray: p.locked ? "6 4" : null,
        fillColor: colour(p), fillOpacity: 0.75 };
    },
    onEachFeature: function (f, layer) {
      layer.on("add", function () { layer.getElement().setAttribute("data-grid", f.id); });
      layer.on("click", function () { selectGrid(f.id); });
      layer.bindTooltip(function () { var p = grids[f.id].properties; return (p.name || f.id) + " · " + p.households; });
    }
  }).addTo(map);
  var blockLayer = L.geoJSON(null, {
    pane: "wb-blocks",
    style: function (f) {
      return { color: f.id === block ? "#ffb000" : "#6a3d9a", weight: f.id === block ? 4 : 1.5, dashArray: "4 3",
        fillColor: "#6a3d9a", fillOpacity: f.id === block ? 0.25 : 0.05 };
    },
    onEachFeature: function (f, layer) {
      layer.on("add", function () { layer.getElement().setAttribute("data-block", String(f.id)); });
      layer.on("click", function (e) { L.DomEvent.stopPropagation(e); pickBlock(block === f.id ? null : f.id); });
      layer.bindTooltip(function () { return f.id + " · " + f.properties.buildings + " " + W.buildings + " · " + f.properties.households + " " + W.households; });
    }
  });
  var buildingLayer = L.geoJSON(null, {
    pane: "wb-buildings",
    style: function (f) { return { color: selected[f.id] ? "#ffb000" : "#333", weight: selected[f.id] ? 3 : 1, fillColor: "#666", fillOpacity: 0.6 }; },
    onEachFeature: function (f, layer) {
      layer.on("add", function () { layer.getElement().setAttribute("data-building", String(f.id)); });
      layer.on("click", function (e) {
        L.DomEvent.stopPropagation(e);
        if (mode !== "click") return;
        if (selected[f.id]) delete selected[f.id]; else selected[f.id] = true;
        pickBlock(null);
        buildingLayer.resetStyle(layer);
        showSelection();
      });
    }
  }).addTo(map);

  function community(gid) { return grids[gid] && grids[gid].properties.community_id; }
  function options(sel, ids, keep) {
    sel.textContent = "";
    ids.forEach(function (g) { sel.appendChild(el("option", { value: g, text: (grids[g].properties.name || g) + " (" + g.slice(-3) + ")" })); });
    if (keep && ids.indexOf(keep) >= 0) sel.value = keep;
  }
  function gridsOf(cid, except) {
    return Object.keys(grids).filter(function (g) { return community(g) === cid && g !== except; }).sort();
  }
  function showSelection() {
    var ids = Object.keys(selected);
    $("wb-nsel").textContent = ids.length;
    var b = block && blocks[block] ? blocks[block].properties : null;
    $("wb-block").textContent = b ? W.block + " " + block + " · " + b.buildings + " " + W.buildings + " · " + b.households + " " + W.households : "";
    var cid = b ? b.community_id : (ids.length ? community(owner[ids[0]]) : (current ? community(current) : null));
    options($("wb-move-to"), cid ? gridsOf(cid) : [], $("wb-move-to").value);
  }
  function clearBuildings() { selected = {}; buildingLayer.setStyle(buildingLayer.options.style); }
  function pickBlock(id) {
    block = id;
    if (id) clearBuildings();
    blockLayer.setStyle(blockLayer.options.style);
    showSelection();
  }
  function setMode(m) {
    mode = m;
    ["click", "lasso", "block"].forEach(function (k) { $("wb-mode-" + k).classList.toggle("wb-on", k === m); });
    if (m === "block") blockLayer.addTo(map); else { map.removeLayer(blockLayer); pickBlock(null); }
    if (m === "lasso") map.dragging.disable(); else map.dragging.enable();
    $("wb-map").classList.toggle("wb-lassoing", m === "lasso");
    document.body.setAttribute("data-wb-mode", m);
  }
  // the lasso: a freehand outline drawn with the mouse; the buildings whose centre it holds are selected
  function inside(pt, ring) {
    var yes = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var a = ring[i], b = ring[j];
      if ((a.lat > pt.lat) !== (b.lat > pt.lat) && pt.lng < (b.lng - a.lng) * (pt.lat - a.lat) / (b.lat - a.lat) + a.lng) yes = !yes;
    }
    return yes;
  }
  map.on("mousedown", function (e) {
    if (mode !== "lasso") return;
    lasso = L.polyline([e.latlng], { color: "#ffb000", weight: 2, dashArray: "5 4", interactive: false }).addTo(map);
  });
  map.on("mousemove", function (e) { if (lasso) lasso.addLatLng(e.latlng); });
  map.on("mouseup", function () {
    if (!lasso) return;
    var ring = lasso.getLatLngs();
    map.removeLayer(lasso); lasso = null;
    if (ring.length < 3) return;
    pickBlock(null);
    buildingLayer.eachLayer(function (layer) { if (inside(layer.getBounds().getCenter(), ring)) selected[layer.feature.id] = true; });
    buildingLayer.setStyle(buildingLayer.options.style);
    showSelection();
  });
  function selectGrid(gid) {
    current = gid;
    var p = grids[gid].properties;
    var facts = el("table", { "class": "wb-facts" }, [
      el("tr", {}, [el("td", { text: W.grid }), el("td", { text: gid + (p.locked ? " · " + W.locked : "") })]),
      el("tr", {}, [el("td", { text: W.community }), el("td", { text: p.community_id })]),
      el("tr", {}, [el("td", { text: W.households }), el("td", { id: "wb-hh", text: String(p.households) })]),
      el("tr", {}, [el("td", { text: W.buildings }), el("td", { text: String(p.buildings) })]),
      el("tr", {}, [el("td", { text: W.mean }), el("td", { text: num(dist.mean) + " (" + (p.households / dist.mean).toFixed(2) + ")" })])
    ]);
    var box = $("wb-grid"); box.textContent = ""; box.className = ""; box.appendChild(el("b", { text: p.name || gid })); box.appendChild(facts);
    $("wb-grid-tools").hidden = false;
    $("wb-lock").textContent = p.locked ? W.unlock : W.lock;
    $("wb-name").value = p.name || ""; $("wb-note").value = p.note || "";
    options($("wb-merge-into"), gridsOf(p.community_id, gid));
    showSelection();
    gridLayer.setStyle(gridLayer.options.style);
  }
  function bars() {
    var box = $("wb-dist"); box.textContent = "";
    var grid = el("div", { "class": "wb-bars" });
    var max = Math.max.apply(null, dist.bins.map(function (b) { return b.grids; }).concat(published ? published.distribution.bins.map(function (b) { return b.grids; }) : [1]));
    dist.bins.forEach(function (b, i) {
      var label = b.from + "–" + (b.to === null ? "" : b.to);
      var cell = el("div", {}, [el("i", { style: "width:" + (100 * b.grids / max) + "%", title: W.draft })]);
      if (published) cell.appendChild(el("i", { "class": "wb-pub", style: "width:" + (100 * published.distribution.bins[i].grids / max) + "%", title: W.published }));
      grid.appendChild(el("span", { text: label })); grid.appendChild(cell); grid.appendChild(el("span", { "data-bin": i, text: String(b.grids) }));
    });
    box.appendChild(grid);
    box.appendChild(el("div", { "class": "gg-muted", id: "wb-stats", text: W.mean + " " + num(dist.mean) + " · CV " + dist.cv + " · " + dist.grids + " " + W.grids }));
    var cmp = $("wb-compare");
    cmp.textContent = published ? (W.published + " " + published.name + ": " + W.mean + " " + num(published.distribution.mean) + ", CV " +
      published.distribution.cv + ", " + published.distribution.grids + " " + W.grids + " · " + W.draft + ": CV " + dist.cv) : "—";
  }
  function show(answer) {
    grids = {};
    base.features.forEach(function (f) { grids[f.id] = { type: "Feature", id: f.id, geometry: f.geometry, properties: f.properties }; });
    answer.removed.forEach(function (g) { delete grids[g]; });
    answer.grids.features.forEach(function (f) { grids[f.id] = f; });
    answer.figures.forEach(function (row) { if (grids[row.grid_id]) grids[row.grid_id].properties = row; });
    owner = Object.assign({}, baseOwner, answer.moved);
    dist = answer.distribution;
    gridLayer.clearLayers(); gridLayer.addData(Object.keys(grids).map(function (g) { return grids[g]; }));
    bars();
    if (current && !grids[current]) { current = null; $("wb-grid-tools").hidden = true; $("wb-grid").textContent = W.none; }
    if (current) selectGrid(current);
    $("wb-undo").disabled = !edits.length; $("wb-redo").disabled = !redo.length;
    $("wb-count").textContent = edits.length + " " + W.edits;
    document.body.setAttribute("data-wb-edits", String(edits.length));
  }
  function run(list, after) {
    if (busy) return Promise.resolve();
    busy = true;
    return call("POST", "/v1/plans/" + encodeURIComponent(NAME) + "/edits", { edits: list }).then(function (answer) {
      edits = list; if (after) after();
      say(""); show(answer);
    }).catch(function (e) {
      say(W.refused + ": " + e.message, true);
      document.body.setAttribute("data-wb-refused", String(Number(document.body.getAttribute("data-wb-refused") || 0) + 1));
    }).then(function () { busy = false; });
  }
  function edit(op) { return run(edits.concat([op]), function () { redo = []; }); }

  $("wb-move").addEventListener("click", function () {
    var ids = Object.keys(selected).map(function (b) { return isNaN(Number(b)) ? b : Number(b); });
    var to = $("wb-move-to").value;
    if ((!ids.length && !block) || !to) return;
    var op = block ? { op: "move", block: block, to: to } : { op: "move", buildings: ids, to: to };
    edit(op).then(function () { if (edits[edits.length - 1] === op) { clearBuildings(); pickBlock(null); } });
  });
  ["click", "lasso", "block"].forEach(function (m) { $("wb-mode-" + m).addEventListener("click", function () { setMode(m); }); });
  $("wb-clear").addEventListener("click", function () { clearBuildings(); pickBlock(null); });
  $("wb-lock").addEventListener("click", function () { edit({ op: grids[current].properties.locked ? "unlock" : "lock", grids: [current] }); });
  $("wb-rebalance").addEventListener("click", function () { edit({ op: "rebalance", community: community(current) }); });
  $("wb-split").addEventListener("click", function () { edit({ op: "split", grid: current, into: 2 }); });
  $("wb-merge").addEventListener("click", function () { edit({ op: "merge", grids: [$("wb-merge-into").value, current] }).then(function () { if (!grids[current]) selectGrid($("wb-merge-into").value); }); });
  $("wb-rename").addEventListener("click", function () { edit({ op: "rename", grid: current, name: $("wb-name").value }); });
  $("wb-save-note").addEventListener("click", function () { edit({ op: "note", grid: current, text: $("wb-note").value }); });
  $("wb-undo").addEventListener("click", function () {
    var last = edits[edits.length - 1];
    run(edits.slice(0, -1), function () { redo.push(last); });
  });
  $("wb-redo").addEventListener("click", function () {
    var next = redo[redo.length - 1];
    run(edits.concat([next]), function () { redo.pop(); });
  });
  $("wb-save").addEventListener("click", function () {
    var name = $("wb-save-name").value.trim() || $("wb-save-name").placeholder;
    call("POST", "/v1/plans/" + encodeURIComponent(NAME) + "/edits", { edits: edits, save_as: name }).then(function (answer) {
      var link = el("a", { href: "/console/plans/" + encodeURIComponent(answer.saved.name) + "?lang=" + boot.lang, text: answer.saved.name });
      say(W.saved + " "); $("wb-msg").appendChild(link);
      document.body.setAttribute("data-wb-saved", answer.saved.name);
    }).catch(function (e) { say(W.refused + ": " + e.message, true); });
  });
  // the re-plan migration's per-community table (gridgis.store.replan): a publish's dry run, or a diff
  var COLS = ["kept", "new", "retired", "buildings_moved", "staff_moved", "staff_unattached", "keys_moved", "keys_unattached",
    "cases_rerouted", "cases_unrouted"];
  function migrationTable(report) {
    var rows = report.communities.filter(function (r) {
      return COLS.some(function (c) { return c !== "kept" && r[c]; });
    });
    var head = el("tr", {}, [el("th", { text: W.community })].concat(COLS.map(function (c) { return el("th", { text: W.cols[c] }); })));
    var body = rows.map(function (r) {
      return el("tr", { "data-community": r.community_id }, [el("td", { text: r.community_id })].concat(COLS.map(function (c) { return el("td", { text: String(r[c]) }); })));
    });
    var total = el("tr", { "class": "wb-total" }, [el("td", { text: W.total })].concat(COLS.map(function (c) { return el("td", { "data-total": c, text: String(report.totals[c]) }); })));
    var sums = el("div", { "class": "wb-sums" }, COLS.filter(function (c) { return c !== "kept"; }).map(function (c) {
      return el("span", { "data-sum": c }, [W.cols[c] + " ", el("b", { text: String(report.totals[c]) })]);
    }));
    var box = el("div", {}, [sums, el("div", { "class": "wb-scroll" }, [el("table", { "class": "wb-migration" }, [head].concat(body, [total]))])]);
    if (report.unattached.length) box.appendChild(el("p", { "class": "wb-bad", text: W.unattached + ": " + report.unattached.length + " (" +
      report.unattached.slice(0, 5).map(function (u) { return u.kind + " " + u.id + " @ " + u.grid_id; }).join(", ") + ")" }));
    return box;
  }
  function unsavedNote() { return edits.length ? " " + W.unsaved.replace("{n}", edits.length) : ""; }
  $("wb-compare-btn").addEventListener("click", function () {
    call("GET", "/v1/plans/" + encodeURIComponent(NAME) + "/diff").then(function (report) {
      var box = $("wb-diff"); box.textContent = "";
      box.appendChild(el("p", { "class": "gg-muted", text: W.diff_of.replace("{plan}", NAME).replace("{old}", report.previous || "—") + unsavedNote() }));
      box.appendChild(migrationTable(report));
      document.body.setAttribute("data-wb-compared", "1");
    }).catch(function (e) { say(e.message, true); });
  });
  var publishUrl = "/v1/plans/" + encodeURIComponent(NAME) + "/publish";
  $("wb-publish").addEventListener("click", function () {
    call("POST", publishUrl + "?dry_run=true").then(function (answer) {
      var report = answer.migration, box = $("wb-publish-box");
      box.textContent = ""; box.hidden = false;
      box.appendChild(el("h3", { text: W.publish_check.replace("{plan}", NAME).replace("{old}", report.previous || "—") }));
      if (edits.length) box.appendChild(el("p", { "class": "wb-bad", text: unsavedNote() }));
      box.appendChild(migrationTable(report));
      var force = el("input", { type: "checkbox", id: "wb-force" });
      if (report.refused) box.appendChild(el("p", { "class": "wb-bad" }, [force, " " + W.force]));
      var yes = el("button", { type: "button", id: "wb-publish-yes", "class": "gg-primary", text: W.publish_yes });
      var no = el("button", { type: "button", id: "wb-publish-no", text: W.cancel });
      box.appendChild(el("div", { "class": "wb-row" }, [yes, no]));
      no.addEventListener("click", function () { box.hidden = true; });
      yes.addEventListener("click", function () {
        call("POST", publishUrl + (force.checked ? "?force=true" : "")).then(function (p) {
          box.hidden = true;
          say(W.published + ": " + p.name + " · " + W.cols.buildings_moved + " " + p.migration.totals.buildings_moved + " · " +
            W.cols.cases_rerouted + " " + p.migration.totals.cases_rerouted);
          document.querySelector(".wb-status").textContent = p.status;
          published = null; bars();  // this plan is the published one now
        }).catch(function (e) { say(e.message, true); });
      });
      document.body.setAttribute("data-wb-dry-run", "1");
    }).catch(function (e) { say(e.message, true); });
  });
  // names and notes in bulk: the table's rows become rename and note operations appended to the list
  $("wb-names").addEventListener("click", function () {
    var file = $("wb-names-file").files[0];
    if (!file) return;
    var form = new FormData(); form.append("file", file);
    fetch("/v1/plans/" + encodeURIComponent(NAME) + "/edits/names", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": boot.csrf }, body: form })
      .then(function (r) { return r.json().then(function (data) { if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText); return data; }); })
      .then(function (answer) { return run(edits.concat(answer.edits), function () { redo = []; }); })
      .catch(function (e) { say(W.refused + ": " + e.message, true); });
  });

  var loaded = {};
  function loadBuildings(bbox) {  // a large plan (wb.tiles) loads the buildings in view as the map moves
    return call("GET", "/v1/plans/" + encodeURIComponent(NAME) + "/workbench/buildings?bbox=" + bbox).then(function (b) {
      var fresh = b.features.filter(function (f) { return !loaded[f.id]; });
      fresh.forEach(function (f) { loaded[f.id] = true; baseOwner[f.id] = f.properties.grid_id; if (!(f.id in owner)) owner[f.id] = f.properties.grid_id; });
      buildingLayer.addData(fresh);
    });
  }
  call("GET", "/v1/plans/" + encodeURIComponent(NAME) + "/workbench").then(function (fc) {
    base = fc; published = fc.published;
    var bounds = L.geoJSON(fc).getBounds();
    map.fitBounds(bounds);
    var first = wb.tiles ? Promise.resolve(gridgisTiles.viewBuildings(map, wb.tiles, loadBuildings)) : loadBuildings(bounds.toBBoxString());
    return first.then(function () {
      return call("GET", "/v1/plans/" + encodeURIComponent(NAME) + "/workbench/blocks?bbox=" + bounds.toBBoxString());
    }).then(function (bl) {
      bl.features.forEach(function (f) { blocks[f.id] = f; });
      blockLayer.addData(bl.features);
      $("wb-mode-block").disabled = !bl.features.length;
      show({ removed: [], grids: { features: [] }, figures: fc.features.map(function (f) { return f.properties; }), moved: {}, distribution: fc.distribution });
      document.body.setAttribute("data-wb-ready", "1");
    });
  }).catch(function (e) { say(e.message, true); });
})();
