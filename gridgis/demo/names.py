"""Plausible Cantonese place names for the synthetic communities and shops.

The names are made up from syllables common in Pearl River Delta place names
(塘, 坑, 岗, 围, 田...); only the town names of the demo are real.
"""

from __future__ import annotations

import numpy as np

_FIRST = list("大小新旧东南西北上下中前后沙龙凤石水禾云鹤福和平安宁乐兴隆昌华富丰盛泰祥瑞源林莲竹桂梅松茶良")
_SECOND = list("塘坑岗围田湾冈边头口坪洞湖山桥江谷岭埇朗圳村岸洲基滘墩坳陂岚涌寮社")
SHOP_KINDS = ("grocery", "restaurant", "tea_house", "pharmacy", "hardware", "hair_salon", "clinic", "bank")
_SHOP_SUFFIX = {
    "grocery": "士多",
    "restaurant": "饭店",
    "tea_house": "茶楼",
    "pharmacy": "药房",
    "hardware": "五金店",
    "hair_salon": "发廊",
    "clinic": "诊所",
    "bank": "储蓄所",
}


def place_names(count: int, rng: np.random.Generator, *, taken: set[str] | None = None) -> list[str]:
    """``count`` distinct two-character names, none of them in ``taken``."""
    pairs = np.array([a + b for a in _FIRST for b in _SECOND if a != b], dtype=object)
    taken = taken or set()
    pool = [p for p in pairs[rng.permutation(len(pairs))] if p not in taken]
    if count > len(pool):
        raise ValueError(f"only {len(pool)} names available, {count} asked")
    return pool[:count]


def shop_names(kinds: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Shop names such as '新塘士多': the place name followed by the kind's usual suffix."""
    suffix = np.vectorize(_SHOP_SUFFIX.__getitem__, otypes=[object])(kinds)
    return np.char.add(places.astype(str), suffix.astype(str)).astype(object)
