"""Generation methods: the interface (`base`) and the registry that finds them."""

from ultrabench.methods.base import GeneratedImage, Method, SizePlan, Support

__all__ = ["GeneratedImage", "Method", "SizePlan", "Support"]
