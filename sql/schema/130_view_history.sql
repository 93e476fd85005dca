-- view_history: the views and analytics views as created, with the checksum of the SQL file each
-- was created from. A view is (re)created only when its file changed or the view is missing, under
-- an advisory lock, so concurrent runs never race on CREATE VIEW.
CREATE TABLE IF NOT EXISTS warehouse.view_history (
    view_name  text PRIMARY KEY,
    checksum   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
