"""Number formats and Markdown tables for report.md ("—" wherever a value is missing)."""


def fx(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}×"


def fnum(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def fus(v):
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fpct(v, digits=0):
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def table(header, rows, align=None):
    align = align or (["l"] + ["r"] * (len(header) - 1))
    sep = ["---:" if a == "r" else ":---:" if a == "c" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def verdict(ok):
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")
