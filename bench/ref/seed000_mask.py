#!/usr/bin/python3
"""Reference: seed 000's edit-mask method, written from its documented parameters, for bench/edit-masks.ts.

Run with Debian's Python and OpenCV (python3-opencv has SIFT):
    /usr/bin/python3 bench/ref/seed000_mask.py MANIFEST.json OUT_DIR
MANIFEST is a JSON list of {"name", "input", "output"} (image paths). For every pair it writes
OUT_DIR/<name>.png (0/255, input size) when aligned, and prints one JSON object with a result per pair
plus the wall and CPU seconds spent on the pairs (single-threaded OpenCV, decoding included).

Method (seed 000): output resized to the input's size when they differ; SIFT, 800 features, on
greyscale images scaled to 512 px on the long side; Lowe ratio 0.75; at least 10 good matches; RANSAC
homography, reprojection threshold 5 px; inlier ratio at least 0.3. Then the output is warped onto the
input, the per-pixel maximum channel difference is blurred (Gaussian 7), thresholded at 50, opened and
closed with an 11 px ellipse; dark border rows/columns left by the warp are found by scanning inward
from each edge and cleared; the 5 largest components are kept.
"""
import json
import sys
import time

import cv2
import numpy as np

WORK_SIDE = 512
FEATURES = 800
RATIO = 0.75
MIN_MATCHES = 10
RANSAC_PX = 5.0
MIN_INLIER_RATIO = 0.3
BLUR = 7
THRESHOLD = 50
KERNEL = 11
KEEP = 5
DARK = 10  # a border row/column whose warped pixels are mostly darker than this is a warp artifact


def align(inp, out):
    h, w = inp.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    gi = cv2.cvtColor(cv2.resize(inp, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    go = cv2.cvtColor(cv2.resize(out, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    sift = cv2.SIFT_create(nfeatures=FEATURES)
    ki, di = sift.detectAndCompute(gi, None)
    ko, do = sift.detectAndCompute(go, None)
    if di is None or do is None or len(ki) < 2 or len(ko) < 2:
        return None, {"reason": "insufficient_keypoints"}
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(do, di, k=2)
    good = [m for m, n in (p for p in knn if len(p) == 2) if m.distance < RATIO * n.distance]
    stats = {"good_matches": len(good)}
    if len(good) < MIN_MATCHES:
        return None, {**stats, "reason": "too_few_matches"}
    src = np.float32([ko[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([ki[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    hm, inl = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX)
    if hm is None:
        return None, {**stats, "reason": "homography_failed"}
    ratio = float(inl.sum()) / len(good)
    stats.update(inliers=int(inl.sum()), inlier_ratio=ratio)
    if ratio < MIN_INLIER_RATIO:
        return None, {**stats, "reason": "low_inlier_ratio"}
    scale = np.diag([1 / s, 1 / s, 1.0])
    full = scale @ hm @ np.linalg.inv(scale)
    return full, stats


def dark_border(warped_grey):
    """Rows/columns counted from each edge whose pixels are mostly black (filled by the warp)."""
    dark = warped_grey < DARK
    h, w = dark.shape
    def scan(lines):
        k = 0
        for line in lines:
            if line.mean() > 0.5:
                k += 1
            else:
                break
        return k
    top = scan(dark[i, :] for i in range(h))
    bottom = scan(dark[h - 1 - i, :] for i in range(h))
    left = scan(dark[:, j] for j in range(w))
    right = scan(dark[:, w - 1 - j] for j in range(w))
    return top, bottom, left, right


def mask_of(inp, out, hm):
    h, w = inp.shape[:2]
    warped = cv2.warpPerspective(out, hm, (w, h))
    diff = cv2.absdiff(inp, warped).max(axis=2)
    diff = cv2.GaussianBlur(diff, (BLUR, BLUR), 0)
    _, m = cv2.threshold(diff, THRESHOLD, 255, cv2.THRESH_BINARY)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (KERNEL, KERNEL))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
    top, bottom, left, right = dark_border(cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY))
    pad = 2  # the warp's interpolation fringe next to the black border
    if top: m[: top + pad, :] = 0
    if bottom: m[h - bottom - pad :, :] = 0
    if left: m[:, : left + pad] = 0
    if right: m[:, w - right - pad :] = 0
    n, labels, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    order = sorted(range(1, n), key=lambda l: -st[l, cv2.CC_STAT_AREA])[:KEEP]
    keep = np.zeros(n, np.uint8)
    keep[order] = 255
    return keep[labels], len(order)


def main():
    cv2.setNumThreads(1)
    manifest, out_dir = sys.argv[1], sys.argv[2]
    pairs = json.load(open(manifest))
    results = {}
    t0 = time.perf_counter()
    c0 = time.process_time()
    for p in pairs:
        inp = cv2.imread(p["input"], cv2.IMREAD_COLOR)
        out = cv2.imread(p["output"], cv2.IMREAD_COLOR)
        if inp is None or out is None:
            results[p["name"]] = {"ok": False, "reason": "decode_failed"}
            continue
        if out.shape[:2] != inp.shape[:2]:
            out = cv2.resize(out, (inp.shape[1], inp.shape[0]), interpolation=cv2.INTER_LINEAR)
        hm, stats = align(inp, out)
        if hm is None:
            results[p["name"]] = {"ok": False, **stats}
            continue
        m, comps = mask_of(inp, out, hm)
        cv2.imwrite(f"{out_dir}/{p['name']}.png", m)
        results[p["name"]] = {"ok": True, "components": comps, "coverage": float((m > 0).mean()), **stats}
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "results": results}))


if __name__ == "__main__":
    main()
