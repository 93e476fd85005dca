"""Software-defined assets: products, sales, views and the analytics layer."""
