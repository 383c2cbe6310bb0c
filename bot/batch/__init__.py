"""The batch feature: transcript files (transcripts.py, also what finetune/ reads), `python -m bot analyze`
(analyze.py), where it runs the model (engines.py: a process per core, or a Ray Data job) and its report
(report.py: conversations.csv and a self-contained report.html)."""
