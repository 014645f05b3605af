"""windows.poolleak: dumpscan's leak report as a grid: suspects with their evidence, then the
top tags; the call sites holding each one's outstanding allocations as child rows.

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.poolleak
    vol ... windows.poolleak --suspects -r json
    vol ... windows.poolleak --tags 'Lea*' --sort paged --top 5
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.leaks import (Thresholds, analyze as analyze_leaks, call_sites, display_tag,
                                     driver_summaries)
from dumpscan.report.select import SORTS, owner_names, select_leaks, tag_rows

from . import dumpscan_common as common

DEFAULT_TOP = 20


class PoolLeak(interfaces.plugins.PluginInterface):
    """Pool leak suspects with their evidence, then the top tags; call sites as child rows.

    Parent rows, ranked: every suspect (a tag or a verified driver that a rule flags:
    few frees, one call site, a dominating driver, unloaded with allocations, big pool
    dominated, PoolHitTag), most severe first, with its rules and evidence; then (unless
    --suspects) the tags with the most outstanding bytes that are not suspects (Severity
    'none'). Child rows: the call sites (Driver Verifier tracking) holding the subject's
    outstanding allocations, with the newest allocation's stack from the trace log.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            common.kernel_requirement(),
            *common.filter_requirements(sorts=("severity",) + SORTS, default_sort="severity",
                                        top=DEFAULT_TOP),
            requirements.BooleanRequirement(
                name="suspects", optional=True, default=False,
                description="Only the suspects (not the other top tags)"),
            requirements.ListRequirement(
                name="threshold", element_type=str, optional=True, default=None,
                description="Suspect thresholds as KEY=VALUE (min_bytes=1048576 min_outstanding=4 "
                            "max_free_ratio=0.1 call_site_share=0.8 driver_share=0.5 ...)"),
            common.pooltag_requirement(),
        ]

    def _thresholds(self) -> Thresholds:
        values = {}
        for item in common.patterns(self.config.get("threshold")) or []:
            if "=" not in item:
                raise ValueError(f"{item!r}: expected KEY=VALUE")
            key, value = item.split("=", 1)
            values[key.strip()] = value.strip()
        return Thresholds.from_mapping(values)

    def _generator(self, thresholds: Thresholds):
        report = common.analyze(self)
        leaks = analyze_leaks(report, thresholds)
        for warning in leaks.get("warnings") or []:
            common.vollog.warning("%s", warning)
        sort = common.option(self, "sort", "severity")
        top = common.option(self, "top", DEFAULT_TOP)
        chosen = select_leaks(report, leaks, tags=common.patterns(self.config.get("tags")),
                              drivers=common.patterns(self.config.get("driver")),
                              min_bytes=common.option(self, "min-bytes", 0),
                              sort="total" if sort == "severity" else sort, top=None)
        tags = {r["tag"]: r for r in tag_rows(report)}
        drivers = {d["name"]: d for d in driver_summaries(report, top=None)}

        subjects = []
        for suspect in chosen["suspects"]:
            subjects.append(self._suspect(suspect, tags, drivers))
        flagged = {s["name"] for s in chosen["suspects"] if s.get("kind") == "tag"}
        if not self.config.get("suspects"):
            for row in chosen["tags"]:
                if row["tag"] in flagged:
                    continue
                subjects.append({
                    "severity": "none", "kind": "tag", "name": row["tag"], "bytes": row["bytes"],
                    "count": row["outstanding"], "nonpaged": row["nonpaged_bytes"],
                    "paged": row["paged_bytes"], "drivers": owner_names(row.get("drivers")),
                    "caller": None, "caller_symbol": None, "rules": [],
                    "evidence": [f"{row['allocs']} allocations, {row['frees']} frees: "
                                 f"{row['outstanding']} outstanding"]})
        if sort != "severity":
            key = {"total": lambda s: -s["bytes"], "allocs": lambda s: -s["count"],
                   "nonpaged": lambda s: -(s["nonpaged"] or 0), "paged": lambda s: -(s["paged"] or 0),
                   "tag": lambda s: s["name"]}[sort]
            subjects.sort(key=lambda s: (key(s), s["kind"], s["name"]))
        if top is not None:
            subjects = subjects[:top]

        for rank, subject in enumerate(subjects, 1):
            name = display_tag(subject["name"]) if subject["kind"] == "tag" else subject["name"]
            sites = self._sites(report, subject)
            caller, symbol = subject["caller"], subject["caller_symbol"]
            if caller is None and sites:
                caller, symbol = sites[0]["caller"], sites[0]["symbol"]
            yield (0, (rank, subject["severity"], subject["kind"], name, subject["bytes"], subject["count"],
                       _int(subject["nonpaged"]), _int(subject["paged"]),
                       ", ".join(subject["drivers"]) or common.NA, common.hexa(caller), common.text(symbol),
                       ", ".join(subject["rules"]) or common.NA,
                       " | ".join(subject["evidence"]) or common.NA))
            for site in sites:
                evidence = common.NA
                if site.get("stack"):
                    frames = [s or f"{f:#x}" for f, s in zip(site["stack"],
                                                              (site.get("symbols") or []) + [None] * 64)]
                    evidence = ("newest allocation's stack (trace log): " + " <- ".join(frames))
                yield (1, (rank, common.NA, "call site", site["symbol"] or f"{site['caller']:#x}",
                           site["bytes"], site["count"], common.NA, common.NA, site["driver"],
                           format_hints.Hex(site["caller"]), common.text(site["symbol"]), common.NA,
                           evidence))

    @staticmethod
    def _suspect(suspect: dict, tags: dict, drivers: dict) -> dict:
        kind, name = suspect.get("kind", "tag"), suspect.get("name", "")
        nonpaged = paged = None
        owners = owner_names(suspect.get("drivers"))
        caller, symbol = suspect.get("caller"), suspect.get("caller_symbol")
        if kind == "tag" and name in tags:
            nonpaged, paged = tags[name]["nonpaged_bytes"], tags[name]["paged_bytes"]
        elif kind == "driver":
            owners = [name]
            summary = drivers.get(name) or {}
            nonpaged, paged = summary.get("nonpaged_bytes"), summary.get("paged_bytes")
            if summary.get("by_caller"):
                caller = summary["by_caller"][0]["caller"]
                symbol = summary["by_caller"][0]["symbol"]
        return {"severity": suspect.get("severity", "low"), "kind": kind, "name": name,
                "bytes": int(suspect.get("bytes", 0)), "count": int(suspect.get("count", 0)),
                "nonpaged": nonpaged, "paged": paged, "drivers": owners, "caller": caller,
                "caller_symbol": symbol, "rules": list(suspect.get("rules") or []),
                "evidence": [" ".join(str(e).split()) for e in suspect.get("evidence") or []]}

    @staticmethod
    def _sites(report: dict, subject: dict) -> list:
        """The call sites (``leaks.call_sites``) of the subject's outstanding verifier-tracked
        allocations: of its tag, or of its driver."""
        if subject["kind"] == "driver":
            return call_sites(report, top=None, driver=subject["name"])
        return call_sites(report, top=None, tag=subject["name"])

    def run(self):
        columns = [("Rank", int), ("Severity", str), ("Kind", str), ("Name", str), ("Bytes", int),
                   ("Count", int), ("NonPagedBytes", int), ("PagedBytes", int), ("Drivers", str),
                   ("Caller", format_hints.Hex), ("CallerSymbol", str), ("Rules", str), ("Evidence", str)]
        try:
            thresholds = self._thresholds()
        except (ValueError, TypeError) as exc:  # a bad option: one line, exit status 1
            common.fail(f"--threshold: {exc}")
        return renderers.TreeGrid(columns, self._generator(thresholds))


def _int(value):
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else common.NA
