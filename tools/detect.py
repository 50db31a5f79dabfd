#!/usr/bin/python3
"""Sends an image to a running Batchwise server's detector and draws what it found.

The image (JPEG or PNG) travels as it is, a BYTES input in KServe v2's binary extension; the
server decodes, letterboxes and maps the boxes back to the image (docs/detection.md). Prints one
line per detection and writes the image with boxes and labels as a PNG. Debian's Python only
(urllib, json, struct; PIL from python3-pil for drawing):

    /usr/bin/python3 tools/detect.py photo.jpg [--url http://127.0.0.1:8000] [--model ssdlite320]
        [--out photo.detections.png] [--min-score 0]
"""

import argparse
import json
import os
import struct
import sys
import urllib.error
import urllib.request

from PIL import Image, ImageDraw

OUTPUTS = ["boxes", "scores", "labels", "num_detections", "label_names"]


def binary_request(image_bytes, input_name):
    """KServe v2 binary body: the JSON header, then the BYTES element (4-byte length, data)."""
    element = struct.pack("<I", len(image_bytes)) + image_bytes
    header = json.dumps({
        "inputs": [{"name": input_name, "datatype": "BYTES", "shape": [1],
                    "parameters": {"binary_data_size": len(element)}}],
        "outputs": [{"name": n, "parameters": {"binary_data": True}} for n in OUTPUTS],
    }).encode()
    return header + element, len(header)


def split_outputs(body, header_size):
    """{name: (datatype, shape, raw bytes)} from a binary response."""
    header = json.loads(body[:header_size])
    out, offset = {}, header_size
    for o in header["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:  # a JSON output
            out[o["name"]] = (o["datatype"], o["shape"], o["data"])
            continue
        out[o["name"]] = (o["datatype"], o["shape"], body[offset:offset + size])
        offset += size
    return out


def decode(datatype, raw):
    if not isinstance(raw, bytes):
        return raw
    if datatype == "BYTES":
        items, i = [], 0
        while i < len(raw):
            (n,) = struct.unpack_from("<I", raw, i)
            items.append(raw[i + 4:i + 4 + n].decode("utf-8", "replace"))
            i += 4 + n
        return items
    fmt = {"FP32": "f", "INT32": "i", "INT64": "q"}[datatype]
    return list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw))


def infer(url, model, image_bytes, input_name):
    body, header_size = binary_request(image_bytes, input_name)
    req = urllib.request.Request(
        f"{url}/v2/models/{model}/infer", data=body, method="POST",
        headers={"Content-Type": "application/octet-stream",
                 "Inference-Header-Content-Length": str(header_size)})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            size = int(resp.headers.get("Inference-Header-Content-Length", "0"))
            data = resp.read()
    except urllib.error.HTTPError as e:
        sys.exit(f"server answered {e.code}: {e.read().decode(errors='replace')}")
    except urllib.error.URLError as e:
        sys.exit(f"cannot reach {url}: {e.reason}")
    outputs = split_outputs(data, size or len(data))
    return {name: decode(dt, raw) for name, (dt, _, raw) in outputs.items()}


def detections(out):
    """[(x1, y1, x2, y2, score, label, name)] of image 0, highest score first."""
    count = out["num_detections"][0]
    names = out.get("label_names") or [str(v) for v in out["labels"]]
    return [(*out["boxes"][4 * j:4 * j + 4], out["scores"][j], out["labels"][j], names[j])
            for j in range(count)]


def draw(path, found, out_path):
    image = Image.open(path).convert("RGB")
    pen = ImageDraw.Draw(image)
    width = max(1, round(max(image.size) / 300))
    for x1, y1, x2, y2, score, _, name in found:
        pen.rectangle([x1, y1, x2, y2], outline=(255, 40, 40), width=width)
        text = f"{name} {score:.2f}"
        left, top, right, bottom = pen.textbbox((x1, y1), text)
        y = max(0, y1 - (bottom - top) - 2)
        pen.rectangle([x1, y, x1 + right - left + 4, y + bottom - top + 2], fill=(255, 40, 40))
        pen.text((x1 + 2, y), text, fill=(255, 255, 255))
    image.save(out_path, "PNG")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a JPEG or PNG file")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's HTTP address")
    parser.add_argument("--model", default="ssdlite320")
    parser.add_argument("--input", default="images", help="the model's image input")
    parser.add_argument("--out", help="the PNG to write (default: <image>.detections.png)")
    parser.add_argument("--min-score", type=float, default=0.0,
                        help="draw only detections at or above this score")
    args = parser.parse_args()
    with open(args.image, "rb") as f:
        image_bytes = f.read()
    found = [d for d in detections(infer(args.url, args.model, image_bytes, args.input))
             if d[4] >= args.min_score]
    for x1, y1, x2, y2, score, label, name in found:
        print(f"{name:>16} ({label:3d})  score {score:.3f}  "
              f"box ({x1:.1f}, {y1:.1f}) - ({x2:.1f}, {y2:.1f})")
    out_path = args.out or os.path.splitext(args.image)[0] + ".detections.png"
    draw(args.image, found, out_path)
    print(f"{len(found)} detections; drawn in {out_path}")


if __name__ == "__main__":
    main()
