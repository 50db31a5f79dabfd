#!/usr/bin/python3
"""Generates Batchwise's reference models into a model repository folder.

Weights are seeded random (no pretrained weights can be downloaded here). For every model the
folder gets model.onnx (loadable by OpenCV 4.6 DNN), model.pt (TorchScript, traced in eval mode),
reference input/output tensors computed by PyTorch, and config.json. The detectors get only
model.pt: torchvision's detection models, scripted (not traced: NMS and top-k have data-dependent
shapes) behind a fixed-capacity serving wrapper (docs/detection.md). The format is documented in
docs/model-repository.md.

Generation is cached: a model whose stamp file matches this generator's version, seed and
options is skipped. Run with the system interpreter:

    /usr/bin/python3 tools/gen_models.py [--out models] [--models resnet18,mlp_forecaster] [--force]
"""

import argparse
import json
import os
import sys
import time
import warnings
from typing import Tuple

import onnx
import torch
import torchvision

# Bump whenever the output of this script changes (weights, export, formats).
GENERATOR_VERSION = 5
SEED = 20240611
REFERENCE_BATCH = 2
MAX_BATCH_SIZE = 64
ONNX_OPSET = 10  # OpenCV 4.6 DNN: Clip with min/max attributes (opset < 11) becomes ReLU6.
STAMP_FILE = ".generated.json"


class MlpForecaster(torch.nn.Module):
    """Photovoltaic-power forecaster: 48 past features -> the next 24 hourly outputs."""

    def __init__(self, features=48, hidden=128, horizon=24):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(features, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, horizon))

    def forward(self, x):
        return self.net(x)


# The "inference script" of the classifiers (docs/model-repository.md): requests may send raw
# UINT8 RGB pixels or JPEG/PNG files, resized as torchvision's ImageNet recipe does (shorter side
# 256, center crop 224, ImageNet mean/std); "classification" returns the top 5 logits.
IMAGENET_PROCESSING = {
    "preprocess": {
        "type": "image", "input": "input", "accept": ["UINT8", "BYTES"],
        "resize": [224, 224], "resize_shorter": 256, "interpolation": "bilinear",
        "channel_order": "RGB", "scale": 1 / 255,
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    },
    "postprocess": {"type": "classification", "output": "classification", "source": "logits",
                    "top_k": 5},
}


def image_spec(name):
    return {
        "name": name, "kind": "image_classification",
        "build": lambda: getattr(torchvision.models, name)(weights=None),
        "input": ("input", [3, 224, 224]), "output": ("logits", [1000]),
        "processing": IMAGENET_PROCESSING,
    }


# Detectors (docs/detection.md): a fixed capacity of K detections per image, padded with zeros.
DETECTION_CAPACITY = 100
DETECTION_SIZE = 320
DETECTION_REFERENCE_BATCH = 4


class DetectionServing(torch.nn.Module):
    """Serving wrapper: images FP32 [N,3,S,S] with values in [0,1] -> per-image detections.

    Returns boxes FP32 [N,K,4] (x1,y1,x2,y2 in the input's pixels), scores FP32 [N,K], labels
    INT32 [N,K] and num_detections INT32 [N]; rows from num_detections on are zeros. The detector's
    own transform normalises and (for an S x S input) keeps the size.
    """

    def __init__(self, detector, capacity: int):
        super().__init__()
        self.detector = detector
        self.capacity = capacity

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                     torch.Tensor]:
        n, k = images.shape[0], self.capacity
        boxes = torch.zeros([n, k, 4], dtype=images.dtype, device=images.device)
        scores = torch.zeros([n, k], dtype=images.dtype, device=images.device)
        labels = torch.zeros([n, k], dtype=torch.int32, device=images.device)
        count = torch.zeros([n], dtype=torch.int32, device=images.device)
        if torch.jit.is_scripting():  # a scripted detector returns (losses, detections)
            _, detections = self.detector(images.unbind(0))
        else:
            detections = self.detector(images.unbind(0))
        for i, d in enumerate(detections):
            c = min(int(d["scores"].shape[0]), k)
            boxes[i, :c] = d["boxes"][:c]
            scores[i, :c] = d["scores"][:c]
            labels[i, :c] = d["labels"][:c].to(torch.int32)
            count[i] = c
        return boxes, scores, labels, count


