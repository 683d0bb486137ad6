"""Places a question names that the documents do not: the asker's own street, park or housing
estate (天山路, 新华路这边, 仙霞新村). The plan names the streets and parks its targets cover where it
names any (江苏路, 中山公园); of any other, it says nothing in particular."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["named_places"]

# What ends a place's name as jieba leaves it, one word with it (天山路, 中山公园); 路口 and 路上 are
# the road's.
_SUFFIXES = {
    "路口": "路",
    "路上": "路",
    "路": "路",
    "街": "街",
    "公园": "公园",
    "新村": "新村",
    "花园": "花园",
}
# The suffixes that may also stand as a word of their own after the name (仙霞 新村, 娄山关 路);
# 公园 and 路上 do not, since 商场 公园 and 上班 路上 name no place.
_APART = {"路": "路", "路口": "路", "新村": "新村"}
# Words that come before a suffix without naming a place: 那条路, 社区公园, 学校路口.
_GENERIC = frozenset(
    "这条 那条 哪条 一条 整条 每条 这段 那段 这个 那个 哪个 这些 那些 每个 所有 全部 附近 周边 旁边 门口 家门口 "
    "楼下 隔壁 我们 我家 你们 他们 社区 城市 新建 现有 街心 小区 大型 小型 主干 次干 支路 沿街 商业 步行 林荫 "
    "景观 口袋 郊野 什么 学校 医院 商场 超市 菜场 菜市场 市场 地铁站 车站 公交站 银行 公司 单位 工地 幼儿园 "
    "广场 上班 下班 回家 放学 上学 出门 十字 丁字 三岔".split()
)
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def named_places(words: Sequence[str], documents: str) -> tuple[str, ...]:
    """The places ``words`` (a question cut into words) name that ``documents`` never mention."""
    out: list[str] = []
    for i, word in enumerate(words):
        name = None
        for suffix, kind in _SUFFIXES.items():
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 2 and stem not in _GENERIC and _HAN.fullmatch(stem):
                name = stem + kind
                break
        if name is None and i + 1 < len(words) and words[i + 1] in _APART:
            if len(word) >= 2 and word not in _GENERIC and _HAN.fullmatch(word):
                name = word + _APART[words[i + 1]]
        if name is not None and name not in documents and name not in out:
            out.append(name)
    return tuple(out)
