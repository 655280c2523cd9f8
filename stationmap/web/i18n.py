"""Every user-visible string of the web page, in Chinese and English, and the worker-group filter presets."""

from __future__ import annotations

from collections.abc import Mapping

from stationmap.schema import (
    AMENITIES,
    COMPLAINT_LINE,
    DEMO_NOTICE,
    HONOUR_LEVELS,
    HOST_TYPES,
    KINDS,
    SERVED_GROUPS,
    TOILET,
)

__all__ = ["LANGS", "PRESETS", "UI", "best_lang", "client_strings", "text"]

LANGS = ("zh", "en")

#: Page strings: key -> (zh, en).
UI: dict[str, tuple[str, str]] = {
    "title": ("工会户外劳动者服务站点地图", "Outdoor worker service stations"),
    "short_title": ("户外劳动者驿站", "Worker stations"),
    "lang_switch": ("English", "中文"),
    "lang_switch_label": ("切换到英文", "Switch to Chinese"),
    "locate": ("定位我", "Find me"),
    "locate_label": ("用浏览器定位我的位置", "Use my location from the browser"),
    "locating": ("正在定位…", "Finding you…"),
    "locate_failed": ("无法定位：{reason}。请在地图上点选您的位置。",
                      "Could not find you: {reason}. Tap the map to set your position."),
    "locate_unsupported": ("此浏览器不支持定位", "this browser cannot share its location"),
    "locate_https": ("手机浏览器只在 HTTPS 网页上提供定位", "phones only share location with HTTPS pages"),
    "tap_hint": ("点击地图设定位置，或搜索站点名称和地址。",
                 "Tap the map to set your position, or search station names and addresses."),
    "search": ("搜索站点", "Search stations"),
    "search_placeholder": ("站点名称或地址", "Station name or address"),
    "search_go": ("搜索", "Search"),
    "search_none": ("没有找到匹配的站点。", "No station matches."),
    "search_results": ("搜索结果", "Search results"),
    "filters": ("筛选", "Filters"),
    "preset": ("我是", "I am a"),
    "preset_none": ("不限", "Anyone"),
    "amenities": ("设施", "Amenities"),
    "open_filter": ("开放时间", "Opening"),
    "open_any": ("不限", "Any time"),
    "open_now": ("现在开放", "Open now"),
    "open_at": ("在此时开放", "Open at"),
    "open_at_time": ("时间", "Time"),
    "min_stars": ("最低星级", "Minimum stars"),
    "stars_any": ("不限", "Any"),
    "toilet_filter": ("厕所", "Toilet"),
    "toilet_any": ("不限", "Any"),
    "toilet_onsite_nearby": ("站内或附近", "On site or nearby"),
    "toilet_onsite_only": ("站内", "On site"),
    "apply": ("应用", "Apply"),
    "reset": ("清除筛选", "Clear filters"),
    "nearby": ("离我最近", "Nearest to me"),
    "nearby_empty": ("设定位置后，这里会列出最近的站点。", "Set your position to list the nearest stations."),
    "nearby_none": ("附近没有符合条件的站点。", "No station matches these filters."),
    "loading": ("加载中…", "Loading…"),
    "load_failed": ("加载失败：", "Could not load: "),
    "distance_m": ("{n} 米", "{n} m"),
    "distance_km": ("{n} 公里", "{n} km"),
    "walk_min": ("步行约 {n} 分钟", "about {n} min walk"),
    "your_position": ("您的位置", "Your position"),
    "stations_in_view": ("当前视野内 {n} 个站点", "{n} stations in view"),
    "zoom_in_hint": ("放大地图查看单个站点", "Zoom in to see single stations"),
    "close": ("关闭", "Close"),
    "detail": ("站点详情", "Station details"),
    "address": ("地址", "Address"),
    "hours": ("开放时间", "Opening hours"),
    "state": ("现在", "Now"),
    "stars": ("星级", "Stars"),
    "stars_unrated": ("尚未评星", "Not yet rated"),
    "stars_n": ("{n} 星级", "{n}-star"),
    "honours": ("荣誉", "Honours"),
    "toilet": ("厕所", "Toilet"),
    "phone": ("站点电话", "Station phone"),
    "complaint": ("工会服务热线（投诉、维权）", "Trade-union hotline (complaints, rights)"),
    "last_verified": ("最后核实", "Last verified"),
    "rating": ("星级评定标准", "Star rubric"),
    "reports": ("区县覆盖报告", "District coverage reports"),
    "kind": ("类型", "Type"),
    "host": ("依托单位", "Host"),
    "area_capacity": ("面积 / 座位", "Area / seats"),
    "served_groups": ("服务对象", "Serves"),
    "navigate": ("导航前往", "Navigate"),
    "nav_amap": ("高德地图", "Amap"),
    "nav_baidu": ("百度地图", "Baidu Maps"),
    "nav_geo": ("手机地图应用", "Phone map app"),
    "nav_osm": ("OpenStreetMap", "OpenStreetMap"),
    "most_beautiful": ("最美", "Best"),
    "legend": ("图例", "Legend"),
    "legend_open": ("开放中", "Open now"),
    "legend_closed": ("已关闭", "Closed now"),
    "legend_honour": ("全国最美站点", "National 'best station'"),
    "legend_cluster": ("站点数量", "Number of stations"),
    "demo_notice_title": ("示意数据", "Demo data"),
    "unknown_state": ("开放状态未知", "Status unknown"),
    "skip_to_list": ("跳到站点列表", "Skip to the station list"),
    "map_label": ("站点地图", "Station map"),
    "result_count": ("最近的 {n} 个站点", "{n} nearest stations"),
    "error_generic": ("出错了，请稍后再试。", "Something went wrong; please try again."),
    # the planner page (/planner)
    "planner_title": ("站点规划：覆盖、缺口与选址", "Station planner: coverage, gaps and new sites"),
    "planner_short": ("站点规划", "Station planner"),
    "planner_link": ("规划视图", "Planner"),
    "worker_link": ("站点地图", "Station map"),
    "planner_map_label": ("规划地图", "Planner map"),
    "district": ("区县", "District"),
    "radius": ("服务半径", "Service radius"),
    "radius_option": ("{n} 米", "{n} m"),
    "time_of_day": ("时段", "Time of day"),
    "time_any": ("不限时段", "Any time"),
    "k_sites": ("建议新站点数", "New sites"),
    "layers": ("图层", "Layers"),
    "layer_outline": ("区县边界", "District outline"),
    "layer_service": ("服务范围", "Service areas"),
    "layer_overlap": ("重叠覆盖（≥2 个站点）", "Overlap (≥2 stations)"),
    "layer_gaps": ("覆盖缺口", "Coverage gaps"),
    "layer_stations": ("现有站点", "Existing stations"),
    "layer_sites": ("建议新站点", "Proposed sites"),
    "coverage_figures": ("覆盖情况", "Coverage"),
    "area_covered": ("面积覆盖率", "Area covered"),
    "area_covered_twice": ("重叠覆盖率（≥2 个站点）", "Covered by ≥2 stations"),
    "stations_used": ("计入站点", "Stations counted"),
    "at_time": ("时段", "At"),
    "at_any": ("不限时段", "any time"),
    "district_area": ("区县面积", "District area"),
    "km2": ("{n} 平方公里", "{n} km²"),
    "gaps_title": ("覆盖缺口（按面积）", "Gaps, largest first"),
    "gap_n": ("缺口 {n}", "Gap {n}"),
    "gap_area": ("面积", "Area"),
    "gap_reach": ("距边缘最远", "Reaches in"),
    "nearest_station": ("最近站点", "Nearest station"),
    "slivers": ("另有 {n} 个小于 {a} 平方米的碎片未列出。", "{n} slivers under {a} m² left out."),
    "no_gaps": ("没有超过阈值的缺口。", "No gap above the threshold."),
    "sites_title": ("建议新站点（按新增覆盖排序）", "Proposed sites, by gain"),
    "site_n": ("建议站点 {n}", "Proposed site {n}"),
    "site_gain": ("新增覆盖", "Gain"),
    "site_cumulative": ("累计占缺口", "Cumulative share of the gap"),
    "method_optimal": ("精确解（整数规划，已证明最优）", "Exact (ILP, proven optimal)"),
    "method_ilp": ("整数规划（限时，距上界 {gap}%）", "ILP (time-limited, within {gap}% of the bound)"),
    "method_greedy": ("贪心算法（距上界 {gap}%）", "Greedy (within {gap}% of the bound)"),
    "whatif": ("假设分析", "What if"),
    "whatif_on": ("开始假设分析", "Start what-if"),
    "whatif_off": ("结束假设分析", "End what-if"),
    "whatif_hint": ("点击地图添加假设站点；点击现有站点将其移除；再点一次撤销。",
                    "Tap the map to add a hypothetical station; tap a station to remove it; tap again to undo."),
    "whatif_clear": ("清除假设", "Clear changes"),
    "whatif_counts": ("新增 {a} 个，移除 {r} 个", "{a} added, {r} removed"),
    "before": ("现状", "Now"),
    "after": ("调整后", "After"),
    "difference": ("变化", "Change"),
    "hypothetical": ("假设新站点", "Hypothetical station"),
    "removed_station": ("已移除（假设）", "Removed (hypothetical)"),
    "model_note": ("直线距离；面积在当地 UTM 投影中计算。", "Straight-line distance; areas computed in local UTM."),
    "illustrative_note": ("站点位置为示意。", "Station locations are illustrative."),
    "computing": ("计算中…", "Computing…"),
    "legend_gap": ("缺口（颜色越深面积越大）", "Gap (darker = larger)"),
}

