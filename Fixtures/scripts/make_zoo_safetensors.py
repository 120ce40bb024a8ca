"""The small zoo members' state dicts as `.safetensors`, written by PyTorch from the SOURCE model
-> Fixtures/zoo/<preset>.safetensors

For each small member of make_zoo_fixtures.py (heo2019-resnet8, akamaster-resnet20,
repdistiller-resnet8, repdistiller-wrn_16_1): the source repository's own model is built (the
constructors of make_zoo_fixtures.presets), the stored `<preset>.npz` is loaded into it with
`load_state_dict(strict=True)`, its float64 logits on inputs.npz's x are checked against the
stored `<preset>-logits.npz` (identical), and `safetensors.torch.save_file(model.state_dict(), ...)`
writes the file (metadata: source file and commit, as recorded in state-dict-keys.json when the
checkout has no .git). The file is read back with
`safetensors.torch.load_file` and loaded strictly again. Same checkouts as make_zoo_fixtures.py:

    python3 Fixtures/scripts/make_zoo_safetensors.py \\
        --bss /tmp/zoo/BSS_distillation --akamaster /tmp/zoo/pytorch_resnet_cifar10 \\
        --repdistiller /tmp/zoo/RepDistiller

Made with PyTorch 2.15.0+cu132 (CPU), safetensors 0.8.0, numpy 2.4.6.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zoo_fixtures as Z  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bss", required=True, help="checkout of bhheo/BSS_distillation")
    ap.add_argument("--akamaster", required=True, help="checkout of akamaster/pytorch_resnet_cifar10")
    ap.add_argument("--repdistiller", required=True, help="checkout of HobbitLong/RepDistiller")
    a = ap.parse_args()
    torch.set_num_threads(1)
    bss = Z.load_module("bss_resnet", os.path.join(a.bss, "models", "resnet.py"))
    aka = Z.load_module("akamaster_resnet", os.path.join(a.akamaster, "resnet.py"))
    rd = {m: Z.load_module(f"repdistiller_{m}", os.path.join(a.repdistiller, "models", f"{m}.py"))
          for m in ["resnet", "wrn", "vgg", "mobilenetv2", "ShuffleNetv1", "ShuffleNetv2"]}
    import torchvision.models as tv
    checkouts = {"bhheo/BSS_distillation": a.bss, "akamaster/pytorch_resnet_cifar10": a.akamaster,
                 "HobbitLong/RepDistiller": a.repdistiller}
    x = torch.from_numpy(np.load(os.path.join(Z.OUT, "inputs.npz"))["x"])
    table = Z.presets(bss, aka, rd, tv)
    with open(os.path.join(Z.OUT, "state-dict-keys.json")) as fh:
        recorded = json.load(fh)
    for name in Z.SMALL:
        make, classes, source = table[name][:3]
        model = make().eval()
        stored = np.load(os.path.join(Z.OUT, f"{name}.npz"))
        model.load_state_dict({k: torch.from_numpy(stored[k]) for k in stored.files}, strict=True)
        with torch.no_grad():
            logits = model.double()(x.double()).numpy().astype(np.float32)
        model.float()
        expected = np.load(os.path.join(Z.OUT, f"{name}-logits.npz"))["logits"]
        assert np.array_equal(logits, expected), (name, np.abs(logits - expected).max())
        path = os.path.join(Z.OUT, f"{name}.safetensors")
        repo = source.split(" ")[0]
        commit = Z.commit_of(checkouts[repo])
        if commit == "unknown":     # a checkout without .git (an archive of the recorded commit)
            commit = recorded[name]["commit"]
        save_file(model.state_dict(), path, metadata={"source": source, "commit": commit})
        again = make().eval()
        again.load_state_dict(load_file(path), strict=True)
        for k, v in again.state_dict().items():
            assert torch.equal(v, torch.from_numpy(stored[k])), (name, k)
        print(f"wrote {name}.safetensors ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
