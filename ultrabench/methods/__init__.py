"""Generation methods: the interface (`base`) and the registry that finds them."""

from ultrabench.methods.base import GeneratedImage, Method, Rule, SizePlan, Support, at_least, between, one_of

__all__ = ["GeneratedImage", "Method", "Rule", "SizePlan", "Support", "at_least", "between", "one_of"]