def calibrate_detector(detector, generator):
    """calibrate_batchnorm for a detector: training mode needs targets, so the BatchNorm layers see
    the backbone (and SSD's head) called directly on transformed random images."""
    bns = [m for m in detector.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    detector.train()
    with torch.no_grad():
        for _ in range(2):
            images = torch.rand([4, 3, DETECTION_SIZE, DETECTION_SIZE], generator=generator)
            batch, _ = detector.transform(list(images))
            features = detector.backbone(batch.tensors)
            if hasattr(detector, "head"):
                detector.head(list(features.values()))
    detector.eval()


def build_ssdlite():
    # score_thresh 0.3 with the class logits scaled x3: random weights otherwise give every class
    # the same score (1/91), so which of 300 near-ties survives would depend on rounding. With it,
    # the reference images get tens of well-separated detections (docs/detection.md).
    detector = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, score_thresh=0.3,
        detections_per_img=DETECTION_CAPACITY)
    calibrate_detector(detector, torch.Generator().manual_seed(SEED + 1))
    with torch.no_grad():
        for block in detector.head.classification_head.module_list:
            block[-1].weight.mul_(3)
    return DetectionServing(detector, DETECTION_CAPACITY)


def build_fasterrcnn():
    # The same separation for Faster R-CNN's box classifier: x20 puts tens of detections above 0.3
    # on the reference images (15 to 40), in distinct scores.
    detector = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, box_score_thresh=0.3,
        box_detections_per_img=DETECTION_CAPACITY)
    calibrate_detector(detector, torch.Generator().manual_seed(SEED + 1))
    with torch.no_grad():
        detector.roi_heads.box_predictor.cls_score.weight.mul_(20)
    return DetectionServing(detector, DETECTION_CAPACITY)


# The wrapper unpacks that tuple (DetectionServing.forward); nothing to warn about.
warnings.filterwarnings("ignore", message="(SSD|RCNN) always returns a")


# The detectors' "inference script" (docs/detection.md): JPEG/PNG or UINT8 images letterboxed to
# the input (the wrapper's detector normalises itself, so only scale to [0, 1]); detections keep
# the model's own threshold (0 here) and capacity, boxes in the client's image, COCO names.
DETECTION_PROCESSING = {
    "preprocess": {"type": "image", "input": "images", "accept": ["UINT8", "BYTES"],
                   "resize": "letterbox", "pad_value": 114, "interpolation": "bilinear",
                   "channel_order": "RGB", "scale": 1 / 255},
    "postprocess": {"type": "detection", "score_threshold": 0, "max_detections": DETECTION_CAPACITY,
                    "class_names": "classes.txt"},
}


def detection_spec(name, build, reference_batch=DETECTION_REFERENCE_BATCH):
    return {
        "name": name, "kind": "object_detection", "build": build, "script": True,
        "engines": ["torchscript"], "reference_batch": reference_batch,
        "max_batch_size": 16,
        # libtorch 1.13's oneDNN conversion (part of optimize_for_inference) miscomputes
        # MobileNetV3 inside these graphs (boxes off by 260 px); freezing alone is exact.
        "engine_options": {"torchscript": {"optimize_for_inference": False}},
        "processing": DETECTION_PROCESSING,
        "class_names": torchvision.models.detection.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1
        .meta["categories"],
        "input": ("images", [3, DETECTION_SIZE, DETECTION_SIZE]),
        "outputs": [("boxes", [DETECTION_CAPACITY, 4], "FP32"),
                    ("scores", [DETECTION_CAPACITY], "FP32"),
                    ("labels", [DETECTION_CAPACITY], "INT32"),
                    ("num_detections", [], "INT32")],
    }


