"""The compare map: a new plan over the old one, buildings that change grid, a per-community table."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis import lineage
from gridgis.maps.labels import text
from gridgis.maps.layers import (
    MISSING,
    DotLayer,
    border_layer,
    building_points,
    check_plan,
    code_labels,
    grid_map,
    legend_html,
    relative_deviation,
)
from gridgis.maps.page import Panel, Script, check_basemap, in_gcj02

MOVED_COLOR = "#e31a1c"
KEPT_COLOR = "#7f7f7f"
OLD_GRID_COLOR = "#000000"


def moved_buildings(
    old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, new_grids: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """Buildings in both plans (matched by ``building_id``) with ``old_grid``, ``new_grid`` and ``moved``.

    A building moves when its new grid does not continue its old one, through the lineage of
    :func:`gridgis.lineage.continues` (``new_grids``' ``previous_grid_id``; without it, a grid continues the
    grid of the same id), so the count equals the ``keep`` figure of ``gridgis partition --keep``.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> old = gpd.GeoDataFrame({"building_id": [1, 2], "grid_id": ["a", "a"]}, geometry=[Point(0, 0)] * 2)
    >>> new = gpd.GeoDataFrame({"building_id": [1, 2], "grid_id": ["a", "b"]}, geometry=[Point(0, 0)] * 2)
    >>> moved_buildings(old, new)["moved"].tolist()
    [False, True]
    """
    pairs = new[["building_id", "grid_id", "geometry"]].merge(
        pd.DataFrame({"building_id": old["building_id"], "old_grid": old["grid_id"]}), on="building_id", how="inner"
    )
    pairs = pairs.rename(columns={"grid_id": "new_grid"})
    if new_grids is None:
        new_grids = pd.DataFrame({"grid_id": pd.unique(new["grid_id"].dropna().astype(str))})
    line = lineage.continues(new_grids, old_ids=pd.unique(old["grid_id"].dropna().astype(str)))
    pairs["moved"] = lineage.moved(pairs["old_grid"], pairs["new_grid"], line)
    return gpd.GeoDataFrame(pairs, geometry="geometry", crs=new.crs)


def community_table(
    old_grids: gpd.GeoDataFrame,
    new_grids: gpd.GeoDataFrame,
    moves: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame | None,
    labels: Mapping[str, str],
) -> pd.DataFrame:
    """Per community: old and new grid counts, worst |load deviation| of each plan, buildings moved (by new grid)."""

    def per_plan(grids: gpd.GeoDataFrame) -> pd.DataFrame:
        frame = pd.DataFrame({"community_id": grids["community_id"], "dev": np.abs(relative_deviation(grids))})
        return frame.groupby("community_id").agg(count=("dev", "size"), worst=("dev", "max"))

    old, new = per_plan(old_grids), per_plan(new_grids)
    table = old.add_suffix("_old").join(new.add_suffix("_new"), how="outer")
    if moves is not None:
        community_of = dict(zip(new_grids["grid_id"], new_grids["community_id"], strict=True))
        moved = moves.loc[moves["moved"], "new_grid"].map(community_of).value_counts()
        table["moved"] = moved.reindex(table.index).fillna(0).astype(int)
    names = {}
    if communities is not None and "name" in communities.columns:
        names = dict(zip(communities["community_id"], communities["name"], strict=True))
    total = pd.DataFrame(
        {
            "count_old": [table["count_old"].sum()],
            "count_new": [table["count_new"].sum()],
            "worst_old": [table["worst_old"].max()],
            "worst_new": [table["worst_new"].max()],
            **({"moved": [table["moved"].sum()]} if "moved" in table else {}),
        },
        index=[labels["total"]],
    )
    table.index = [names.get(c, c) for c in table.index]
    table = pd.concat([table, total])
    out = pd.DataFrame(index=table.index)
    out[labels["old_count"]] = [MISSING if pd.isna(v) else f"{int(v)}" for v in table["count_old"]]
    out[labels["new_count"]] = [MISSING if pd.isna(v) else f"{int(v)}" for v in table["count_new"]]
    out[labels["old_balance"]] = [MISSING if pd.isna(v) else f"{v:.0%}" for v in table["worst_old"]]
    out[labels["new_balance"]] = [MISSING if pd.isna(v) else f"{v:.0%}" for v in table["worst_new"]]
    if "moved" in table:
        out[labels["moved"]] = [f"{int(v):,}" for v in table["moved"]]
    out.index.name = labels["community"]
    return out


def compare_map(
    old: Mapping[str, gpd.GeoDataFrame],
    new: Mapping[str, gpd.GeoDataFrame],
    *,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = None,
    sources: tuple[str | None, str | None] = (None, None),
) -> folium.Map:
    """The map planners compare two plans on.

    The new plan's grids are filled by load deviation (as on the plan map),
    the old grids are drawn as outlines over them, buildings that change grid
    are red dots (those that keep it: a grey layer to switch on), and a table
    lists per community the old and new grid counts, the worst load deviation
    of each plan and the buildings moved.

    Parameters
    ----------
    old, new
        Two plans, as for :func:`gridgis.maps.plan_map`.
    lang, basemap, tianditu_key, title
        As for :func:`gridgis.maps.plan_map`.
    sources
        The files the plans came from, quoted in errors.

    Returns
    -------
    folium.Map

    Examples
    --------
    With two plans' layers (tests/maps runs it)::

        html = render_page(compare_map(old_layers, new_layers))
    """
    labels = text(lang)
    check_basemap(basemap, tianditu_key)
    old_grids = check_plan(old, source=sources[0])
    new_grids = check_plan(new, source=sources[1])
    gcj02 = in_gcj02(basemap)

    m, scale, geometry = grid_map(
        new_grids,
        labels,
        name=labels["new_grids"],
        title=title or labels["compare_title"],
        basemap=basemap,
        tianditu_key=tianditu_key,
        lang=lang,
    )
    communities = new.get("communities", old.get("communities"))
    if communities is not None and not communities.empty:
        border_layer(
            communities,
            name=labels["communities"],
            gcj02=gcj02,
            color="#333333",
            weight=2,
            css_class="gridgis-communities",
        ).add_to(m)
    border_layer(
        old_grids, name=labels["old_grids"], gcj02=gcj02, color=OLD_GRID_COLOR, weight=1.5, css_class="gridgis-old-grid"
    ).add_to(m)
    moves = None
    if all(p.get("buildings") is not None and not p["buildings"].empty for p in (old, new)):
        moves = moved_buildings(old["buildings"], new["buildings"], new_grids)
        points = building_points(moves, gcj02=gcj02)
        moved = moves["moved"].to_numpy()
        for mask, key, color, show in (
            (moved, "moved_buildings", MOVED_COLOR, True),
            (~moved, "kept_buildings", KEPT_COLOR, False),
        ):
            if mask.any():
                layer = DotLayer(points[mask], np.zeros(int(mask.sum()), int), [color], name=labels[key], show=show)
                layer.add_to(m)
    code_labels(new_grids, geometry).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    table = community_table(old_grids, new_grids, moves, communities, labels)
    table_html = table.reset_index().to_html(border=0, index=False)
    details = f"<details><summary>{labels['table']}</summary>{table_html}</details>"
    Panel(details, position="bottomleft", css_class="gridgis-table").add_to(m)
    n_moved = "" if moves is None else f": <b>{int(moves['moved'].sum()):,}</b>"
    extra = (
        f'<div><i class="gridgis-swatch" style="border: 1.5px solid {OLD_GRID_COLOR}"></i>{labels["old_grids"]}</div>'
        f'<div><i class="gridgis-dot" style="background: {MOVED_COLOR}"></i>{labels["moved_buildings"]}{n_moved}</div>'
        f'<div class="gridgis-count">{labels["new_grids"]}: <b>{len(new_grids)}</b> · '
        f"{labels['old_grids']}: <b>{len(old_grids)}</b></div>"
    )
    Panel(legend_html(scale, labels, extra=extra)).add_to(m)
    Script("ready").add_to(m)
    return m
