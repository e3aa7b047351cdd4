"""``gridgis map``: export the plan, compare and cases maps as self-contained (offline) HTML files."""

from __future__ import annotations

import click

from gridgis.cli.options import db_opt, input_options, output_opt

lang_opt = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of the map's labels."
)
basemap_opt = click.option(
    "--basemap",
    default="none",
    show_default=True,
    help="Base map: none (offline), osm, tianditu (needs --tianditu-key) or amap (overlays shifted to GCJ-02).",
)
key_opt = click.option("--tianditu-key", envvar="GRIDGIS_TIANDITU_KEY", default=None, help="Tianditu (天地图) key.")


def _read_plan(path: str, crs: str | None = None, encoding: str | None = None) -> dict:
    from gridgis.io import read_layers
    from gridgis.io.formats import check_geopackage

    return read_layers(check_geopackage(path, "a plan"), crs=crs, encoding=encoding)


@click.group(name="map")
def cli() -> None:
    """Maps for planners and dispatchers (HTML files that work without internet)."""


@cli.command("plan")
@click.argument("plan", type=click.Path(dir_okay=False))
@output_opt
@lang_opt
@basemap_opt
@key_opt
@input_options(plan=True)
def plan_cmd(
    plan: str, output: str, lang: str, basemap: str, tianditu_key: str | None, crs: str | None, encoding: str | None
) -> None:
    """Map of a plan GeoPackage: grids by load deviation, borders, buildings, shops, roads, rivers."""
    from gridgis.maps import check_basemap, plan_map, render_page, write_page

    check_basemap(basemap, tianditu_key)
    m = plan_map(_read_plan(plan, crs, encoding), lang=lang, basemap=basemap, tianditu_key=tianditu_key, source=plan)
    path = write_page(render_page(m), output)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@cli.command("compare")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@output_opt
@lang_opt
@basemap_opt
@key_opt
@input_options(plan=True)
def compare_cmd(
    old: str,
    new: str,
    output: str,
    lang: str,
    basemap: str,
    tianditu_key: str | None,
    crs: str | None,
    encoding: str | None,
) -> None:
    """Map of two plans: new grids, old grid outlines, buildings that change grid, a per-community table."""
    from gridgis.maps import check_basemap, compare_map, render_page, write_page

    check_basemap(basemap, tianditu_key)
    m = compare_map(
        _read_plan(old, crs, encoding),
        _read_plan(new, crs, encoding),
        lang=lang,
        basemap=basemap,
        tianditu_key=tianditu_key,
        sources=(old, new),
    )
    path = write_page(render_page(m), output)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@cli.command("cases")
@db_opt
@output_opt
@click.option("--plan", "plan", default=None, help="Plan whose grids are drawn (default: the published one).")
@lang_opt
@basemap_opt
@key_opt
def cases_cmd(db: str | None, output: str, plan: str | None, lang: str, basemap: str, tianditu_key: str | None) -> None:
    """Map of the cases in the store: coloured by status, clustered, a heat layer, filters by category and time."""
    from gridgis.maps import cases_map, check_basemap, render_page, write_page
    from gridgis.maps.cases import load_cases
    from gridgis.store import open_store

    check_basemap(basemap, tianditu_key)
    store = open_store(db)
    try:
        cases, grids = load_cases(store, plan)
    finally:
        store.close()
    m = cases_map(cases, grids, lang=lang, basemap=basemap, tianditu_key=tianditu_key)
    path = write_page(render_page(m), output)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