MODELS = {
    "resnet50": image_spec("resnet50"),
    "resnet18": image_spec("resnet18"),
    "mobilenet_v2": image_spec("mobilenet_v2"),
    "mlp_forecaster": {
        "name": "mlp_forecaster", "kind": "pv_forecast", "build": MlpForecaster,
        "input": ("features", [48]), "output": ("forecast", [24]),
        # OpenCV DNN runs this MLP ~7x faster than libtorch on Debian's reference BLAS at batch 64
        # (docs/engines.md: 0.09 against 0.63 ms per batch, one thread).
        "engine_preference": ["onnx", "torchscript"],
    },
    "ssdlite320": detection_spec("ssdlite320", build_ssdlite),
    # Two reference images: on this CPU Faster R-CNN takes ~2.5 s an image (eager, reference BLAS).
    "fasterrcnn320": detection_spec("fasterrcnn320", build_fasterrcnn, reference_batch=2),
}


def reference_batch(spec):
    return spec.get("reference_batch", REFERENCE_BATCH)


def outputs_of(spec):
    """(name, dims without the batch dim, datatype) of each output."""
    if "outputs" in spec:
        return spec["outputs"]
    return [(spec["output"][0], spec["output"][1], "FP32")]


def stamp_for(spec):
    return {"generator_version": GENERATOR_VERSION, "seed": SEED, "opset": ONNX_OPSET,
            "reference_batch": reference_batch(spec), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "model": spec["name"]}


ENGINE_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}


def model_files(spec):
    engines = spec.get("engines", ["onnx", "torchscript"])
    outputs = [f"reference_output_{name}.bin" for name, _, _ in outputs_of(spec)] \
        if "outputs" in spec else ["reference_output.bin"]
    names = ["classes.txt"] if "class_names" in spec else []
    return ["config.json", "reference.json", "reference_input.bin"] + outputs + names + \
        [ENGINE_FILES[e] for e in engines]


def is_cached(folder, spec):
    try:
        with open(os.path.join(folder, STAMP_FILE)) as f:
            if json.load(f) != stamp_for(spec):
                return False
    except (OSError, ValueError):
        return False
    return all(os.path.isfile(os.path.join(folder, f)) for f in model_files(spec))


