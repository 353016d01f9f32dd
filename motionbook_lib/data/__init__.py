"""Motion data: the deterministic synthetic corpus (``synthetic``), quality metrics (``quality``) and motion stores."""
