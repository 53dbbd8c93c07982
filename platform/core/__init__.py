"""The shared API layer below every app: agent-token authentication
(agent_auth), the read rule (access), pagination, error bodies (errors), the
rate limit of authentication failures (ratelimit) and the environment
readers of settings (env).

Every app may import core; core imports no app (only Django and DRF), so it
can sit under all of them without an import cycle. tests/platform/test_core_layer.py
holds it to that."""