#: Worker-group presets: the filters each group usually needs.
PRESETS: dict[str, dict[str, object]] = {
    "sanitation": {"label": ("环卫工人：厕所、凌晨开放", "Sanitation: toilet, early hours"),
                   "amenities": ["drinking_water"], "toilet": "onsite_nearby", "open": "at", "time": "05:00"},
    "delivery_rider": {"label": ("外卖骑手：换电、电动车充电", "Delivery rider: battery swap, e-bike charging"),
                       "amenities": ["battery_swap", "ebike_charging"], "toilet": "", "open": "now", "time": ""},
    "truck_driver": {"label": ("货车司机：停车、淋浴、洗衣", "Truck driver: parking, shower, laundry"),
                     "amenities": ["parking", "shower", "laundry"], "toilet": "", "open": "", "time": ""},
}


def text(key: str, lang: str) -> str:
    """Return the UI string `key` in `lang` (``zh`` or ``en``)."""
    zh, en = UI[key]
    return en if lang == "en" else zh


def best_lang(requested: str | None, accept_language: Mapping[str, float] | list[tuple[str, float]]) -> str:
    """
    Choose the page language: an explicit ``?lang=`` wins, then the browser's preference, then Chinese.

    Parameters
    ----------
    requested
        The ``lang`` query parameter, if any.
    accept_language
        ``(language tag, quality)`` pairs from the ``Accept-Language`` header, best first.
    """
    if requested in LANGS:
        return requested
    pairs = accept_language.items() if isinstance(accept_language, Mapping) else accept_language
    for tag, _quality in pairs:
        base = str(tag).lower().split("-")[0]
        if base in LANGS:
            return base
    return "zh"


def client_strings() -> dict[str, object]:
    """Return everything the browser script needs to render and switch languages, with zh and en."""
    def both(vocab) -> dict[str, dict[str, str]]:
        return {key: {"zh": vocab.label(key, "zh"), "en": vocab.label(key, "en")} for key in vocab.keys}

    return {
        "ui": {key: {"zh": zh, "en": en} for key, (zh, en) in UI.items()},
        "amenities": both(AMENITIES),
        "toilet": both(TOILET),
        "kinds": both(KINDS),
        "host_types": both(HOST_TYPES),
        "honour_levels": both(HONOUR_LEVELS),
        "served_groups": both(SERVED_GROUPS),
        "presets": {key: {"label": {"zh": p["label"][0], "en": p["label"][1]},  # type: ignore[index]
                          **{k: v for k, v in p.items() if k != "label"}} for key, p in PRESETS.items()},
        "demo_notice": dict(DEMO_NOTICE),
        "complaint_line": COMPLAINT_LINE,
    }
