"""One-off probes of a pretrained model: what it binds in context, where fine-tuning's answers come from."""
