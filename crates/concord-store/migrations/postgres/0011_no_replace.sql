-- PostgreSQL has no `INSERT OR REPLACE`; `INSERT .. ON CONFLICT DO UPDATE`
-- fires the BEFORE UPDATE triggers of 0001 and 0007, which refuse it. This
-- version exists so both backends count migrations alike.
SELECT 1;
