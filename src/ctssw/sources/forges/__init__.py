"""Code-forge exports: GitHub (``github``) and GitLab (``gitlab``)."""
