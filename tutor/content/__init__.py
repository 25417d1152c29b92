"""The competency framework and the lessons: schema, loading and checks; the CASE publication; `/v1/skills` and lessons routes; `tutor content`."""
