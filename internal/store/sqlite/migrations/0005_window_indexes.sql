-- shiplog schema version 5 (SQLite): the window indexes of Knative scale
-- samples and incidents. The engine reads the samples and incidents of a
-- window across all apps (the Knative cost and incident figures of the
-- Delivery page and /api/v1/metrics): a range of these indexes instead of
-- the whole tables (docs/store.md, "Schema versions").
CREATE INDEX scale_time ON scale (time);
CREATE INDEX incidents_detected ON incidents (detected_at);
