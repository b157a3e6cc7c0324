"""Draw docs/lrmf.svg from the CSV of `cargo bench --bench lrmf` (pure Python).

    cargo bench --bench lrmf                 # writes target/lrmf/results.csv
    python3 benches/lrmf/plot.py [CSV] [SVG]

One panel per problem, one column per method: every start's distance to the
best known optimum, log10(|RMS / best - 1| + 1e-12), random starts as dots
(spread sideways by seed), the SVD start as a diamond, the restarted fit as a
square; the shaded band is success (within 1e-6 relative of the best known).
"""
import csv
import math
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent.parent
csv_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "target" / "lrmf" / "results.csv"
svg_path = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs" / "lrmf.svg"

FLOOR = 1e-12
SUCCESS = 1e-6
METHODS = ["ALTERNATING", "VARPRO", "AUTO"]
COLORS = {"ALTERNATING": "#1f77b4", "VARPRO": "#d62728", "AUTO": "#2ca02c"}


def distance(row):
    rms, best = float(row["rms"]), float(row["best_rms"])
    if not math.isfinite(rms):
        return None
    return math.log10(abs(rms / best - 1.0) + FLOOR)


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    values = [d for d in (distance(r) for r in rows) if d is not None]
    y_low = math.log10(FLOOR)
    y_high = max(1.0, math.ceil(max(values, default=0.0)))

    panel_w, panel_h, left, top, gap = 420, 300, 70, 50, 60
    width = left + len(problems) * (panel_w + gap)
    height = top + panel_h + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]

    def y_of(v):
        return top + panel_h * (y_high - v) / (y_high - y_low)

    for p_index, problem in enumerate(problems):
        x0 = left + p_index * (panel_w + gap)
        mine = [r for r in rows if r["problem"] == problem]
        best = mine[0]["best_rms"]
        out.append(f'<text x="{x0 + panel_w / 2}" y="{top - 20}" text-anchor="middle" '
                   f'font-size="14">{esc(problem)} (best known RMS {esc(best)})</text>')
        # Success band, frame, y grid.
        band_top = y_of(math.log10(SUCCESS))
        out.append(f'<rect x="{x0}" y="{band_top:.1f}" width="{panel_w}" '
                   f'height="{top + panel_h - band_top:.1f}" fill="#d9f2d9"/>')
        out.append(f'<text x="{x0 + panel_w - 4}" y="{top + panel_h - 6}" text-anchor="end" '
                   f'fill="#2a7a2a">success: within 1e-6 of the best known</text>')
        for tick in range(int(y_low), int(y_high) + 1, 2):
            y = y_of(tick)
            out.append(f'<line x1="{x0}" x2="{x0 + panel_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">1e{tick}</text>')
        out.append(f'<rect x="{x0}" y="{top}" width="{panel_w}" height="{panel_h}" fill="none" stroke="black"/>')
        if p_index == 0:
            out.append(f'<text transform="translate({x0 - 50},{top + panel_h / 2}) rotate(-90)" '
                       f'text-anchor="middle">|RMS / best known - 1| + 1e-12</text>')
        column_w = panel_w / len(METHODS)
        for m_index, method in enumerate(METHODS):
            cx = x0 + column_w * (m_index + 0.5)
            color = COLORS[method]
            starts = [r for r in mine if r["method"] == method]
            random = [r for r in starts if r["start"] == "random"]
            successes = sum(r["success"] == "1" for r in random)
            out.append(f'<text x="{cx:.1f}" y="{top + panel_h + 18}" text-anchor="middle">{method}</text>')
            out.append(f'<text x="{cx:.1f}" y="{top + panel_h + 34}" text-anchor="middle" '
                       f'fill="#555">{successes}/{len(random)} random</text>')
            for r in starts:
                d = distance(r)
                if d is None:
                    continue
                y = y_of(d)
                if r["start"] == "random":
                    seed = int(r["seed"])
                    x = cx - 0.3 * column_w + 0.6 * column_w * ((seed * 0.618034) % 1.0)
                    out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}" '
                               f'fill-opacity="0.6"><title>seed {seed}: RMS {esc(r["rms"])}</title></circle>')
                elif r["start"] == "svd":
                    s = 6
                    out.append(f'<path d="M{cx:.1f},{y - s:.1f} L{cx + s:.1f},{y:.1f} L{cx:.1f},{y + s:.1f} '
                               f'L{cx - s:.1f},{y:.1f} Z" fill="none" stroke="black" stroke-width="1.5">'
                               f'<title>SVD start: RMS {esc(r["rms"])}</title></path>')
                else:
                    s = 5
                    out.append(f'<rect x="{cx + 0.35 * column_w - s:.1f}" y="{y - s:.1f}" width="{2 * s}" '
                               f'height="{2 * s}" fill="none" stroke="black" stroke-width="1.5">'
                               f'<title>restarts: RMS {esc(r["rms"])}</title></rect>')
    legend_y = height - 12
    out.append(f'<text x="{left}" y="{legend_y}">dots: random starts (seeds 0..); '
               f'diamond: SVD start; square: AUTO with restarts from seed 0</text>')
    out.append("</svg>")
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    svg_path.write_text("\n".join(out) + "\n")
    print(f"wrote {svg_path} from {csv_path} ({len(rows)} starts)")


if __name__ == "__main__":
    main()
