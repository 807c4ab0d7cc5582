"""AI-assistant and agent usage exports: GitHub Copilot (``copilot``), Kiro and Amazon Q Developer
(``kiro``, ``qdev``), Claude Code (``claude``), Cursor (``cursor``), OpenTelemetry metrics (``otel``)."""
