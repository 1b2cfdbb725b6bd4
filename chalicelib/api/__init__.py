"""The agents' HTTP API: authentication, JSON errors, request/response models, routes."""
