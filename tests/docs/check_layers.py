#!/usr/bin/env python3
"""check_layers.py REPO -- the library's layers (docs/ARCHITECTURE.md) hold:
every file under src/lib/<layer>/ includes only the public headers of
modules in its own layer or a layer before it, and every module's header
belongs to exactly one layer. Exit 1 naming each include that breaks it."""

import glob
import os
import re
import sys

ORDER = ["base", "decode", "geo", "net", "store", "formats", "pipeline", "workflow"]


def main(repo):
    lib = os.path.join(repo, "src", "lib")
    found = sorted(d for d in os.listdir(lib) if os.path.isdir(os.path.join(lib, d)))
    if found != sorted(ORDER):
        print("src/lib folders %s are not the layers %s" % (found, ORDER))
        return 1
    layer_of = {}
    for layer in ORDER:
        for path in glob.glob(os.path.join(lib, layer, "*.c")):
            layer_of[os.path.basename(path)[:-2]] = layer
    layer_of.setdefault("common", "base")  # common.h: also the base's macros
    bad = []
    for header in glob.glob(os.path.join(repo, "include", "mly", "*.h")):
        name = os.path.basename(header)[:-2]
        if name not in layer_of:
            bad.append("include/mly/%s.h: no module src/lib/<layer>/%s.c" % (name, name))
    for layer in ORDER:
        for path in sorted(glob.glob(os.path.join(lib, layer, "*.[ch]"))):
            text = open(path, encoding="utf-8").read()
            for name in re.findall(r'#include "mly/([A-Za-z0-9_]+)\.h"', text):
                used = layer_of.get(name)
                if used is None:
                    bad.append("%s: mly/%s.h belongs to no layer" % (os.path.relpath(path, repo), name))
                elif ORDER.index(used) > ORDER.index(layer):
                    bad.append("%s (%s) includes mly/%s.h of the later layer %s" % (
                        os.path.relpath(path, repo), layer, name, used))
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
