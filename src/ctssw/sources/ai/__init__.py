"""AI-assistant and agent usage exports: GitHub Copilot (``copilot``), Amazon Q Developer (``qdev``)."""
