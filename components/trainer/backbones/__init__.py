"""Pretrained image backbones in Keras, with weights converted from files that work offline."""
