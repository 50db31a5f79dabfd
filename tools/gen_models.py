#!/usr/bin/python3
"""Generates Batchwise's reference models into a model repository folder.

Weights are seeded random (no pretrained weights can be downloaded here). For every model the
folder gets model.onnx (loadable by OpenCV 4.6 DNN), model.pt (TorchScript, traced in eval mode),
reference input/output tensors computed by PyTorch, and config.json. The format is documented in
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
}


def stamp_for(spec):
    return {"generator_version": GENERATOR_VERSION, "seed": SEED, "opset": ONNX_OPSET,
            "reference_batch": REFERENCE_BATCH, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "model": spec["name"]}


MODEL_FILES = ["config.json", "model.onnx", "model.pt", "reference.json",
               "reference_input.bin", "reference_output.bin"]


def is_cached(folder, spec):
    try:
        with open(os.path.join(folder, STAMP_FILE)) as f:
            if json.load(f) != stamp_for(spec):
                return False
    except (OSError, ValueError):
        return False
    return all(os.path.isfile(os.path.join(folder, f)) for f in MODEL_FILES)


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
    generator = torch.Generator().manual_seed(SEED + 1)
    calibrate_batchnorm(model, spec["input"][1], generator)
    return model.eval()


def reference_input(spec):
    generator = torch.Generator().manual_seed(SEED + 2)
    return torch.randn([REFERENCE_BATCH] + spec["input"][1], generator=generator)


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


def write_tensor(folder, stem, name, tensor):
    data = tensor.detach().contiguous().numpy().astype("<f4")
    data.tofile(os.path.join(folder, stem + ".bin"))
    return {"name": name, "datatype": "FP32", "shape": list(tensor.shape), "file": stem + ".bin"}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_config(folder, spec):
    in_name, in_dims = spec["input"]
    out_name, out_dims = spec["output"]
    config = {
        "name": spec["name"],
        "kind": spec["kind"],
        "max_batch_size": MAX_BATCH_SIZE,
        "inputs": [{"name": in_name, "datatype": "FP32", "shape": [-1] + in_dims}],
        "outputs": [{"name": out_name, "datatype": "FP32", "shape": [-1] + out_dims}],
        "engines": {"onnx": {"file": "model.onnx"}, "torchscript": {"file": "model.pt"}},
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
    export_onnx(model, x, spec, os.path.join(folder, "model.onnx"))
    export_torchscript(model, x, os.path.join(folder, "model.pt"))
    write_json(os.path.join(folder, "reference.json"), {
        "inputs": [write_tensor(folder, "reference_input", spec["input"][0], x)],
        "outputs": [write_tensor(folder, "reference_output", spec["output"][0], y)],
        "computed_by": "torch " + torch.__version__ + " (eval, float32, CPU)",
    })
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
