"""Prompt sets: the built-in 1,000, local files (txt/csv/jsonl/parquet) and Hugging Face datasets."""

from ultrabench.prompts.loading import Prompt, load_prompts, sample_prompts

__all__ = ["Prompt", "load_prompts", "sample_prompts"]
