# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to the lepton.aiops collection. It may change or
# disappear without notice; do not import it from other collections.
"""Self-contained HTML report (inline SVG, no scripts, no external files) of an anomaly run."""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone

from ansible_collections.lepton.aiops.plugins.module_utils._keyring import write_atomic

W, H, PAD = 900, 220, 40


def _fmt_time(ts):
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "%g" % ts


def _path(points):
    """SVG path through (x, y) points, broken at None."""
    out, pen = [], False
    for p in points:
        if p is None:
            pen = False
            continue
        out.append("%s%.1f,%.1f" % ("L" if pen else "M", p[0], p[1]))
        pen = True
    return " ".join(out)


def _chart(result, arrays):
    """(SVG of one series, True when a threshold line was drawn)."""
    t, x, flags, band, nb = arrays["t"], arrays["x"], arrays["flags"], arrays["band"], arrays["nb"]
    ys = [v for v in x.tolist() if math.isfinite(v)]
    if band is not None:
        ys += [v for b in band for v in b.tolist() if math.isfinite(v)]
    if not ys:
        return "<p>No finite values.</p>", False
    lo, hi = min(ys), max(ys)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    t0, t1 = float(t[0]), float(t[-1]) if t[-1] > t[0] else float(t[0]) + 1.0

    def sx(v):
        return PAD + (W - 2 * PAD) * (float(v) - t0) / (t1 - t0)

    def sy(v):
        return H - PAD + (2 * PAD - H) * (float(v) - lo) / (hi - lo)

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">' % (W, H),
             '<rect x="%.1f" y="0" width="%.1f" height="%d" fill="#f1f3f5"><title>baseline</title></rect>' % (
                 PAD, max(sx(t[min(nb, len(t) - 1)]) - PAD, 0.0), H)]
    drawn = False
    if band is not None:
        for b, label in ((band[1], "upper threshold"), (band[0], "lower threshold")):
            pts = [(sx(a), sy(v)) if math.isfinite(v) else None for a, v in zip(t.tolist(), b.tolist())]
            if any(pts):
                drawn = True
                parts.append('<path d="%s" fill="none" stroke="#e8590c" stroke-dasharray="5,4"><title>%s</title></path>' % (
                    _path(pts), label))
    pts = [(sx(a), sy(v)) if math.isfinite(v) else None for a, v in zip(t.tolist(), x.tolist())]
    parts.append('<path d="%s" fill="none" stroke="#1c7ed6" stroke-width="1.2"/>' % _path(pts))
    for i in [i for i, f in enumerate(flags.tolist()) if f]:
        parts.append('<circle cx="%.1f" cy="%.1f" r="4" fill="#e03131"><title>%s value %s</title></circle>' % (
            sx(t[i]), sy(x[i]), _fmt_time(float(t[i])), html.escape("%g" % x[i])))
    parts.append('<text x="%d" y="14" font-size="11">%s</text>' % (PAD, html.escape("%.4g" % hi)))
    parts.append('<text x="%d" y="%d" font-size="11">%s</text>' % (PAD, H - PAD + 14, html.escape("%.4g" % lo)))
    parts.append('<text x="%d" y="%d" font-size="11">%s</text>' % (PAD, H - 6, _fmt_time(t0)))
    parts.append('<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>' % (W - PAD, H - 6, _fmt_time(t1)))
    parts.append("</svg>")
    return "".join(parts), drawn


def render(result, arrays, title="Anomaly report"):
    """The whole report as one HTML string."""
    rows, banded = [], False
    for res, arr in zip(result.get("series", []), arrays):
        state = "inconclusive" if res.get("inconclusive") else ("ANOMALOUS NOW" if res.get("anomalous_now") else "normal")
        if arr is not None:
            body, drawn = _chart(res, arr)
            banded = banded or drawn
        else:
            body = "<p>%s</p>" % html.escape(res.get("reason") or "")
        rows.append('<section><h2>%s <small class="%s">%s</small></h2>%s<p>%d anomalous point(s).</p></section>' % (
            html.escape(res["name"]), state.split()[0].lower(), state, body, res.get("anomaly_count", 0)))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#212529}} small{{font-weight:normal}}
.anomalous{{color:#e03131}} .normal{{color:#2b8a3e}} .inconclusive{{color:#868e96}}
section{{border-top:1px solid #dee2e6;padding-top:.5em}}</style></head><body>
<h1>{title}</h1><p><strong>{summary}</strong></p>
<p>Detector <code>{detector}</code>. Grey: baseline.{dashed} Red dots: anomalous points.</p>
{rows}
</body></html>
""".format(title=html.escape(title), summary=html.escape(result.get("summary", "")),
           detector=html.escape(result.get("detector", "")), rows="\n".join(rows),
           dashed=" Dashed: threshold band." if banded else "")


def update_report(path, page, check_mode=False):
    """Write ``page`` to ``path`` (0644, atomically) unless it holds it already; True when it changes.

    In check mode nothing is written but the answer is the same. Raises
    ``OSError`` with a sentence naming ``path`` when it cannot be written.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            changed = handle.read() != page
    except FileNotFoundError:
        changed = True
    except (OSError, ValueError) as exc:
        raise OSError("cannot read the report %s: %s" % (path, getattr(exc, "strerror", None) or exc)) from exc
    if changed and not check_mode:
        try:
            write_atomic(path, page.encode("utf-8"), 0o644)
        except OSError as exc:
            raise OSError("cannot write the report %s: %s" % (path, exc.strerror or exc)) from exc
    return changed
