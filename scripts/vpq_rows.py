#!/usr/bin/env python3
"""Prints VPQ per window k (all / things / stuff) and the final mean from `vps eval vpq`'s vpq.json."""
import json
import sys


def main(path):
    with open(path) as f:
        d = json.load(f)
    print("%-8s %7s %7s %7s" % ("window", "all", "things", "stuff"))
    for w in d["windows"]:
        print("%-8s %7.1f %7.1f %7.1f" % (w["name"].replace("vpq-", "k="), w["all"]["pq"], w["things"]["pq"], w["stuff"]["pq"]))
    fin = d["final"]
    print("%-8s %7.1f %7.1f %7.1f" % ("final", fin["vpq_all"], fin["vpq_thing"], fin["vpq_stuff"]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/vpq_rows.py VPQ_JSON")
    main(sys.argv[1])
