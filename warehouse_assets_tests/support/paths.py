"""Where things are: the project, its SQL, and the real data beside the checkout."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_DIR / "sql"
REALDATA = PROJECT_DIR.parent / "shared" / "realdata"
HEADER = "transaction_id,transaction_date,customer_id,customer_name,city,country,product_id,quantity,unit_price,total_amount,payment_method"
