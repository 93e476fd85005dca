-- Create a database (the identifier is quoted by the caller).
CREATE DATABASE {name}
