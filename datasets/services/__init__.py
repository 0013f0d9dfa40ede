"""Writes of the datasets app. Split by subject: areas and reference data (`registry`, `reference`), uploads and
ingestion (`uploads`, with the plain-pandas checks in `validation`), and feature tables (`snapshots`)."""
