"""The shared page builder: offline assets, base maps, errors, atomic export (no browser needed)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import folium
import pytest
from folium.plugins import Fullscreen

from gridgis.errors import InputError
from gridgis.maps import ASSET_URL, new_map, render_page, write_page
from gridgis.maps.page import ASSET_DIR, ASSET_ORDER

BOUNDS = (112.90, 22.70, 112.98, 22.72)


class Links(HTMLParser):
    """URLs the browser would fetch on its own: script src, stylesheet/icon href, img src."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def fetched_urls(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


def test_default_page_fetches_nothing_and_inlines_leaflet():
    html = render_page(new_map(BOUNDS))
    assert fetched_urls(html) == []
    leaflet = (ASSET_DIR / "leaflet.js").read_text(encoding="utf-8")
    assert leaflet[:200] in html
    for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "bootstrapcdn", "openstreetmap"):
        assert cdn not in html


def test_served_page_links_local_assets_only():
    html = render_page(new_map(BOUNDS), asset_url=ASSET_URL)
    urls = fetched_urls(html)
    assert urls == [ASSET_URL + n for n in ("leaflet.css", "gridgis-maps.css", "leaflet.js", "gridgis-maps.js")]
    assert all(urlsplit(u).netloc == "" for u in urls)


def test_every_vendored_asset_exists_and_has_no_external_reference():
    for name in ASSET_ORDER:
        body = (ASSET_DIR / name).read_text(encoding="utf-8")
        assert "sourceMappingURL" not in body
        if name.endswith(".css"):
            # images are inlined as data: URIs, so CSS never fetches a file
            assert "url(images" not in body


def test_an_unvendored_plugin_is_refused():
    m = new_map(BOUNDS)
    Fullscreen().add_to(m)
    with pytest.raises(RuntimeError, match="not in"):
        render_page(m)


@pytest.mark.parametrize(
    ("basemap", "expected"),
    [("osm", "tile.openstreetmap.org"), ("amap", "autonavi.com"), ("tianditu", "tianditu.gov.cn")],
)
def test_base_maps_add_their_tiles(basemap, expected):
    html = render_page(new_map(BOUNDS, basemap=basemap, tianditu_key="K123"))
    assert expected in html
    assert fetched_urls(html) == []  # tiles are requested by Leaflet, not by the page itself


def test_tianditu_labels_follow_the_language():
    zh = render_page(new_map(BOUNDS, basemap="tianditu", tianditu_key="K123"))
    en = render_page(new_map(BOUNDS, basemap="tianditu", tianditu_key="K123", lang="en"))
    assert "tk=K123" in zh
    assert "LAYER=cva" in zh and "LAYER=eva" not in zh
    assert "LAYER=eva" in en


def test_unknown_base_map_lists_the_allowed_ones():
    with pytest.raises(InputError) as err:
        new_map(BOUNDS, basemap="google")
    assert "'google'" in str(err.value)
    for name in ("none", "osm", "tianditu", "amap"):
        assert name in err.value.fix


def test_tianditu_without_key_says_how_to_pass_one():
    with pytest.raises(InputError, match="key") as err:
        new_map(BOUNDS, basemap="tianditu")
    assert "--tianditu-key" in err.value.fix


def test_unknown_language_is_refused():
    with pytest.raises(InputError, match="'fr'"):
        new_map(BOUNDS, lang="fr")


def test_write_page_is_atomic(tmp_path):
    target = tmp_path / "maps" / "plan.html"
    write_page("<html>old</html>", target)
    write_page("<html>new</html>", target)
    assert target.read_text(encoding="utf-8") == "<html>new</html>"
    assert [p.name for p in target.parent.iterdir()] == ["plan.html"]


def test_write_page_leaves_nothing_when_it_fails(tmp_path):
    target = tmp_path / "plan.html"
    target.mkdir()  # a directory where the file should go: os.replace fails
    with pytest.raises(OSError):
        write_page("<html></html>", target)
    assert [p.name for p in tmp_path.iterdir()] == ["plan.html"]
    assert list(target.iterdir()) == []


def test_folium_default_map_would_have_used_cdns():
    # Guards the premise of render_page: if folium stops using CDNs this test tells us to simplify.
    assert any("cdn" in url for _, url in folium.Map.default_js)
