"""Installation qualification: ``trialsim qualify`` (docs/qualification.md)."""
