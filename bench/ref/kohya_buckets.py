"""
Reference figures for imgsift's bucket parity test (test/fixtures/kohya-buckets.json).

Runs sd-scripts' OWN bucket code on a grid of image sizes and settings. Nothing of sd-scripts is
copied here: the functions are read from a checkout given on the command line, taken out of their
modules with `ast` (library/model_util.py imports torch at the top, so the modules cannot be
imported as they are) and executed in a namespace that provides only what they use.

  /usr/bin/python3 bench/ref/kohya_buckets.py /path/to/sd-scripts [COMMIT] > test/fixtures/kohya-buckets.json

COMMIT (optional) is recorded in the output when the checkout is not a git work tree.

Needs numpy (Debian: python3-numpy).
"""
import ast
import json
import math
import random
import subprocess
import sys
import types
from typing import Optional, Tuple

import numpy as np


def take(path, names, cls=None):
    """Source of the top-level definitions `names` in `path` (or of methods of class `cls`)."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    tree = ast.parse(src)
    body = tree.body
    if cls is not None:
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
    out = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            out[node.name] = ast.get_source_segment(src, node)
    missing = set(names) - set(out)
    if missing:
        raise SystemExit(f"{path}: not found: {sorted(missing)}")
    return out


class _Log:
    def __getattr__(self, _name):
        return lambda *a, **k: None


def load(repo):
    ns = {"math": math, "np": np, "random": random, "Tuple": Tuple, "Optional": Optional, "logger": _Log()}
    mu = take(f"{repo}/library/model_util.py", ["make_bucket_resolutions"])
    exec(mu["make_bucket_resolutions"], ns)
    ns["model_util"] = types.SimpleNamespace(make_bucket_resolutions=ns["make_bucket_resolutions"])
    tu = take(f"{repo}/library/train_util.py", ["BucketManager", "trim_and_resize_if_required"])
    exec(tu["BucketManager"], ns)
    exec(tu["trim_and_resize_if_required"], ns)
    # A method of BaseDataset that does not use `self`; run it as a plain function.
    adj = take(f"{repo}/library/train_util.py", ["adjust_min_max_bucket_reso_by_steps"], cls="BaseDataset")
    exec(adj["adjust_min_max_bucket_reso_by_steps"], ns)
    return ns


def manager(ns, s):
    """The BucketManager a DreamBooth/fine-tuning dataset builds for these settings (train_util make_buckets)."""
    BM = ns["BucketManager"]
    res = tuple(s["resolution"])
    if not s["enable_bucket"]:
        bm = BM(False, res, None, None, None)
        bm.set_predefined_resos([res])
        return bm, None
    lo, hi = ns["adjust_min_max_bucket_reso_by_steps"](None, res, s["min_bucket_reso"], s["max_bucket_reso"], s["bucket_reso_steps"])
    bm = BM(s["bucket_no_upscale"], res, lo, hi, s["bucket_reso_steps"])
    if not s["bucket_no_upscale"]:
        bm.make_buckets()
    return bm, (lo, hi)


def crop_of(ns, reso, resized):
    """Where trim_and_resize_if_required cuts (left, top) from the resized image, found by handing it
    zero-memory coordinate grids of the resized size (so its resize is skipped and only the trim runs)."""
    w, h = resized
    xs = np.broadcast_to(np.arange(w)[None, :, None], (h, w, 1))
    ys = np.broadcast_to(np.arange(h)[:, None, None], (h, w, 1))
    out_x, _, ltrb = ns["trim_and_resize_if_required"](False, xs, reso, resized)
    out_y, _, _ = ns["trim_and_resize_if_required"](False, ys, reso, resized)
    return int(out_x[0, 0, 0]), int(out_y[0, 0, 0]), [float(v) for v in ltrb]


def sizes():
    """A few hundred image sizes: common camera/phone/screen sizes, extremes, and seeded random ones."""
    fixed = [
        (512, 512), (768, 768), (1024, 1024), (640, 640), (896, 896), (1920, 1080), (1080, 1920), (4032, 3024),
        (3024, 4032), (6000, 4000), (4000, 6000), (1280, 720), (720, 1280), (800, 600), (600, 800), (2048, 2048),
        (3000, 2000), (2000, 3000), (1536, 1024), (1024, 1536), (832, 1216), (1216, 832), (300, 300), (256, 256),
        (200, 900), (900, 200), (5000, 700), (700, 5000), (1023, 1023), (1025, 1025), (511, 767), (513, 769),
        (64, 64), (100, 2000), (2000, 100), (8000, 8000), (1, 1), (3, 7), (4096, 2160), (2160, 4096),
        (1344, 768), (768, 1344), (1152, 896), (896, 1152), (960, 540), (540, 960), (2448, 3264), (3264, 2448),
    ]
    r = random.Random(20240603)
    rand = [(r.randint(64, 6000), r.randint(64, 6000)) for _ in range(200)]
    aspect = []
    for _ in range(80):
        side = r.randint(300, 3000)
        ar = math.exp(r.uniform(math.log(0.25), math.log(4.0)))
        aspect.append((max(1, round(side * ar)), side))
    return fixed + rand + aspect


SETTINGS = [
    dict(resolution=[512, 512], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[512, 512], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=True),
    dict(resolution=[768, 768], enable_bucket=True, min_bucket_reso=512, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[768, 768], enable_bucket=True, min_bucket_reso=512, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=True),
    dict(resolution=[1024, 1024], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=2048, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[1024, 1024], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=2048, bucket_reso_steps=32, bucket_no_upscale=True),
    dict(resolution=[1024, 1024], enable_bucket=True, min_bucket_reso=320, max_bucket_reso=1536, bucket_reso_steps=32, bucket_no_upscale=False),
    dict(resolution=[640, 640], enable_bucket=True, min_bucket_reso=320, max_bucket_reso=960, bucket_reso_steps=8, bucket_no_upscale=False),
    dict(resolution=[640, 640], enable_bucket=True, min_bucket_reso=320, max_bucket_reso=960, bucket_reso_steps=8, bucket_no_upscale=True),
    # min/max not multiples of the step: adjust_min_max_bucket_reso_by_steps rounds them.
    dict(resolution=[896, 896], enable_bucket=True, min_bucket_reso=300, max_bucket_reso=1000, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[768, 512], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[768, 512], enable_bucket=True, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=16, bucket_no_upscale=True),
    dict(resolution=[512, 512], enable_bucket=False, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=False),
    dict(resolution=[768, 512], enable_bucket=False, min_bucket_reso=256, max_bucket_reso=1024, bucket_reso_steps=64, bucket_no_upscale=False),
]


def main():
    repo = sys.argv[1]
    ns = load(repo)
    commit = sys.argv[2] if len(sys.argv) > 2 else (
        subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    )
    out = {
        "_generated_by": "/usr/bin/python3 bench/ref/kohya_buckets.py <sd-scripts checkout> > test/fixtures/kohya-buckets.json",
        "_sd_scripts_commit": commit,
        "_columns": "[width, height, bucket_w, bucket_h, resized_w, resized_h, crop_left, crop_top] or [width, height, 'error: ...']",
        "sizes": len(sizes()),
        "cases": [],
    }
    for s in SETTINGS:
        bm, adjusted = manager(ns, s)
        rows = []
        for w, h in sizes():
            try:
                reso, resized, _ = bm.select_bucket(w, h)
                left, top, _ = crop_of(ns, tuple(reso), tuple(resized))
                rows.append([w, h, int(reso[0]), int(reso[1]), int(resized[0]), int(resized[1]), left, top])
            except Exception as e:  # sd-scripts itself fails on this size (e.g. a zero-size bucket)
                rows.append([w, h, f"error: {type(e).__name__}"])
        case = {"settings": s, "predefined": [list(r) for r in getattr(bm, "predefined_resos", [])] if not s["bucket_no_upscale"] else None, "rows": rows}
        if adjusted:
            case["adjusted_min_max"] = list(adjusted)
        out["cases"].append(case)
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
