#!/usr/bin/env python3
"""Renders bench/results/report.md and the PNG charts from the raw files bench/report wrote.

    python3 bench/report.py --raw bench/results/raw --out bench/results

Python standard library only; charts need gnuplot (pngcairo terminal if available, else png).
Re-running it on existing raw files re-renders the report without measuring anything again.
The work is split by concern over the report_*.py modules beside this file: report_data
(loading and aggregating), report_targets, report_charts, report_markdown (report.md).
"""
import argparse
import os
import sys

from report_charts import draw_charts
from report_data import RawResults
from report_markdown import write_report, write_results_readme
from report_targets import compute_targets


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    return ap.parse_args()


def main():
    args = parse_args()
    results = RawResults(args.raw)
    if not results.avx2.rows:
        sys.exit("bench/report.py: no results in " + results.avx2_path)
    plot = draw_charts(results, args.out)
    targets = compute_targets(results)
    write_report(results, targets, plot, args.out)
    write_results_readme(args.out)
    if plot.errors:
        print("bench/report.py: chart errors:\n  " + "\n  ".join(plot.errors), file=sys.stderr)
    print(f"bench/report.py: {targets.summary()} -> {os.path.join(args.out, 'report.md')}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
