"""Reference data a CRC's administrators manage: counties, prisons and probation offices."""
