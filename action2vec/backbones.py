"""The clip-feature backbones by name, with the feature size of each layer they offer.

Kept free of torch so that params.yaml is validated before any heavy import. The networks are
in c3d.py and i3d.py; the extractors that run them are in extractors.py, one per name here.
"""

LAYERS = {
    "c3d": {"fc6": 4096, "fc7": 4096},
    "i3d": {"mixed_5c": 1024},
}
