"""The quantized model container: an ordered list of layers holding numpy constants.

File format: one ``.npz`` (no pickles) whose entry ``meta.json`` is the UTF-8 JSON metadata
(format name, version, scheme, model config, per-layer kind/name/precision/attributes) and whose
other entries are the arrays, named ``L{index}.{array}`` and ``table.{name}``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile

import numpy as np

FORMAT = "rnnse-qmodel"
VERSION = 1
SCHEMES = ("fp16", "mixed", "mixed+", "int8", "int8+")
KINDS = ("quant", "dequant", "fc", "lstm", "gru")

# arrays kept for analysis only; the firmware does not store them
HOST_ONLY_ARRAYS = ("w_scale", "w_scale_ih", "w_scale_hh")


class QModelError(ValueError):
    """A quantized-model file that cannot be used (corrupt, wrong format or version)."""


@dataclasses.dataclass
class Layer:
    """One step of the network. ``arrays``: numpy constants; ``attrs``: JSON-able scalars.

    Both are also reachable as attributes (``layer.w``, ``layer.act``).
    """
    kind: str
    name: str
    prec: str = ""                       # "fp16", "int8" or "" for conversions
    arrays: dict = dataclasses.field(default_factory=dict)
    attrs: dict = dataclasses.field(default_factory=dict)

    def __getattr__(self, key):
        d = self.__dict__
        if key in d.get("arrays", {}):
            return d["arrays"][key]
        if key in d.get("attrs", {}):
            return d["attrs"][key]
        raise AttributeError(f"layer {d.get('name')!r} has no constant {key!r}")

    def params(self) -> dict:
        """Every constant as keyword arguments for the per-layer golden functions."""
        return {**self.attrs, **self.arrays}


@dataclasses.dataclass
class QuantizedModel:
    scheme: str
    config: dict                          # rnnse.models.ModelConfig as a dict
    layers: list
    tables: dict = dataclasses.field(default_factory=dict)   # "sigmoid", "tanh": int16[257]
    info: dict = dataclasses.field(default_factory=dict)     # calibration method, ranges, source

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer named {name!r}")

    def weight_bytes(self) -> int:
        """Bytes the firmware stores for this model: the exported weight records (weights, biases,
        multipliers and shifts, packed and padded as the kernels read them) and the activation
        tables; the same figure ``rnnse export`` checks against the memory budget."""
        from ..export import pack_model

        return pack_model(self).weight_bytes()

    def summary(self) -> str:
        rows = [f"scheme {self.scheme}, {self.config.get('cell')} hidden {self.config.get('hidden')}, "
                f"{self.weight_bytes()} bytes"]
        for lay in self.layers:
            shapes = ", ".join(f"{k} {a.dtype}{list(a.shape)}" for k, a in lay.arrays.items()
                               if k not in HOST_ONLY_ARRAYS)
            rows.append(f"  {lay.name:8s} {lay.kind:7s} {lay.prec or '-':5s} {shapes}")
        return "\n".join(rows)

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> None:
        path = os.fspath(path)
        arrays = {}
        layers = []
        for i, lay in enumerate(self.layers):
            for k, a in lay.arrays.items():
                arrays[f"L{i}.{k}"] = np.asarray(a)
            layers.append({"kind": lay.kind, "name": lay.name, "prec": lay.prec,
                           "attrs": lay.attrs, "arrays": sorted(lay.arrays)})
        for k, t in self.tables.items():
            arrays[f"table.{k}"] = np.asarray(t)
        meta = {"format": FORMAT, "version": VERSION, "scheme": self.scheme, "config": self.config,
                "tables": sorted(self.tables), "layers": layers, "info": self.info}
        arrays["meta.json"] = np.frombuffer(json.dumps(meta, default=_json_default).encode(), np.uint8)
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "QuantizedModel":
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such quantized model")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise QModelError(f"{path}: not a readable quantized model ({exc})") from None
        if "meta.json" not in data:
            raise QModelError(f"{path}: not a quantized model (no metadata)")
        try:
            meta = json.loads(data.pop("meta.json").tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise QModelError(f"{path}: corrupt metadata ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise QModelError(f"{path}: not a quantized model (format {meta.get('format')!r})"
                              if isinstance(meta, dict) else f"{path}: corrupt metadata")
        if meta.get("version") != VERSION:
            raise QModelError(f"{path}: quantized model version {meta.get('version')!r} is not "
                              f"supported (this rnnse reads version {VERSION}); quantize again")
        try:
            layers = []
            for i, ld in enumerate(meta["layers"]):
                arrays = {k: data[f"L{i}.{k}"] for k in ld["arrays"]}
                layers.append(Layer(ld["kind"], ld["name"], ld["prec"], arrays, dict(ld["attrs"])))
            tables = {k: data[f"table.{k}"] for k in meta["tables"]}
            qm = cls(meta["scheme"], meta["config"], layers, tables, meta.get("info", {}))
        except (KeyError, TypeError) as exc:
            raise QModelError(f"{path}: corrupt quantized model (missing {exc})") from None
        if qm.scheme not in SCHEMES or any(lay.kind not in KINDS for lay in layers):
            raise QModelError(f"{path}: corrupt quantized model (unknown scheme or layer kind)")
        return qm


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
