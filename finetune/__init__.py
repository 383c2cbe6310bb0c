"""Training, evaluation and (later) retraining of Helpline models. Writes model directories that bot/ reads."""

PROG = "python -m finetune"   # what its commands' --help and errors are named after (bot/cli's parser shape)
