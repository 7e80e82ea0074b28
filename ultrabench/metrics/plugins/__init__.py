"""Built-in metric plugins, one module per feature extractor; `ultrabench.metrics.registry` imports
every module here and registers the `FeatureExtractor` subclasses it defines."""
