/* gridgis vector tiles on Leaflet maps: the plan layers drawn from the service's OGC API - Tiles
   (/ogc/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}, Mapbox Vector Tiles) with Leaflet.VectorGrid,
   for plans too large to send to the browser as GeoJSON. Needs leaflet.js and leaflet-vectorgrid.js first. */
window.gridgisTiles = (function () {
  "use strict";
  // Leaflet 1.8 dropped L.DomEvent.fakeStop, which VectorGrid 1.3 calls when a feature is clicked;
  // marking the event stopped is what Leaflet 1.9 itself does (the map then ignores the click)
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = function (e) { e._stopped = true; };

  var TMS = "WebMercatorQuad";

  function url(collection, plan) {
    return "/ogc/collections/" + collection + "/tiles/" + TMS + "/{z}/{y}/{x}" +
      (plan ? "?plan=" + encodeURIComponent(plan) : "");
  }

  /* One collection's tiles as a Leaflet layer. o: {plan, style (path options, or function(properties, zoom)),
     minZoom (the tileset's minTileMatrix), bounds [[south, west], [north, east]] (no requests outside),
     interactive, idField, pane} */
  function layer(collection, o) {
    var styles = {};
    styles[collection] = o.style;
    return L.vectorGrid.protobuf(url(collection, o.plan), {
      vectorTileLayerStyles: styles,
      rendererFactory: L.canvas.tile,
      interactive: !!o.interactive,
      getFeatureId: o.idField ? function (f) { return f.properties[o.idField]; } : undefined,
      minZoom: o.minZoom || 0,
      maxNativeZoom: 18,
      bounds: o.bounds ? L.latLngBounds(o.bounds) : undefined,
      fetchOptions: { credentials: "same-origin" },
      pane: o.pane || "overlayPane"
    });
  }

  /* Once every layer drew its first view: body[data-gridgis-tiles-drawn] and gridgisTiles.firstView (ms since
     navigation start), which the browser tests and the benchmark read. */
  function drawn(layers) {
    var left = layers.length;
    layers.forEach(function (l) {
      l.once("load", function () {
        left -= 1;
        if (left === 0) {
          api.firstView = performance.now();
          document.body.setAttribute("data-gridgis-tiles-drawn", "1");
        }
      });
    });
  }

  function hex(c) { return [1, 3, 5].map(function (i) { return parseInt(c.slice(i, i + 2), 16); }); }
  function mix(a, b, t) {
    var x = hex(a), y = hex(b);
    return "rgb(" + [0, 1, 2].map(function (i) { return Math.round(x[i] + (y[i] - x[i]) * t); }).join(",") + ")";
  }
  /* The colour of a deviation on the diverging scale of the plan map (colors spread evenly over -span..span). */
  function scale(dev, span, colors) {
    var t = Math.max(0, Math.min(1, (dev + span) / (2 * span))) * (colors.length - 1);
    var i = Math.min(colors.length - 2, Math.floor(t));
    return mix(colors[i], colors[i + 1], t - i);
  }

  function escape(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* The plan map from tiles. o: {plan, bounds, minZooms {collection: z}, mean (county mean load per basic grid),
     span, colors, noTarget, dedicated (colour), words {grids, communities, towns, buildings, grid_name,
     grid_code, households, population, load, county_deviation}} */
  function plan(map, o) {
    function fill(p) {
      if (p.kind === "dedicated" || p.target === undefined || p.load === undefined || !(o.mean > 0)) return o.noTarget;
      return scale(p.load / o.mean - 1, o.span, o.colors);
    }
    var W = o.words;
    // the page's own fit is an animated zoom that starts on the next frame: the layers would first fetch every
    // tile of the starting zoom. Fitted at once here, they ask only for the tiles of the view.
    map.fitBounds(o.bounds, { animate: false });
    var grids = layer("grids", {
      plan: o.plan, minZoom: o.minZooms.grids, bounds: o.bounds, interactive: true, idField: "grid_id",
      style: function (p) {
        var dedicated = p.kind === "dedicated";
        return { fill: true, fillColor: fill(p), fillOpacity: 0.7, color: dedicated ? o.dedicated : "#555",
          weight: dedicated ? 3 : 0.7, dashArray: dedicated ? "6 4" : null };
      }
    });
    grids.on("click", function (e) {
      var p = e.layer.properties, rows = [[W.grid_name, p.name], [W.grid_code, p.grid_code || p.grid_id],
        [W.households, p.households], [W.population, p.population], [W.load, p.load]];
      if (p.load !== undefined && o.mean > 0 && p.kind !== "dedicated") {
        rows.push([W.county_deviation, ((p.load / o.mean - 1) * 100).toFixed(1) + "%"]);
      }
      L.popup().setLatLng(e.latlng).setContent("<table>" + rows.filter(function (r) { return r[1] !== undefined; })
        .map(function (r) { return "<tr><th>" + escape(r[0]) + "</th><td>" + escape(r[1]) + "</td></tr>"; }).join("") +
        "</table>").openOn(map);
    });
    var communities = layer("communities", { plan: o.plan, minZoom: o.minZooms.communities, bounds: o.bounds,
      style: { fill: false, color: "#333333", weight: 2 } });
    var towns = layer("towns", { plan: o.plan, minZoom: o.minZooms.towns, bounds: o.bounds,
      style: { fill: false, color: "#000000", weight: 3.5 } });
    var buildings = layer("buildings", { plan: o.plan, minZoom: o.minZooms.buildings, bounds: o.bounds,
      style: { fill: true, fillColor: "#444444", fillOpacity: 0.55, color: "#222222", weight: 0.5 } });
    var overlays = {};
    overlays[W.grids] = grids;
    if (o.present.communities) overlays[W.communities] = communities;
    if (o.present.towns) overlays[W.towns] = towns;
    if (o.present.buildings) overlays[W.buildings + " (≥ z" + o.minZooms.buildings + ")"] = buildings;
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
    var shown = [grids];
    grids.addTo(map);
    if (o.present.communities) { communities.addTo(map); shown.push(communities); }
    if (o.present.towns) { towns.addTo(map); shown.push(towns); }
    drawn(shown);
    return { grids: grids, communities: communities, towns: towns, buildings: buildings };
  }

  /* Grid outlines for the dispatcher's map. o: {plan, bounds, minZoom} */
  function outlines(map, o) {
    map.fitBounds(o.bounds, { animate: false });  // before the layer asks for tiles
    var grids = layer("grids", { plan: o.plan, minZoom: o.minZoom, bounds: o.bounds,
      style: { fill: false, color: "#5b6b7d", weight: 1 } });
    grids.addTo(map);
    drawn([grids]);
    return grids;
  }

  /* The workbench's buildings of a large plan: all of them from tiles (from the buildings' tileset zoom), and
     load(bbox) called for the view from o.editZoom on, to fetch the ones to select and move as GeoJSON. */
  function viewBuildings(map, o, load) {
    var tiles = layer("buildings", { plan: o.plan, minZoom: o.minZooms.buildings, bounds: o.bounds,
      style: { fill: true, fillColor: "#666666", fillOpacity: 0.35, color: "#333333", weight: 0.5 } });
    tiles.addTo(map);
    function update() {
      if (map.getZoom() >= o.editZoom) load(map.getBounds().toBBoxString()).catch(function () {});
    }
    map.on("moveend", update);
    update();
    return tiles;
  }

  var api = { url: url, layer: layer, drawn: drawn, plan: plan, outlines: outlines, viewBuildings: viewBuildings, scale: scale, firstView: null };
  return api;
})();
