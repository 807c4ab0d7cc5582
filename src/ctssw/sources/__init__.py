"""Sources: locate and parse exports into canonical tables (the store loads them: ctssw.store.LOADERS).

Parsing only: nothing here imports the store.

``git``, ``roster``, ``devlake``, ``canonical``  one module each
``forges/``  GitHub and GitLab exports (pulls / merge requests, reviews, deployments, workflow runs)
``ai/``      AI-assistant and agent usage exports (Copilot, Kiro / Amazon Q Developer, Claude Code,
             Cursor, OpenTelemetry metrics)
``agents``   the rules that recognise AI assistants and agents (bots, reviewers, trailers, footers,
             configuration files); ``git_agents`` applies them to git history
``ops/``     incident and paging exports (PagerDuty)
``common``   reading files and folders, typed columns, timestamps, identities
"""
