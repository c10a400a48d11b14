"""Frozen ImageNet-trained CNNs that turn images into named feature maps, and the Gram matrix.

Every network takes images in [0, 1] (its own input normalisation is inside) and returns a dict
`{layer name: feature map}` for the layers asked for. The style encoder reads Gram matrices of
`style_layers`; the perceptual losses read `content_layer`.
"""

from waestyle.features.base import FeatureNetwork, gram
from waestyle.features.registry import FEATURE_NETWORKS, load_feature_network, load_loss_network

__all__ = ["FEATURE_NETWORKS", "FeatureNetwork", "gram", "load_feature_network", "load_loss_network"]