def calibrate_batchnorm(model, input_shape, generator):
    """Gives BatchNorm layers running statistics that match their random weights.

    With default statistics (mean 0, var 1) the activations of a randomly initialised deep
    network grow or vanish layer by layer; a few training-mode passes over random images keep the
    outputs in a sane range, so comparisons between engines are meaningful.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn([8] + input_shape, generator=generator))


def build_model(spec):
    torch.manual_seed(SEED)
    model = spec["build"]()
    if not spec.get("script"):  # detectors calibrate themselves (calibrate_detector)
        generator = torch.Generator().manual_seed(SEED + 1)
        calibrate_batchnorm(model, spec["input"][1], generator)
    return model.eval()


def reference_input(spec):
    generator = torch.Generator().manual_seed(SEED + 2)
    shape = [reference_batch(spec)] + spec["input"][1]
    if spec.get("script"):
        # Images in [0, 1] on the 8-bit grid (k / 255), so a test can send them as PNG files.
        return torch.randint(0, 256, shape, generator=generator).float() / 255
    return torch.randn(shape, generator=generator)


def strip_identity(graph):
    """Removes Identity nodes (OpenCV 4.6 rejects some) by rewiring their consumers."""
    outputs = {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Identity"]:
        src, dst = node.input[0], node.output[0]
        if dst in outputs:
            continue  # a graph output must keep its name
        for other in graph.node:
            for i, name in enumerate(other.input):
                if name == dst:
                    other.input[i] = src
        graph.node.remove(node)


def export_onnx(model, example, spec, path):
    in_name, out_name = spec["input"][0], spec["output"][0]
    torch.onnx.export(
        model, example, path, opset_version=ONNX_OPSET, do_constant_folding=True,
        input_names=[in_name], output_names=[out_name],
        dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}})
    proto = onnx.load(path)
    strip_identity(proto.graph)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def export_torchscript(model, example, path):
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    traced.eval()
    traced.save(path)


NUMPY_TYPES = {"FP32": "<f4", "INT32": "<i4", "INT64": "<i8"}


def write_tensor(folder, stem, name, tensor, datatype="FP32"):
    data = tensor.detach().contiguous().numpy().astype(NUMPY_TYPES[datatype])
    data.tofile(os.path.join(folder, stem + ".bin"))
    return {"name": name, "datatype": datatype, "shape": list(tensor.shape),
            "file": stem + ".bin"}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_config(folder, spec):
    in_name, in_dims = spec["input"]
    config = {
        "name": spec["name"],
        "kind": spec["kind"],
        "max_batch_size": spec.get("max_batch_size", MAX_BATCH_SIZE),
        "inputs": [{"name": in_name, "datatype": "FP32", "shape": [-1] + in_dims}],
        "outputs": [{"name": name, "datatype": datatype, "shape": [-1] + dims}
                    for name, dims, datatype in outputs_of(spec)],
        "engines": {e: {"file": ENGINE_FILES[e], **spec.get("engine_options", {}).get(e, {})}
                    for e in spec.get("engines", ["onnx", "torchscript"])},
        "reference": "reference.json",
        "generator": {"tool": "tools/gen_models.py", "version": GENERATOR_VERSION,
                      "seed": SEED, "weights": "seeded random"},
    }
    if "engine_preference" in spec:
        config["engine_preference"] = spec["engine_preference"]
    config.update(spec.get("processing", {}))
    write_json(os.path.join(folder, "config.json"), config)


def generate(folder, spec):
    os.makedirs(folder, exist_ok=True)
    stamp_path = os.path.join(folder, STAMP_FILE)
    if os.path.exists(stamp_path):
        os.remove(stamp_path)  # a half-written folder must never look cached
    model = build_model(spec)
    x = reference_input(spec)
    with torch.no_grad():
        y = model(x)
    if spec.get("script"):
        # Eager PyTorch computes the reference; the engine tests check the scripted file against it.
        scripted = torch.jit.script(model)
        scripted.save(os.path.join(folder, "model.pt"))
        outputs = [write_tensor(folder, "reference_output_" + name, name, t, datatype)
                   for (name, _, datatype), t in zip(outputs_of(spec), y)]
    else:
        export_onnx(model, x, spec, os.path.join(folder, "model.onnx"))
        export_torchscript(model, x, os.path.join(folder, "model.pt"))
        outputs = [write_tensor(folder, "reference_output", spec["output"][0], y)]
    write_json(os.path.join(folder, "reference.json"), {
        "inputs": [write_tensor(folder, "reference_input", spec["input"][0], x)],
        "outputs": outputs,
        "computed_by": "torch " + torch.__version__ + " (eval, float32, CPU)",
    })
    if "class_names" in spec:
        with open(os.path.join(folder, "classes.txt"), "w") as f:
            f.write("\n".join(spec["class_names"]) + "\n")
    write_config(folder, spec)
    write_json(stamp_path, stamp_for(spec))


def default_out():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out(), help="model repository folder")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    for name in [m for m in args.models.split(",") if m]:
        if name not in MODELS:
            sys.exit(f"unknown model '{name}' (known: {', '.join(MODELS)})")
        folder = os.path.join(args.out, name)
        if not args.force and is_cached(folder, MODELS[name]):
            print(f"{name}: cached in {folder}")
            continue
        start = time.monotonic()
        generate(folder, MODELS[name])
        print(f"{name}: generated in {folder} ({time.monotonic() - start:.1f} s)")


if __name__ == "__main__":
    main()
