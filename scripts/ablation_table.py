#!/usr/bin/env python3
"""The rows and tables of scripts/ablation.sh.

  ablation_table.py row RUN_DIR SEED VARIANT   one TSV row from RUN_DIR/vpq/vpq.json, RUN_DIR/stq/stq.json and
                                               RUN_DIR/tc/tc.json
  ablation_table.py table ROWS.tsv...          markdown: every run, then (with more than one seed) the
                                               mean over seeds per variant with the range
  ablation_table.py readme README TABLE.md     puts TABLE.md between README's "<!-- ablation-table:begin -->"
                                               and "<!-- ablation-table:end -->" lines (the README's table is
                                               generated, never typed)

A row: seed, variant, then VPQ all / things / stuff for every window k (0, 5, 10, 15), the final VPQ
all / things / stuff, TC, STQ's AQ and IDF1.
"""
import json
import os
import sys

VARIANTS = ["base", "segment", "warp", "tube", "pixel", "full"]
NAMES = {
    "base": "SiamTrack-Base (VPSNet-Track losses on both frames)",
    "segment": "+L_segment",
    "warp": "+L_warp",
    "tube": "+L_tube",
    "pixel": "+L_pixel (warp + tube)",
    "full": "full (L_segment + L_pixel)",
}


def row(run, seed, variant):
    j = json.load(open(run + "/vpq/vpq.json"))
    cells = []
    for w in j["windows"]:
        cells += [w["all"]["pq"], w["things"]["pq"], w["stuff"]["pq"]]
    f = j["final"]
    cells += [f["vpq_all"], f["vpq_thing"], f["vpq_stuff"]]
    tc = json.load(open(run + "/tc/tc.json"))["tc"]
    stq = json.load(open(run + "/stq/stq.json"))
    tail = [tc, stq["aq"], stq["identity"]["idf1"]]
    return "\t".join([seed, variant] + ["%.1f" % c for c in cells] + ["%.3f" % t for t in tail])


TAIL = 3  # TC, AQ, IDF1 after the VPQ numbers


def read_rows(paths):
    runs = []
    for p in paths:
        for line in open(p):
            f = line.rstrip("\n").split("\t")
            n = len(f) - 2  # numbers: 3 per window, 3 final, TC, AQ, IDF1; the same count in every row
            if n < 6 + TAIL or (n - 3 - TAIL) % 3 or (runs and n != len(runs[0][2])):
                sys.exit("%s: a row with %d numbers (not 3 per window + 3 final + TC, AQ, IDF1, or unlike the "
                         "first row): %r" % (p, n, line))
            runs.append((f[0], f[1], [float(x) for x in f[2:]]))
    return runs


def triple(v, i):
    return "%.1f / %.1f / %.1f" % (v[i], v[i + 1], v[i + 2])


def table(paths):
    runs = read_rows(paths)
    if not runs:
        sys.exit("ablation_table: no rows in " + " ".join(paths))
    nk = (len(runs[0][2]) - 3 - TAIL) // 3  # windows k
    ks = ", ".join("k=%d" % (5 * i) for i in range(nk))
    head = " | ".join("VPQ k=%d (all / th / st)" % (5 * i) for i in range(nk))
    out = ["Every run (VPQ per window %s as all / things / stuff):" % ks, "",
           "| seed | variant | " + head + " | VPQ | VPQ-th | VPQ-st | TC | AQ | IDF1 |",
           "| --- | --- |" + " --- |" * (nk + 3 + TAIL)]
    for seed, v, x in runs:
        cells = [triple(x, 3 * i) for i in range(nk)] + ["%.1f" % c for c in x[3 * nk:3 * nk + 3]]
        cells += ["%.3f" % c for c in x[3 * nk + 3:]]
        out.append("| %s | %s | %s |" % (seed, v, " | ".join(cells)))
    seeds = sorted({s for s, _, _ in runs})
    if len(seeds) > 1:
        out += ["", "Mean over seeds %s, with the range of the final numbers:" % ", ".join(seeds), "",
                "| variant | seeds | " + head + " | VPQ (range) | VPQ-th (range) | VPQ-st (range) | TC (range) |"
                " AQ (range) | IDF1 (range) |",
                "| --- | --- |" + " --- |" * (nk + 3 + TAIL)]
        order = [v for v in VARIANTS if any(r[1] == v for r in runs)]
        order += sorted({r[1] for r in runs} - set(order))
        for v in order:
            xs = [x for _, w, x in runs if w == v]
            m = [sum(x[i] for x in xs) / len(xs) for i in range(len(xs[0]))]
            rng = lambda i, f: ("%s (" + f + "-" + f + ")") % (f % m[i], min(x[i] for x in xs), max(x[i] for x in xs))
            cells = [triple(m, 3 * i) for i in range(nk)]
            cells += [rng(3 * nk + j, "%.1f") for j in range(3)] + [rng(3 * nk + 3 + j, "%.3f") for j in range(TAIL)]
            out.append("| %s | %d | %s |" % (NAMES.get(v, v), len(xs), " | ".join(cells)))
    return "\n".join(out)


BEGIN, END = "<!-- ablation-table:begin -->", "<!-- ablation-table:end -->"


def readme(readme_path, table_path):
    text = open(readme_path).read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        sys.exit("%s: needs one %s line before one %s line" % (readme_path, BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + open(table_path).read().rstrip("\n") + "\n" + END + tail
    tmp = readme_path + ".tmp"
    open(tmp, "w").write(new)
    os.replace(tmp, readme_path)


def main(argv):
    if len(argv) == 5 and argv[1] == "row":
        print(row(*argv[2:5]))
    elif len(argv) >= 3 and argv[1] == "table":
        print(table(argv[2:]))
    elif len(argv) == 4 and argv[1] == "readme":
        readme(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
