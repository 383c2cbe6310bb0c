"""Training, evaluation and (later) retraining of Helpline models. Writes model directories that bot/ reads."""
