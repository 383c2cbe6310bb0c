"""Serving: the REST API and its guards (body cap, headers, CORS, abuse limits), the chat-turn worker processes,
hot reload of models and the catalogue, deployment settings, and the first start."""
