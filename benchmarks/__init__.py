"""Speed: the lab's train step, batched fine-tuning and decoding timed, profiled, and set beside PyTorch."""
