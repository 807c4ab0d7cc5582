"""Operations exports: incidents and pages (``pagerduty``)."""
