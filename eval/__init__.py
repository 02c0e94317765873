"""Evaluation: diversity metrics (`eval.metrics`), frame and text features (`eval.features`),
VBench prompts (`eval.prompts`) and the method benchmark (`python -m eval.benchmark`)."""
