"""Bad model files, each with the words its one-line error must contain (tests of model loading and
of the commands that load models)."""
import os
import shlex

import torch

from rnnse.models import ModelConfig, SEModel, save_checkpoint


class RunsCode:
    """Unpickling this object runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(self.marker)}",)


def tiny_checkpoint(path, cell="gru", **meta):
    save_checkpoint(path, SEModel(ModelConfig(cell=cell, hidden=16, fc_in=8, fc_out=8, input_roots=2)), **meta)
    return path


def code_checkpoint(folder, marker):
    """A checkpoint of the right format whose config would run code when unpickled."""
    path = os.path.join(folder, "runs-code.pt")
    torch.save({"format": "rnnse-checkpoint-1", "config": RunsCode(marker), "state_dict": {}}, path)
    return path


def _edited(folder, name, edit):
    ck = torch.load(tiny_checkpoint(os.path.join(folder, "tiny.pt")), weights_only=True)
    edit(ck)
    torch.save(ck, os.path.join(folder, name))
    return os.path.join(folder, name)


def bad_model_files(folder) -> dict:
    """{name: (path, words of the error)} for every kind of bad model file."""
    os.makedirs(folder, exist_ok=True)
    good = open(tiny_checkpoint(os.path.join(folder, "good.pt")), "rb").read()
    files = {"random": os.urandom(4096), "empty": b"", "truncated": good[:len(good) // 2]}
    out = {}
    for name, data in files.items():
        path = os.path.join(folder, f"{name}.pt")
        with open(path, "wb") as f:
            f.write(data)
        out[name] = (path, "empty or truncated" if name == "empty" else "corrupt or not a PyTorch checkpoint")
    torch.save({"weights": torch.zeros(3)}, os.path.join(folder, "other.pt"))
    out["other"] = (os.path.join(folder, "other.pt"), "not an rnnse checkpoint")
    out["lstm-config"] = (_edited(folder, "lstm-config.pt", lambda c: c["config"].update(cell="lstm")),
                          "has shape")
    out["missing-key"] = (_edited(folder, "missing-key.pt", lambda c: c["state_dict"].pop("in_scale")),
                          "missing in_scale")
    out["extra-key"] = (_edited(folder, "extra-key.pt", lambda c: c["state_dict"].update(x=torch.zeros(1))),
                        "unexpected x")
    out["wrong-shape"] = (_edited(folder, "wrong-shape.pt",
                                  lambda c: c["state_dict"].update({"fc_in.bias": torch.zeros(9)})),
                          "fc_in.bias has shape (9,)")
    out["bad-config"] = (_edited(folder, "bad-config.pt", lambda c: c["config"].update(hidden="16")),
                         "hidden is '16', not an integer")
    os.makedirs(os.path.join(folder, "empty-dir"), exist_ok=True)
    out["dir-without-model"] = (os.path.join(folder, "empty-dir"), "no model.pt")
    return out
