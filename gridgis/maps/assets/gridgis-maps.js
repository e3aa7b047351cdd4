/* gridgis map helpers: dot layers, panels, zoom-dependent grid codes, case filters, a "drawn" flag. */
window.gridgisMaps = (function () {
  "use strict";
  function escape(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  // Many points (buildings, shops) drawn into canvas tiles: no Leaflet object per point, so 100k cost little.
  // xy: flat [lon, lat, lon, lat, ...]; group: colour index of each point; colors: CSS colours.
  var DotLayer = L.GridLayer.extend({
    options: {pane: "gridgisDots", radius: 2, maxZoom: 19},

    initialize: function (xy, group, colors, options) {
      L.GridLayer.prototype.initialize.call(this, options);
      this._xy = xy;
      this._group = group;
      this._colors = colors;
      this.count = group.length;
    },

    // Web Mercator pixels at zoom 0, computed when first shown; a tile only scales and shifts them.
    _project: function () {
      var byColor = this._colors.map(function () { return []; });
      for (var i = 0; i < this._group.length; i++) {
        var p = L.CRS.EPSG3857.latLngToPoint(L.latLng(this._xy[2 * i + 1], this._xy[2 * i]), 0);
        byColor[this._group[i]].push(p.x, p.y);
      }
      this._points = byColor.map(function (a) { return Float64Array.from(a); });
    },

    beforeAdd: function (map) {
      if (!this._points) this._project();
      if (!map.getPane(this.options.pane)) {
        var pane = map.createPane(this.options.pane);
        pane.style.zIndex = 450;  // above the grids (overlayPane, 400), below tooltips and popups
        pane.style.pointerEvents = "none";
      }
    },

    createTile: function (coords) {
      var tile = L.DomUtil.create("canvas", "leaflet-tile gridgis-dots");
      var size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      var ctx = tile.getContext("2d");
      var scale = Math.pow(2, coords.z), x0 = coords.x * size.x, y0 = coords.y * size.y;
      var r = coords.z >= 16 ? this.options.radius + 1 : coords.z >= 13 ? this.options.radius : 1;
      for (var c = 0; c < this._colors.length; c++) {
        var pts = this._points[c];
        ctx.fillStyle = this._colors[c];
        ctx.beginPath();
        for (var i = 0; i < pts.length; i += 2) {
          var x = pts[i] * scale - x0, y = pts[i + 1] * scale - y0;
          if (x < -r || y < -r || x > size.x + r || y > size.y + r) continue;
          ctx.moveTo(x + r, y);
          ctx.arc(x, y, r, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
      return tile;
    },
  });

  function dots(xy, group, colors, options) {
    return new DotLayer(xy, group, colors, options);
  }

  function panel(map, html, position, cssClass) {
    var control = L.control({position: position});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "gridgis-panel " + cssClass);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    control.addTo(map);
    return control;
  }

  // rows: [[lat, lon, text], ...], shown from minZoom on.
  function labels(map, rows, minZoom) {
    var group = L.layerGroup(rows.map(function (r) {
      return L.marker([r[0], r[1]], {
        interactive: false, keyboard: false,
        icon: L.divIcon({className: "gridgis-label", html: escape(r[2]), iconSize: null}),
      });
    }));
    function update() {
      if (map.getZoom() >= minZoom) map.addLayer(group); else map.removeLayer(group);
    }
    map.on("zoomend", update);
    update();
    return group;
  }

  // Cases: rows [lat, lon, id, category, status, time, grid, description]; statuses {status: [label, colour]}.
  function cases(map, cluster, heat, rows, statuses, categories, text) {
    var markers = rows.map(function (r) {
      var s = statuses[r[4]] || [r[4], "#777777"];
      var marker = L.circleMarker([r[0], r[1]], {
        radius: 7, color: "#ffffff", weight: 1.5, fillColor: s[1], fillOpacity: 0.95, className: "gridgis-case",
      });
      marker.bindPopup(
        "<b>" + escape(text.case) + " " + escape(r[2]) + "</b><br>" +
        escape(text.category) + ": " + escape(categories[r[3]] || r[3]) + "<br>" +
        escape(text.status) + ": " + escape(s[0]) + "<br>" +
        escape(text.reported_at) + ": " + escape(r[5].replace("T", " ").slice(0, 16)) + "<br>" +
        escape(text.grid) + ": " + escape(r[6] || text.none) +
        (r[7] ? "<br>" + escape(text.description) + ": " + escape(r[7]) : ""));
      return marker;
    });
    var box = panel(map, "", "topright", "gridgis-filters").getContainer();
    var options = '<option value="">' + escape(text.all) + "</option>" + Object.keys(categories).map(function (c) {
      return '<option value="' + escape(c) + '">' + escape(categories[c]) + "</option>";
    }).join("");
    box.innerHTML =
      "<label>" + escape(text.category) + ' <select name="category">' + options + "</select></label>" +
      "<label>" + escape(text.from) + ' <input type="date" name="from"></label>' +
      "<label>" + escape(text.to) + ' <input type="date" name="to"></label>' +
      '<div class="gridgis-count"><b class="gridgis-shown">0</b> / ' + rows.length + "</div>";
    function apply() {
      var cat = box.querySelector("[name=category]").value;
      var from = box.querySelector("[name=from]").value;
      var to = box.querySelector("[name=to]").value;
      var shown = [], points = [];
      rows.forEach(function (r, i) {
        var day = r[5].slice(0, 10);
        if ((cat && r[3] !== cat) || (from && day < from) || (to && day > to)) return;
        shown.push(markers[i]);
        points.push([r[0], r[1]]);
      });
      cluster.clearLayers();
      cluster.addLayers(shown);
      heat.setLatLngs(points);
      box.querySelector(".gridgis-shown").textContent = shown.length;
    }
    box.addEventListener("change", apply);
    apply();
    return {markers: markers, apply: apply};
  }

  // Marks the page drawn once Leaflet has laid out the layers and the browser painted a frame.
  function ready(map) {
    map.whenReady(function () {
      requestAnimationFrame(function () {
        window.gridgisDrawnAt = performance.now();
        document.body.setAttribute("data-gridgis-ready", "1");
      });
    });
  }

  return {escape: escape, DotLayer: DotLayer, dots: dots, panel: panel, labels: labels, cases: cases, ready: ready};
})();
