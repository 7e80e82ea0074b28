"""UltraPixel (NeurIPS 2024) on diffusers' Stable Cascade models: guidance blocks, the official GDF
sampler, key conversion for the official checkpoints, tiled Stage A decode, and the methods.

Importing this package imports nothing heavy; torch-based modules are imported where used.
"""

from ultrabench.ultrapixel.method import TinyUltraPixel, UltraPixel

__all__ = ["UltraPixel", "TinyUltraPixel"]
