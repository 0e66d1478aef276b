"""img2dataset's default resizer, as the baseline for bench/download.ts (written for imgsift).

Does what img2dataset's Resizer does with its defaults (image_size 256, resize_mode border,
downscale_interpolation area, upscale lanczos, encode_format jpg, encode_quality 95):
cv2.imdecode(IMREAD_UNCHANGED), alpha matted on white, the longest side scaled to 256 with
INTER_AREA (Lanczos-4 when enlarging), white borders to 256 x 256, cv2.imencode('.jpg', q95);
OpenCV limited to one thread, as img2dataset sets it.

Usage: img2dataset_resize.py [--repeat N] FILE...
Prints one JSON line: {"images", "seconds" (wall), "cpu_seconds" (this process, after imports)}.
"""
import json
import sys
import time

import cv2
import numpy

SIZE = 256
QUALITY = 95


def resize(body):
    img = cv2.imdecode(numpy.frombuffer(body, numpy.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("Image decoding error")
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[:, :, 3:4]
        img = numpy.rint((alpha / 255 * img[..., :3] + 255 - alpha).clip(0, 255)).astype(numpy.uint8)
    h, w = img.shape[:2]
    scale = SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if max(h, w) > SIZE else cv2.INTER_LANCZOS4
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    img = cv2.copyMakeBorder(img, top, SIZE - nh - top, left, SIZE - nw - left, cv2.BORDER_CONSTANT, value=[255, 255, 255])
    ok, out = cv2.imencode(".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), QUALITY])
    if not ok:
        raise ValueError("encode failed")
    return out.tobytes()


def main(argv):
    repeat = 1
    if argv[:1] == ["--repeat"]:
        repeat = int(argv[1])
        argv = argv[2:]
    cv2.setNumThreads(1)
    bodies = []
    for path in argv:
        with open(path, "rb") as f:
            bodies.append(f.read())
    for body in bodies[:3]:
        resize(body)  # warm up
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for _ in range(repeat):
        for body in bodies:
            resize(body)
            n += 1
    print(json.dumps({"images": n, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}))


if __name__ == "__main__":
    main(sys.argv[1:])
