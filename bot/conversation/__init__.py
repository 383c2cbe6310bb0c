"""One customer turn end to end (service.Helpline): redaction, the dialogue policy, triage priority."""
