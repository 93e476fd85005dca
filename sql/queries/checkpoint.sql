-- Writes every dirty buffer out now, so that what one measurement wrote is not written during the
-- next one (the benchmark's limit writes about a gigabyte that the server would otherwise still be
-- flushing while the warehouse loads).
CHECKPOINT
