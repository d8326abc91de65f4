"""A partner's remittance details: its bank account (changed only once the CRC confirms the change),
remittance email and purchase order numbers per contract, as printed on its invoices."""
