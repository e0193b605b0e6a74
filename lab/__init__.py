"""lab: pretrain a small transformer on a synthetic language, then teach it new facts in context or by fine-tuning."""
