/* gridgis console: the dispatcher's list + map, the grid worker's phone view. Plain JS, no build step.
   Moves are offered from the server's answer (case.moves), never from a list kept here. */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("gridgis-boot").textContent);
  var T = boot.text, C = boot.colours;
  var FINAL = ["closed", "rejected"];
  var POLL_MS = 2500;

  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") n.textContent = attrs[k];
      else if (k === "class") n.className = attrs[k];
      else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), attrs[k]);
      else n.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return n;
  }

  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": boot.csrf } };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { window.location = "/console?lang=" + boot.lang; throw new Error("signed out"); }
      return r.json().then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
        return data;
      });
    });
  }

  function statusName(s) { return (T.statuses && T.statuses[s]) || s; }
  function badge(s) { return el("span", { "class": "gg-badge", style: "background:" + (C[s] || "#888"), "data-status": s, text: statusName(s) }); }
  function moveLabel(target, from) {
    if (target === "in_progress" && from === "resolved") return T.moves.reopened || target;
    if (target === "in_progress" && boot.lang === "zh" && from === "assigned") return "接单";
    if (target === "in_progress" && from === "assigned") return "Accept";
    return (T.moves && T.moves[target]) || target;
  }
  function levelName(l) { return (T.levels && T.levels[l]) || l; }
  function fillSelects() {
    document.querySelectorAll("select[data-fill=categories]").forEach(function (sel) {
      Object.keys(boot.categories).forEach(function (code) { sel.appendChild(el("option", { value: code, text: boot.categories[code] })); });
    });
  }

  /* --- the case detail: facts, photos, history, moves (from the server), note, photo upload --- */
  function showDetail(panel, id, changed) {
    panel.hidden = false;
    return api("GET", "/console/api/cases/" + id).then(function (c) {
      panel.textContent = "";
      var msg = el("div", { "class": "gg-msg gg-muted", role: "status" });
      var note = el("textarea", { rows: "2", name: "note", maxlength: "4000", placeholder: T.note });
      var assignee = el("input", { type: "text", name: "assignee", maxlength: "200", placeholder: T.assign_to, list: "gg-assignees" });
      var moves = el("div", { "class": "gg-moves" });
      c.moves.forEach(function (target) {
        moves.appendChild(el("button", {
          type: "button", "class": target === "resolved" || target === "closed" ? "gg-primary" : "", "data-move": target,
          text: moveLabel(target, c.status),
          onclick: function () {
            var body = { to: target, note: note.value };
            if (target === "assigned") body.assignee = assignee.value.trim();
            api("POST", "/v1/cases/" + c.id + "/transitions", body).then(function () {
              msg.textContent = T.done; changed(); showDetail(panel, id, changed);
            }).catch(function (e) { msg.textContent = e.message; msg.className = "gg-msg gg-error"; });
          }
        }));
      });
      var photoInput = el("input", { type: "file", accept: "image/jpeg,image/png,image/webp", capture: "environment", name: "photo" });
      var upload = el("button", { type: "button", text: T.upload_photo, onclick: function () {
        var f = photoInput.files[0];
        if (!f) return;
        if (f.size > boot.max_photo_bytes) { msg.textContent = f.name + ": > " + Math.round(boot.max_photo_bytes / 1048576) + " MB"; return; }
        var form = new FormData(); form.append("photo", f);
        api("POST", "/console/api/cases/" + c.id + "/photos", form).then(function () { showDetail(panel, id, changed); })
          .catch(function (e) { msg.textContent = e.message; msg.className = "gg-msg gg-error"; });
      } });
      var facts = el("dl", {}, [
        el("dt", { text: T.status }), el("dd", {}, [badge(c.status), c.overdue ? el("span", { "class": "gg-over", text: " " + T.overdue }) : null]),
        el("dt", { text: T.level }), el("dd", { text: levelName(c.level) }),
        el("dt", { text: T.category }), el("dd", { text: boot.categories[c.category] || c.category }),
        el("dt", { text: T.grid }), el("dd", { title: c.grid_id || "", text: c.grid_name || c.grid_id || "—" }),
        el("dt", { text: T.community }), el("dd", { title: c.community_id || "", text: c.community_name || c.community_id || "—" }),
        el("dt", { text: T.town }), el("dd", { title: c.town_id || "", text: c.town_name || c.town_id || "—" }),
        el("dt", { text: T.assignee }), el("dd", { text: c.assignee_name || c.assignee }),
        el("dt", { text: T.due }), el("dd", { "class": c.overdue ? "gg-over" : "", text: c.due_shown }),
        el("dt", { text: T.reported_at }), el("dd", { text: c.created_shown }),
      ]);
      var photos = el("div", { "class": "gg-photos" }, c.photos.map(function (p) {
        return el("a", { href: p.url, target: "_blank" }, [el("img", { src: p.url, alt: p.name })]);
      }));
      var history = el("ol", { "class": "gg-history" }, c.events.map(function (e) {
        var photoOnly = !e.note && e.photos.length && e.from_status === e.to_status;  // a photo added
        var noteOnly = e.note && e.from_status === e.to_status && !e.assignee;  // a note without a move
        var who = e.actor.replace(/ \[[^\]]*\]$/, "");  // "张三 [worker:p-…]": the name; the key on hover
        return el("li", {}, [e.at_shown + " · ", el("span", { title: e.actor, text: who }), " · ",
          noteOnly || photoOnly ? el("span", { "class": "gg-badge gg-note-badge", text: photoOnly ? T.photos : T.note })
            : badge(e.to_status),
          e.assignee ? " → " + (e.assignee_name || e.assignee) : "", e.note ? el("div", { text: e.note }) : null]);
      }));
      var canAct = c.moves.length > 0 || c.may_note;
      function post(url, body) {
        api("POST", url, body).then(function () { msg.textContent = T.done; changed(); showDetail(panel, id, changed); })
          .catch(function (e) { msg.textContent = e.message; msg.className = "gg-msg gg-error"; });
      }
      // a note without a move; the call-back (回访) and rating once resolved (dispatchers)
      var extra = el("div", { "class": "gg-moves" }, [
        c.may_note ? el("button", { type: "button", "data-action": "note", text: T.add_note, onclick: function () {
          if (note.value.trim()) post("/v1/cases/" + c.id + "/notes", { note: note.value });
        } }) : null,
      ]);
      if (boot.dispatcher && ["resolved", "verified", "closed"].indexOf(c.status) >= 0) {
        var rating = el("select", { name: "rating", "aria-label": T.rating }, [el("option", { value: "", text: T.rating })]
          .concat([5, 4, 3, 2, 1].map(function (n) { return el("option", { value: String(n), text: n + " ★" }); })));
        extra.append(rating, el("button", { type: "button", "data-action": "callback", text: T.callback, onclick: function () {
          if (!note.value.trim()) return;
          post("/v1/cases/" + c.id + "/feedback", { callback: note.value, rating: rating.value ? Number(rating.value) : null });
        } }));
      }
      panel.append.apply(panel, [
        el("button", { type: "button", "class": "gg-close", text: "×", "aria-label": "close", onclick: function () { panel.hidden = true; } }),
        el("h2", { text: "#" + c.id + " " + (boot.categories[c.category] || c.category) }),
        el("p", { text: c.description }), facts,
        el("a", { href: c.nav_url, target: "_blank", rel: "noopener", "class": "gg-button", text: T.navigate }),
        el("h3", { text: T.photos }), photos,
        canAct ? el("div", {}, [photoInput, upload]) : null,
        canAct || boot.dispatcher ? el("h3", { text: T.note }) : null, canAct || boot.dispatcher ? note : null,
        canAct && c.moves.indexOf("assigned") >= 0 ? assignee : null,
        moves, canAct || extra.childNodes.length ? extra : null, msg,
        el("h3", { text: T.history }), history
      ].filter(function (n) { return n != null; }));
      panel.dataset.caseId = String(c.id);
    }).catch(function (e) { panel.textContent = e.message; });
  }

  /* a detail being written in is not redrawn under the user's hands */
  function busy(panel) {
    if (panel.contains(document.activeElement) && document.activeElement.matches("input, textarea")) return true;
    return Array.prototype.some.call(panel.querySelectorAll("textarea, input[type=text], input[type=file]"), function (i) {
      return i.type === "file" ? i.files.length > 0 : i.value !== "";
    });
  }

  /* --- polling: reload when any case changed --- */
  function poll(reload) {
    var last = null;
    function tick() {
      if (document.hidden) return;
      api("GET", "/console/api/stamp").then(function (d) {
        if (last !== null && d.stamp !== last) reload();
        last = d.stamp;
      }).catch(function () {});
    }
    tick();
    setInterval(tick, POLL_MS);
  }

  /* --- dispatcher: list + map of one selection --- */
  function dispatcher() {
    var form = document.getElementById("gg-filters");
    var tbody = document.querySelector("#gg-list tbody");
    var panel = document.getElementById("gg-detail");
    var selected = new Set();
    var offset = 0, limit = 50, total = 0;
    var split = document.querySelector(".gg-split");
    var map = L.map("gg-map", { preferCanvas: true, zoomControl: true }).setView([22.7, 112.95], 12);
    var markers = {};
    // the detail takes a column of its own between the list and the map (it never covers the map)
    new MutationObserver(function () {
      split.classList.toggle("gg-has-detail", !panel.hidden);
      map.invalidateSize();
      mark(panel.hidden ? null : Number(panel.dataset.caseId));
    }).observe(panel, { attributes: true, attributeFilter: ["hidden", "data-case-id"] });
    function mark(id) {
      Object.keys(markers).forEach(function (k) {
        var on = Number(k) === id;
        markers[k].setRadius(on ? 10 : 6);
        if (on) { markers[k].bringToFront(); if (!map.getBounds().pad(-0.15).contains(markers[k].getLatLng())) map.panTo(markers[k].getLatLng()); }
      });
    }
    var renderer = L.canvas({ padding: 0.3 });
    var dots = L.layerGroup().addTo(map);
    var fitted = false;
    if (boot.tiles) { gridgisTiles.outlines(map, { bounds: boot.tiles.bounds, minZoom: boot.tiles.minZooms.grids }); fitted = true; }
    else api("GET", "/console/api/grids.geojson").then(function (g) {
      var grids = L.geoJSON(g, { style: { color: "#5b6b7d", weight: 1, fill: false }, interactive: false }).addTo(map);
      // a dispatcher sees the whole plan; a handler's map fits its own cases (below)
      if (boot.dispatcher && grids.getLayers().length) { map.fitBounds(grids.getBounds()); fitted = true; }
    }).catch(function () {});

    function params() {
      var p = new URLSearchParams();
      new FormData(form).forEach(function (v, k) {
        if (!v) return;
        if (k === "since" || k === "until") v = v + "T00:00:00+08:00";
        p.append(k, v);
      });
      p.set("limit", limit); p.set("offset", offset);
      return p;
    }
    function open(id) {
      tbody.querySelectorAll("tr").forEach(function (tr) { tr.classList.toggle("gg-on", tr.dataset.id === String(id)); });
      showDetail(panel, id, load);
    }
    function row(c) {
      var box = el("input", { type: "checkbox", "aria-label": "#" + c.id });
      box.checked = selected.has(c.id);
      box.addEventListener("click", function (ev) { ev.stopPropagation(); if (box.checked) selected.add(c.id); else selected.delete(c.id); count(); });
      return el("tr", { "data-id": String(c.id), onclick: function () { open(c.id); } }, [
        bulk ? el("td", {}, [box]) : null, el("td", { text: String(c.id) }), el("td", {}, [badge(c.status)]),
        el("td", { text: boot.categories[c.category] || c.category }), el("td", { title: c.grid_id || "", text: c.grid_name || c.grid_id || "—" }),
        el("td", { text: c.assignee_name || c.assignee }), el("td", { "class": "gg-opt", text: levelName(c.level) }),
        el("td", { "class": c.overdue ? "gg-over" : "", text: c.due_shown }), el("td", { "class": "gg-opt", text: c.created_shown }),
      ]);
    }
    var bulk = document.getElementById("gg-bulk-assign");  // a dispatcher's only
    function count() { if (bulk) document.getElementById("gg-nsel").textContent = selected.size; }
    function refresh() {  // after a change: the list, the map and an open detail
      return load().then(function () { if (!panel.hidden && panel.dataset.caseId && !busy(panel)) showDetail(panel, panel.dataset.caseId, load); });
    }
    function load() {
      return api("GET", "/console/api/cases?" + params().toString()).then(function (d) {
        total = d.total;
        tbody.replaceChildren.apply(tbody, d.cases.map(row));
        if (!d.cases.length) tbody.appendChild(el("tr", {}, [el("td", { colspan: bulk ? "9" : "8", "class": "gg-muted", text: T.no_cases })]));
        document.getElementById("gg-count").textContent = T.total + " " + total + " " + T.items + " · " + (total ? offset + 1 : 0) + "–" + Math.min(offset + limit, total);
        document.getElementById("gg-prev").disabled = offset === 0;
        document.getElementById("gg-next").disabled = offset + limit >= total;
        dots.clearLayers();
        markers = {};
        var latlngs = [];
        d.points.forEach(function (p) {
          var m = L.circleMarker([p[2], p[1]], { renderer: renderer, radius: 6, weight: p[4] ? 2.5 : 1, color: p[4] ? "#000" : "#fff",
            fillColor: C[p[3]] || "#888", fillOpacity: 0.9 });
          m.bindTooltip("#" + p[0] + " " + statusName(p[3]));
          m.on("click", function () { open(p[0]); });
          m.addTo(dots);
          markers[p[0]] = m;
          latlngs.push([p[2], p[1]]);
        });
        if (!panel.hidden) mark(Number(panel.dataset.caseId));
        document.getElementById("gg-capped").textContent = d.points_capped ? T.map_capped + " " + d.points.length : "";
        if (!fitted && latlngs.length) { map.fitBounds(latlngs, { maxZoom: 15 }); fitted = true; }
        document.body.setAttribute("data-gridgis-ready", "1");
      });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
    document.getElementById("gg-prev").addEventListener("click", function () { offset = Math.max(0, offset - limit); load(); });
    document.getElementById("gg-next").addEventListener("click", function () { offset += limit; load(); });
    if (bulk) document.getElementById("gg-all").addEventListener("click", function (ev) {
      tbody.querySelectorAll("tr[data-id]").forEach(function (tr) {
        var id = Number(tr.dataset.id);
        if (ev.target.checked) selected.add(id); else selected.delete(id);
        tr.querySelector("input").checked = ev.target.checked;
      });
      count();
    });
    if (bulk) bulk.addEventListener("click", function () {
      var who = document.getElementById("gg-bulk-assignee").value.trim();
      var msg = document.getElementById("gg-bulk-msg");
      if (!who || !selected.size) return;
      api("POST", "/console/api/assign", { ids: Array.from(selected), assignee: who }).then(function (r) {
        msg.textContent = T.done + ": " + r.assigned.length + (r.failed.length ? " · " + T.failed + ": " +
          r.failed.map(function (f) { return "#" + f.id + " " + f.message; }).join("; ") : "");
        selected.clear(); count(); refresh();
      }).catch(function (e) { msg.textContent = e.message; });
    });
    load();
    poll(refresh);
  }

  /* --- grid worker: my cases by deadline, patrol report --- */
  function worker() {
    var list = document.getElementById("gg-mine");
    var panel = document.getElementById("gg-detail");
    var active = boot.statuses.filter(function (s) { return FINAL.indexOf(s) < 0; });
    function card(c) {
      var moves = c.allowed_moves || c.allowed_transitions;
      return el("li", { "data-id": String(c.id), style: "border-left-color:" + (C[c.status] || "#999") }, [
        el("div", { "class": "gg-row" }, [el("b", { text: "#" + c.id + " " + (boot.categories[c.category] || c.category) }), badge(c.status)]),
        el("div", { "class": "gg-row gg-muted" }, [
          el("span", { "class": c.overdue ? "gg-over" : "", text: T.due + " " + c.due_shown }),
          el("span", { text: levelName(c.level) + " · " + (c.grid_name || c.grid_id || "—") })]),
        el("p", { text: c.description }),
        el("div", { "class": "gg-moves" }, [
          el("a", { "class": "gg-button", href: c.nav_url, target: "_blank", rel: "noopener", text: T.navigate }),
          el("button", { type: "button", text: T.history + " / " + T.photos, "data-open": String(c.id), onclick: function () { showDetail(panel, c.id, load); } }),
        ].concat(moves.map(function (m, i) {
          return el("button", { type: "button", "class": i === 0 ? "gg-primary" : "", "data-move": m, text: moveLabel(m, c.status), onclick: function () {
            // a move that takes more than a tap opens the detail: assigning names someone, resolving asks for a note and photo
            if (m === "assigned" || m === "resolved") { showDetail(panel, c.id, load); return; }
            if (i > 0 && !window.confirm("#" + c.id + " " + moveLabel(m, c.status) + "?")) return;
            api("POST", "/v1/cases/" + c.id + "/transitions", { to: m }).then(load).catch(function (e) { alert(e.message); });
          } });
        })))
      ]);
    }
    function load() {
      var p = new URLSearchParams({ sort: "due_at", limit: "200", map: "false", status: active.join(",") });
      var level = document.getElementById("gg-level").value;
      if (level) p.set("level", level);  // community and town handlers: the cases escalated to them
      return api("GET", "/console/api/cases?" + p.toString()).then(function (d) {
        list.replaceChildren.apply(list, d.cases.map(card));
        if (!d.cases.length) list.appendChild(el("li", { "class": "gg-muted", text: T.no_cases }));
        document.getElementById("gg-count").textContent = "(" + d.total + ")";
        document.body.setAttribute("data-gridgis-ready", "1");
      });
    }
    var pform = document.getElementById("gg-patrol-form");
    var where = document.getElementById("gg-where");
    document.getElementById("gg-locate").addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        pform.lon.value = pos.coords.longitude.toFixed(6); pform.lat.value = pos.coords.latitude.toFixed(6);
        where.textContent = T.located + " " + pform.lat.value + ", " + pform.lon.value;
        pform.querySelector("button[type=submit]").disabled = false;
      }, function (e) { where.textContent = e.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
    pform.addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/console/api/patrol", { category: pform.category.value, description: pform.description.value,
        lon: Number(pform.lon.value), lat: Number(pform.lat.value) }).then(function (c) {
        where.textContent = T.done + " #" + c.id; pform.description.value = ""; load();
      }).catch(function (e) { where.textContent = e.message; });
    });
    document.getElementById("gg-level").addEventListener("change", load);
    load();
    poll(load);
  }

  fillSelects();
  if (document.body.classList.contains("gg-dispatch")) dispatcher();
  else if (document.body.classList.contains("gg-phone")) worker();
  else document.body.setAttribute("data-gridgis-ready", "1");
})();
